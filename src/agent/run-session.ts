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
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { WallClock } from '../model/clock.js';
import { createPipeline, type PublishedTrace } from '../pipeline/pipeline.js';
import { runContextCollector } from '../pipeline/context.js';
import { createBuildHistory } from '../pipeline/build-history.js';
import { RUN_DRAIN_MILLIS, RUN_PIPELINE_SETTINGS } from '../pipeline/run-settings.js';
import { createResourceCache } from '../export/resource-cache.js';
import { renderRunSummary } from '../export/summary.js';
import type { FollowClient } from './run-router.js';

/**
 * A trace whose serialized spans pass this is cut short (said in the summary) rather than
 * growing the agent (a cold `go build -a` of 11 std packages is ~1 MB; at most MAX_AGENT_RUNS at once).
 */
export const MAX_RUN_TRACE_BYTES = 64 * 1024 * 1024;
const NEWLINE = Buffer.from('\n');

export interface AgentRunOptions {
  shimPid: number;
  /** the requesting user (the shim's real uid) */
  uid: number;
  evidenceThresholdNs: number;
  /** the tracer's thresholds, for the R record run's own tracer would print */
  thresholds: { syscallThresholdNs: number; offcpuThresholdNs: number };
  clock: WallClock;
  /** the build history's directory for this user, or undefined (--no-history) */
  historyDir: string | undefined;
  procRoot?: string;
}

export interface AgentRun {
  /** records of the tree, as the router hands them over */
  client: FollowClient;
  /**
   * CMD has exited: wait for its tree's exit records (at most RUN_DRAIN_MILLIS), then for
   * the tracer to be drained, then publish; out is only named in the summary
   */
  finish(out: string, tracerDrained: () => Promise<void>): Promise<{ summary: string; trace: Buffer }>;
  /** the client is gone before finish: the trace is dropped (its /proc polling ends with it) */
  abandon(): void;
}

/** A process's parent and start time (clock ticks since boot) from /proc/PID/stat. */
function statOf(pid: number, procRoot: string): { ppid: number; start: string } {
  const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), start: f[19]! };
}

/**
 * The environment the client was started with: its parent's, when that is the same user's
 * process (real, effective and saved uid) — and still the same process after it was read (its
 * start time), not a pid handed out anew to someone else's meanwhile.
 */
export function clientEnvironment(shimPid: number, uid: number, procRoot = '/proc'): NodeJS.ProcessEnv {
  try {
    const { ppid } = statOf(shimPid, procRoot);
    const before = statOf(ppid, procRoot).start;
    const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`${procRoot}/${ppid}/status`, 'utf8'));
    if (!uids || uids.slice(1).some((u) => Number(u) !== uid)) return {};
    const environ = readFileSync(`${procRoot}/${ppid}/environ`);
    if (statOf(ppid, procRoot).start !== before) return {};
    const env: NodeJS.ProcessEnv = {};
    for (const entry of environ.toString('utf8').split('\0')) {
      const eq = entry.indexOf('=', 1);
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch { return {}; }
}

export function startAgentRun(opts: AgentRunOptions): AgentRun {
  const { shimPid, clock } = opts;
  const env = clientEnvironment(shimPid, opts.uid, opts.procRoot);
  const lines: Buffer[] = [];
  let traceBytes = 0;
  let cut = false;
  let published: PublishedTrace | undefined;
  let failed: string | undefined;
  let finishing = false;
  let treeComplete!: () => void;
  const complete = new Promise<void>((r) => { treeComplete = r; });
  const pipeline = createPipeline({
    settings: { ...RUN_PIPELINE_SETTINGS, evidenceThresholdNs: opts.evidenceThresholdNs },
    clock, context: runContextCollector(shimPid, env), resourceFor: createResourceCache(env),
    buildHistory: opts.historyDir === undefined ? undefined : createBuildHistory({ dir: opts.historyDir }),
    emit: (spans) => {
      if (spans.length === 0 || cut) return;
      const body = JsonTraceSerializer.serializeRequest(spans);
      if (!body) return;
      if (traceBytes + body.length > MAX_RUN_TRACE_BYTES) { cut = true; return; }
      lines.push(Buffer.from(body), NEWLINE);
      traceBytes += body.length + 1;
    },
    onTracePublished: (t) => { if (t.root.pid === shimPid) published = t; },
    onTreeComplete: () => treeComplete(),
  });
  // the agent's probe has no R record for this root: the one run's own tracer would print
  const { syscallThresholdNs, offcpuThresholdNs } = opts.thresholds;
  pipeline.feedLine(`R\t${clock.nowMonotonicNs()}\t${shimPid}\t${syscallThresholdNs}\t${offcpuThresholdNs}`);

  return {
    client: {
      send(batch) { for (const l of batch) pipeline.feedLine(l); },
      fail(message) { failed ??= message; },
    },
    abandon() {
      if (finishing) return;
      finishing = true;
      cut = true;
      lines.length = 0;
      void pipeline.finish(clock.nowMonotonicNs()).catch(() => {});
    },
    async finish(out, tracerDrained) {
      if (finishing) throw new Error('the trace is finished already');
      finishing = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([complete, new Promise((r) => { timer = setTimeout(r, RUN_DRAIN_MILLIS); })]);
      clearTimeout(timer);

      const endNs = clock.nowMonotonicNs();
      if (failed === undefined) await tracerDrained();
      await pipeline.finish(endNs);
      if (!published) throw new Error('the command\'s process tree was not seen');
      const problems = [
        ...(failed ? [failed] : []),
        ...(cut ? [`the trace passed ${MAX_RUN_TRACE_BYTES >> 20} MiB in the agent and was cut short`] : []),
      ];
      const summary = renderRunSummary({
        published, endNs, stats: pipeline.stats,
        destinations: [`written to ${out}`], exportProblems: [], traceProblems: problems,
      });
      return { summary, trace: Buffer.concat(lines) };
    },
  };
}
