/**
 * gostall run [--out FILE] [--endpoint URL] [--protocol P] [--threshold DUR] [--json FILE] [--html FILE] [--raw FILE] -- CMD ARGS…
 *
 * Order matters: CMD starts as a shim blocked on a pipe, the tracer is started with the
 * shim's pid as its root and attaches, then the shim is released and execs CMD, so CMD's
 * first instruction is already traced. CMD inherits stdin/stdout/stderr untouched; the
 * tracer's output never shares a descriptor with it.
 */
import type { ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { constants as osConstants } from 'node:os';
import { MAX_LINE_LENGTH } from '../events/parse.js';
import { createWallClock } from '../model/clock.js';
import { checkTracingEnvironment, findBpftrace } from '../probe-runner/environment.js';
import { perfPagesFromEnv, startTracer } from '../probe-runner/bpftrace.js';
import { runContextCollector } from '../pipeline/context.js';
import { createPipeline, type Pipeline, type PublishedTrace } from '../pipeline/pipeline.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createResourceCache } from '../export/resource-cache.js';
import { createSink, type Sink } from '../export/sink.js';
import { renderSummary } from '../export/summary.js';
import { writeDiagnosisJson } from '../export/diagnosis-json.js';
import { UsageError, parseDuration, splitCommand, EXPORT_FLAGS, exportSettingsOption } from './options.js';
import { openRawCapture, type RawCapture } from './raw-capture.js';
import { spawnShim } from './shim.js';
import { askAgent, type AgentFollow } from './run-via-agent.js';

export const RUN_USAGE = `usage: gostall run [options] -- CMD [ARGS…]

Traces CMD and all its descendants with eBPF and writes an OpenTelemetry trace that says
where the time went and why. CMD's stdin/stdout/stderr are untouched; gostall exits with
CMD's exit code (128+signal when it was killed). A summary goes to stderr.

options:
  --out FILE         write the trace as OTLP JSON lines (default when no collector is
                     configured: ~/.local/state/gostall/traces/<time>-<cmd>.otlp.jsonl)
  --endpoint URL     send to an OTLP collector (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)
  --protocol P       http/protobuf (default), http/json or grpc (default: OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL)
  --threshold DUR    slowest syscalls and off-CPU waits at least this long become spans (default 50ms)
  --json FILE        also write the diagnosis (causes, evidence, hints) as JSON ("-" for stdout)
  --html FILE        also write the trace as one self-contained page (waterfall, evidence, causes)
  --raw FILE         also save the raw probe stream; \`gostall replay FILE\` turns it into the same spans
  -h, --help         this text
`;

/** Syscalls at or above this become evidence spans by default: cold reads from local disk were
 *  measured at up to ~10 ms on the reference VM, so 50 ms leaves a 5x margin against false evidence. */
export const DEFAULT_THRESHOLD_NS = 50e6;
/** The kernel prints records from this latency on (diagnosis uses them below the span threshold). */
const KERNEL_THRESHOLD_CAP_NS = 1e6;
/** How long the trace may take to reach a collector after CMD ends; a collector that is down costs no more. */
const EXPORT_DEADLINE_MILLIS = 10_000;
/** After CMD exits, how long to wait for the exit records of its descendants. */
const DRAIN_MILLIS = 1500;
/**
 * Then the tracer is ended once its output has been quiet this long: records printed on
 * other CPUs just before the last exit, and "Lost N events" notices, are read by then
 * (bpftrace reads each CPU's buffer as soon as it has data).
 */
const QUIET_MILLIS = 100;
const QUIET_MAX_MILLIS = 1000;
/** run follows one root: the agent's limits and live spans do not apply. */
const RUN_PIPELINE = { episodes: { minDurationNs: 0, mergeGapNs: 0, reportEveryNs: 0, stuckAfterNs: 0 }, windowNs: 0, longLivedNs: Infinity, maxOpenTrees: 1, maxQueuedTrees: 1 };

export interface RunResult { exitCode: number }

/** The user a default trace belongs to: under sudo, the invoking user (not root). */
interface TraceOwner { home: string; uid?: number; gid?: number }

/** Under `sudo`, $SUDO_USER's home from the password database; otherwise our own. */
export function traceOwner(env: NodeJS.ProcessEnv = process.env, passwd = readPasswd()): TraceOwner {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (process.getuid?.() === 0 && env.SUDO_USER && Number.isInteger(uid) && uid > 0 && Number.isInteger(gid)) {
    const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === env.SUDO_USER && Number(f[2]) === uid);
    if (entry?.[5]) return { home: entry[5], uid, gid };
  }
  return { home: homedir() };
}

function readPasswd(): string {
  try { return readFileSync('/etc/passwd', 'utf8'); } catch { return ''; }
}

function defaultOutPath(cmd: string, env: NodeJS.ProcessEnv = process.env): { path: string; owner: TraceOwner } {
  const owner = traceOwner(env);
  // XDG_STATE_HOME is root's own under sudo: the invoking user's default is used instead.
  const base = owner.uid === undefined && env.XDG_STATE_HOME ? env.XDG_STATE_HOME : join(owner.home, '.local/state');
  const dir = join(base, 'gostall/traces');
  mkdirOwned(dir, owner);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const safe = cmd.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'cmd';
  return { path: join(dir, `${stamp}-${safe}.otlp.jsonl`), owner };
}

/** mkdir -p, each directory it creates owned by the trace's owner. */
function mkdirOwned(dir: string, owner: TraceOwner): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined || owner.uid === undefined) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    chownSync(d, owner.uid, owner.gid!);
    if (d === first) break;
  }
}

function signalNumber(name: NodeJS.Signals | null): number {
  if (!name) return 0;
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
}

/** Parse run's own options; throws UsageError with the fix. */
export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const { options, command } = splitCommand(argv);
  const { values } = parseArgs({
    args: options,
    options: {
      ...EXPORT_FLAGS,
      threshold: { type: 'string' },
      json: { type: 'string' },
      html: { type: 'string' },
      raw: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true as const };
  if (command.length === 0) throw new UsageError('gostall run needs a command: gostall run -- go build ./...');
  const thresholdNs = values.threshold !== undefined ? parseDuration(values.threshold, '--threshold') : DEFAULT_THRESHOLD_NS;
  // CMD owns stdout: spans never go there.
  if (values.out === '-') throw new UsageError('--out -: gostall run leaves stdout to the command; give a file name');
  const exportSettings = exportSettingsOption(values, env);
  let perfPagesPerCpu: number | undefined;
  try {
    perfPagesPerCpu = perfPagesFromEnv(env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { help: false as const, command, thresholdNs, exportSettings, json: values.json, html: values.html, raw: values.raw, perfPagesPerCpu };
}

export async function runCommand(argv: string[]): Promise<RunResult> {
  const opts = parseRunOptions(argv);
  if (opts.help) {
    process.stdout.write(RUN_USAGE);
    return { exitCode: 0 };
  }
  const clock = createWallClock();
  const settings = opts.exportSettings;
  for (const n of settings.notices) process.stderr.write(`gostall: ${n}\n`);
  // With no collector named (and export not switched off), the trace goes to a file.
  const wantsDefaultFile = settings.out === undefined && !settings.endpointConfigured && !settings.exportDisabled;
  const defaultOut = wantsDefaultFile ? defaultOutPath(opts.command[0]!.split('/').pop()!) : undefined;
  const outPath = defaultOut?.path ?? settings.out;
  const created = await createSink({ ...settings, out: outPath }, { mode: 'memory', deadlineMillis: EXPORT_DEADLINE_MILLIS });
  if (!created.ok) {
    process.stderr.write(`gostall: ${created.error.message}; fix: choose another --out\n`);
    return { exitCode: 2 };
  }
  if (defaultOut?.owner.uid !== undefined && created.sink.filePath !== undefined) {
    try { chownSync(created.sink.filePath, defaultOut.owner.uid, defaultOut.owner.gid!); } catch { /* written by the first span instead */ }
  }
  const sink: Sink = created.sink;
  let raw: RawCapture | undefined;
  try {
    if (opts.raw !== undefined) raw = await openRawCapture(resolve(opts.raw), clock.toEpochNs(0));
  } catch (err) {
    await sink.shutdown(0);
    process.stderr.write(`gostall: cannot write ${opts.raw}: ${(err as Error).message}; fix: choose another --raw\n`);
    return { exitCode: 2 };
  }

  // The shim (./shim): blocks on fd 3 until the tracer is attached, then becomes CMD,
  // changing nothing. If gostall goes away first, the read fails and CMD never runs.
  const startNs = clock.nowMonotonicNs();
  const shimProc = spawnShim(opts.command);
  const shim = shimProc.child;
  const shimExit = shimProc.exited;
  const shimPid = shimProc.pid;
  const restoreSignals = forwardSignals(shim);

  // Everything from lines to spans is the pipeline's, as for agent and replay; the spans go
  // to the sink as they are made (kept for --html too).
  const spans: ReadableSpan[] = [];
  let published: PublishedTrace | undefined;
  let treeComplete!: () => void;
  const complete = new Promise<void>((r) => { treeComplete = r; });
  const context = runContextCollector(shimPid, process.env);
  const pipeline = createPipeline({
    settings: { ...RUN_PIPELINE, evidenceThresholdNs: opts.thresholdNs },
    clock, context, resourceFor: createResourceCache(process.env),
    emit: (s) => {
      sink.submit(s);
      if (opts.html !== undefined) for (const span of s) spans.push(span);
    },
    onTracePublished: (t) => { if (t.root.pid === shimPid) published = t; },
    onTreeComplete: () => treeComplete(),
  });

  const onLine = (line: string) => {
    raw?.line(line);
    pipeline.feedLine(line);
  };
  // A running agent follows the command if it will (./run-via-agent); else our own bpftrace.
  const asked = await askAgent(shimPid, {
    // the agent's probe has no R record for this root: run writes the one its own would print
    onFollowing: (t) => onLine(`R\t${startNs}\t${shimPid}\t${t.syscallThresholdNs}\t${t.offcpuThresholdNs}`),
    onLine,
  });
  if (!asked.ok && asked.notice) process.stderr.write(`gostall: ${asked.notice}\n`);
  const follower = asked.ok ? agentFollower(asked.follow) : startOwnTracer(shimPid, opts, pipeline, onLine);
  const startup = await Promise.race([
    follower.ready.then(() => ({ ready: true as const }), (err: Error) => ({ ready: false as const, err })),
    shimExit.then((x) => ({ ready: 'interrupted' as const, x })),
  ]);
  if (startup.ready !== true) {
    shim.kill('SIGKILL');
    const x = await shimExit;
    await follower.stop();
    restoreSignals();
    await sink.shutdown(0);
    await raw?.close().catch(() => {});
    if (startup.ready === 'interrupted') {
      process.stderr.write('gostall: interrupted while the probes were attaching; the command was not started\n');
      return { exitCode: x.code ?? 128 + signalNumber(x.signal) };
    }
    process.stderr.write(`gostall: cannot trace: ${startup.err.message}\n`);
    return { exitCode: 2 };
  }
  // The records ending before they are stopped means the trace is cut short.
  let stopping = false;
  let tracerDied: string | undefined;
  void follower.died.then((why) => {
    if (stopping) return;
    tracerDied = why;
    if (asked.ok) process.stderr.write(`gostall: ${why}\n`);
  });

  shimProc.release();
  const exit = await shimExit;
  const exitCode = exit.code ?? 128 + signalNumber(exit.signal);

  // (the timer is cleared: a pending one would keep gostall alive for the rest of it)
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([complete, new Promise((r) => { drainTimer = setTimeout(r, DRAIN_MILLIS); })]);
  clearTimeout(drainTimer);
  const endNs = clock.nowMonotonicNs();
  await follower.quiet(QUIET_MILLIS, QUIET_MAX_MILLIS);
  stopping = true;
  // Everything is read: the probes' detach (about 0.7 s) need not be the user's wait.
  follower.abandon();
  restoreSignals();
  await pipeline.finish(endNs);
  const recorded = context.recorded();
  if (recorded) raw?.context(shimPid, recorded);
  const rawProblem = raw ? await raw.close().then(() => undefined, (err: Error) => `could not write the raw probe stream to ${raw!.path}: ${err.message}`) : undefined;

  await deliver({ opts, sink, spans, published, endNs, rawPath: rawProblem ? undefined : raw?.path, stats: pipeline.stats,
    traceProblems: [
      ...(tracerDied ? [tracerDied] : []),
      ...(rawProblem ? [rawProblem] : []),
      ...(pipeline.stats.orphanRecords > 0 ? [`${pipeline.stats.orphanRecords} probe records named processes outside this trace and were left out`] : []),
    ] });
  return { exitCode };
}

/** Whoever follows the command's tree: our own bpftrace, or a running agent. */
interface Follower {
  /** rejects with the reason (and its fix) when the command cannot be traced */
  ready: Promise<void>;
  quiet(quietMillis: number, maxMillis: number): Promise<void>;
  /** stop reading; nothing more is needed */
  abandon(): void;
  /** stop before the command ran */
  stop(): Promise<void>;
  /** resolves with why, if the records end on their own */
  died: Promise<string>;
}

function agentFollower(f: AgentFollow): Follower {
  return { ready: Promise.resolve(), quiet: f.quiet, abandon: f.close, stop: async () => f.close(), died: f.ended };
}

function startOwnTracer(shimPid: number, opts: { thresholdNs: number; perfPagesPerCpu: number | undefined }, pipeline: Pipeline, onLine: (line: string) => void): Follower {
  const problems = checkTracingEnvironment();
  if (problems.length > 0) {
    const p = problems[0]!;
    const never = new Promise<string>(() => {});
    return { ready: Promise.reject(new Error(`${p.what}; fix: ${p.fix}`)), quiet: async () => {}, abandon() {}, stop: async () => {}, died: never };
  }
  const kernelThreshold = Math.min(opts.thresholdNs, KERNEL_THRESHOLD_CAP_NS);
  const tracer = startTracer({
    bpftrace: findBpftrace()!,
    params: { rootPid: shimPid, syscallThresholdNs: kernelThreshold, offcpuThresholdNs: kernelThreshold },
    perfPagesPerCpu: opts.perfPagesPerCpu,
    maxLineBytes: MAX_LINE_LENGTH + 1,
    onLine(line, stream) {
      if (stream === 'stdout') onLine(line);
    },
    onTooLong(stream) {
      if (stream === 'stdout') pipeline.malformed('line too long');
    },
  });
  return {
    ready: tracer.ready.catch((err: Error) => { throw new Error(`${err.message}; fix: run \`gostall doctor\` to see what is missing`); }),
    quiet: (q, m) => tracer.quiet(q, m),
    abandon: () => tracer.abandon(),
    stop: () => tracer.stop().then(() => undefined, () => undefined),
    died: tracer.exited.then((x) => `bpftrace exited while the command was running (${x.code !== undefined ? `code ${x.code}` : x.signal}): the trace ends there`),
  };
}

/**
 * Ctrl-C reaches CMD through the terminal's process group; gostall stays to flush the
 * trace (bpftrace runs in its own process group, out of the terminal's reach). Termination
 * requests sent to gostall alone are passed on to CMD. Returns the undo.
 */
function forwardSignals(shim: ChildProcess): () => void {
  const forward = (sig: NodeJS.Signals) => () => { try { shim.kill(sig); } catch { /* already gone */ } };
  const onInt = () => {};
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  };
}

/** Deliver the spans (the sink's deadline), then the summary, --json and --html. Never throws: the command's exit code stands. */
async function deliver(x: {
  opts: ReturnType<typeof parseRunOptions> & { help: false }; sink: Sink; spans: ReadableSpan[];
  published: PublishedTrace | undefined; endNs: number; rawPath: string | undefined;
  stats: { lostEvents: number; malformed: number }; traceProblems: string[];
}): Promise<void> {
  const { opts, sink } = x;
  const destinations: string[] = [];
  const exportProblems: string[] = [];
  let sinkClosed = false;
  try {
    if (!x.published) throw new Error('the command\'s process tree was not seen');
    const report = await sink.shutdown();
    sinkClosed = true;
    if (sink.filePath !== undefined) {
      if (report.fileError) exportProblems.push(`could not write ${sink.filePath}: ${report.fileError}`);
      else destinations.push(`written to ${sink.filePath}`);
    }
    if (sink.target) {
      if (report.undelivered > 0) {
        exportProblems.push(`could not send the trace to ${sink.target}: ${report.reasons.join(', ')}${sink.filePath && !report.fileError ? ` (the file ${sink.filePath} is complete)` : ''}`);
      } else destinations.push(`sent to ${sink.target}`);
    }
    const { root, traceId, causes, spanCount } = x.published;
    process.stderr.write(renderSummary({
      root, traceId, endNs: x.endNs, causes, lostEvents: x.stats.lostEvents, malformedRecords: x.stats.malformed,
      spanCount, destinations, exportProblems, traceProblems: x.traceProblems,
    }));
    if (x.rawPath) process.stderr.write(`  raw probe stream saved to ${x.rawPath} (gostall replay turns it into these spans)\n`);
    if (opts.json !== undefined) await writeDiagnosisJson(opts.json, root, x.published, x.endNs);
    if (opts.html !== undefined) await (await import('../report/report.js')).writeHtmlReport(opts.html, x.spans);
  } catch (err) {
    process.stderr.write(`gostall: the trace could not be finished: ${(err as Error).message}\n`);
  } finally {
    if (!sinkClosed) await sink.shutdown(0).catch(() => {});
  }
}
