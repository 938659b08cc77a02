/**
 * A `gostall run` whose trace the agent builds itself: the `run` request of bin/gostall's
 * fast path (./run-protocol.ts), which leaves Node out of the user's wait. The records of the
 * followed tree (./run-router.ts) go through the same pipeline with the same settings as in
 * run (src/pipeline/run-settings.ts), as they arrive; the agent's JIT is warm and nothing is
 * loaded per run. At `finish` the trace is ended as run ends it (the tree's exit records,
 * then the tracer drained) and handed back as OTLP JSON lines plus run's summary: the client
 * writes the file with its own uid, so the agent never opens a path a user named.
 *
 * What run reads from its own environment is read from the client's (the shim's parent,
 * which keeps the environment it was started with), only when that process is the
 * requesting user's: the trace goes back to that user.
 */
import { readFileSync } from 'node:fs';
import type { WallClock } from '../model/clock.js';
import { readProcessEnviron } from '../diagnose/context-go-env.js';
import { createBuildHistory, type ClientHistory } from '../pipeline/build-history.js';
import { RUN_DRAIN_MILLIS, runReadyRecord } from '../pipeline/run-settings.js';
import { createRunTrace } from '../pipeline/run-trace.js';
import type { PublishedTrace } from '../pipeline/types.js';
import { readStat } from '../vocabulary/procfs.js';
import { otlpJsonLine } from '../export/otlp-json-line.js';
import { createResourceCache } from '../export/resource-cache.js';
import { renderRunSummary } from '../export/summary.js';
import { diagnosisJsonText } from '../export/diagnosis-json.js';

/**
 * A trace whose serialized spans pass this is cut short (said in the summary) rather than
 * growing the agent (a cold `go build -a` of 11 std packages is ~1 MB; at most MAX_AGENT_RUNS at once).
 */
export const MAX_RUN_TRACE_BYTES = 64 * 1024 * 1024;
/**
 * --html: a page is made only for a trace up to this size. Making it holds the agent's event
 * loop (31-80 ms for a 1.5 MB trace of a cold `go build -a` of 11 std packages), and a run
 * asked meanwhile waits for its `accepted`; reading the trace back also holds several times
 * its size. Beyond, the client says how to make the page from the file.
 */
export const MAX_RUN_PAGE_TRACE_BYTES = 4 * 1024 * 1024;

export interface AgentRunOptions {
  shimPid: number;
  /** the client's environment (clientEnvironment), read when the request came */
  env: NodeJS.ProcessEnv;
  evidenceThresholdNs: number;
  /** the tracer's thresholds, for the R record run's own tracer would print */
  thresholds: { syscallThresholdNs: number; offcpuThresholdNs: number };
  clock: WallClock;
  /**
   * the build history: the user's own, read and written by the client (bin/gostall); else
   * (a client from before) a directory of the agent's for this user; undefined: --no-history
   */
  history: { client: ClientHistory } | { dir: string } | undefined;
  /** --json: the diagnosis as JSON is handed back with the trace */
  json?: boolean;
  /** --html: the report page is handed back with the trace */
  html?: boolean;
  /** resolves once every record the agent's tracer had produced by then has been read */
  tracerDrained: () => Promise<void>;
}

export interface AgentRun {
  /** records of the tree, as the router hands them over */
  feed(lines: string[]): void;
  /**
   * CMD has exited: the trace as built once its tree's exit records were in (at most
   * RUN_DRAIN_MILLIS from now) and the tracer drained; out is only named in the summary;
   * json: the --json file's text, when the run asked for it
   */
  finish(out: string): Promise<{ summary: string; trace: Buffer; json?: string; html?: string }>;
  /** the client is gone before finish: the trace is dropped (its /proc polling ends with it) */
  abandon(): void;
  /**
   * Records the trace's builds in the user's history: called once the client has its
   * trace, so the file writes (0.1-3 ms on ext4, more under load) are not in its wait.
   */
  saveHistory(): void;
}

/**
 * The environment the client was started with: its parent's, when that is the same user's
 * process (real, effective and saved uid) — and still the same process after it was read (its
 * start time), not a pid handed out anew to someone else's meanwhile.
 */
export function clientEnvironment(shimPid: number, uid: number, procRoot = '/proc'): NodeJS.ProcessEnv {
  const ppid = readStat(shimPid, procRoot)?.ppid;
  const before = ppid === undefined ? undefined : readStat(ppid, procRoot)?.startTicks;
  if (before === undefined) return {};
  let uids: RegExpExecArray | null = null;
  try { uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`${procRoot}/${ppid}/status`, 'utf8')); } catch { return {}; }
  if (!uids || uids.slice(1).some((u) => Number(u) !== uid)) return {};
  const env = readProcessEnviron(ppid!, procRoot);
  return env !== undefined && readStat(ppid!, procRoot)?.startTicks === before ? env : {};
}

export function startAgentRun(opts: AgentRunOptions): AgentRun {
  const { shimPid, clock, env } = opts;
  const lines: Buffer[] = [];
  let traceBytes = 0;
  let cut = false;
  let asked = false;
  let abandoned = false;
  const history = opts.history && createBuildHistory(opts.history);
  // a client's records go back with the trace; the agent's own directory is written after it
  const recordNow = opts.history !== undefined && 'client' in opts.history;
  const saves: (() => void)[] = [];
  const trace = createRunTrace({
    rootPid: shimPid, env, clock, evidenceThresholdNs: opts.evidenceThresholdNs,
    // compared while the trace is built, recorded after it is handed back (saveHistory)
    buildHistory: history && {
      compare: async (root, ctx) => {
        const c = await history.compare(root, ctx);
        return { findings: c.findings, commit: recordNow ? c.commit : () => { saves.push(c.commit); } };
      },
      takeNotices: () => history.takeNotices(),
    },
    resourceFor: createResourceCache(env),
    emit: (spans) => {
      if (cut) return;
      const line = otlpJsonLine(spans);
      if (traceBytes + line.length > MAX_RUN_TRACE_BYTES) { cut = true; return; }
      lines.push(line);
      traceBytes += line.length;
    },
  });
  const { pipeline } = trace;
  pipeline.feedLine(runReadyRecord(clock.nowMonotonicNs(), shimPid, opts.thresholds));

  // The trace is built as soon as the tree's exit records are in, before the client asks:
  // the client learns of CMD's exit only once the kernel has torn the process down (1-2 ms
  // for a Go program's address space), and the drain and publish overlap that.
  let built: Promise<{ published: PublishedTrace; endNs: number }> | undefined;
  const build = () => (built ??= (async () => {
    const endNs = clock.nowMonotonicNs();
    await opts.tracerDrained();
    await pipeline.finish(endNs);
    const published = trace.published();
    if (!published) throw new Error('the command\'s process tree was not seen');
    return { published, endNs };
  })());
  void trace.complete.then(() => { if (!abandoned) build().catch(() => { /* said at finish */ }); });

  return {
    feed(batch) { for (const l of batch) pipeline.feedLine(l); },
    saveHistory() {
      for (const save of saves.splice(0)) save();
      for (const n of history?.takeNotices() ?? []) process.stderr.write(`gostall: ${n}\n`);
    },
    abandon() {
      if (asked || abandoned) return;
      abandoned = true;
      cut = true;
      lines.length = 0;
      if (!built) void pipeline.finish(clock.nowMonotonicNs()).catch(() => {});
    },
    async finish(out) {
      if (asked || abandoned) throw new Error('finish was already asked');
      asked = true;
      if (!built) {
        // a process of the tree still running (a daemon CMD left behind): as run waits for it
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([trace.complete, new Promise((r) => { timer = setTimeout(r, RUN_DRAIN_MILLIS); })]);
        clearTimeout(timer);
      }
      const { published, endNs } = await build();
      const summary = renderRunSummary({
        published, endNs, stats: pipeline.stats, destinations: [`written to ${out}`], exportProblems: [],
        traceProblems: cut ? [`the trace passed ${MAX_RUN_TRACE_BYTES >> 20} MiB in the agent and was cut short`] : [],
      });
      const json = opts.json ? diagnosisJsonText(published.root, published, endNs) : undefined;
      const otlp = Buffer.concat(lines);
      // (loaded at the first run that asks: most never do)
      const html = opts.html && otlp.length <= MAX_RUN_PAGE_TRACE_BYTES ? await (await import('../report/report.js')).htmlPageOf(otlp) : undefined;
      return { summary, trace: otlp, ...(json !== undefined ? { json } : {}), ...(html !== undefined ? { html } : {}) };
    },
  };
}
