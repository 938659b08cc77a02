/**
 * gostall run [--out FILE] [--endpoint URL] [--protocol P] [--threshold DUR] [--json FILE] [--html FILE] [--raw FILE] -- CMD ARGS…
 *
 * Order matters: CMD starts as a shim blocked on a pipe (./shim), a follower starts
 * following the shim's pid — a running agent if one answers within 100 ms
 * (./run-via-agent), else run's own tracer (./run-own-tracer) — then the shim is released
 * and execs CMD, so CMD's first instruction is already traced. CMD inherits
 * stdin/stdout/stderr untouched; the tracer's output never shares a descriptor with it.
 * Nothing heavy is loaded before CMD is released (./run-modules): through an agent the
 * pipeline is built once CMD has exited (./run-live reads what cannot wait until then),
 * with our own tracer before it attaches. Options: ./run-options; the end: ./run-finish.
 */
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import { createWallClock } from '../model/clock.js';
import { RUN_DRAIN_MILLIS as DRAIN_MILLIS, runReadyRecord } from '../pipeline/run-settings.js';
import type { RunTrace } from '../pipeline/run-trace.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createSink, type Sink } from '../export/sink.js';
import { openRawCapture, type RawCapture } from './raw-capture.js';
import { spawnShim } from './shim.js';
import { askAgent } from './run-via-agent.js';
import { runSocketPath } from '../agent/run-protocol.js';
import { checkTracingEnvironment } from '../probe-runner/environment.js';
import { buildHistoryDir, defaultOutPath } from './trace-owner.js';
import { agentFollower } from './run-follower.js';
import { deliver, forwardSignals } from './run-finish.js';
import { loadPipelineModules, type PipelineModules } from './run-modules.js';
import type { LiveWatch } from './run-live.js';
import { RUN_USAGE, parseRunOptions } from './run-options.js';
import { createSlicedFeeder } from './sliced-feeder.js';

export { DEFAULT_THRESHOLD_NS, RUN_USAGE, parseRunOptions } from './run-options.js';

/** How long the trace may take to reach a collector after CMD ends; a collector that is down costs no more. */
const EXPORT_DEADLINE_MILLIS = 10_000;

export interface RunResult { exitCode: number }

/** Whether connect(2) could reach this socket: it needs write permission on the file. */
function mayConnect(socket: string): boolean {
  try { accessSync(socket, fsConstants.W_OK); return true; } catch { return false; }
}

function signalNumber(name: NodeJS.Signals | null): number {
  if (!name) return 0;
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
}

export async function runCommand(argv: string[]): Promise<RunResult> {
  const opts = parseRunOptions(argv);
  if (opts.help) {
    process.stdout.write(RUN_USAGE);
    return { exitCode: 0 };
  }
  let pipelineModules: Promise<PipelineModules> | undefined;
  const modules = () => (pipelineModules ??= loadPipelineModules());
  // Without privilege or tracer, only an agent can follow CMD: when its socket is not one
  // we may connect to (the kernel's check, by our real uid), say what is missing now.
  const problems = checkTracingEnvironment();
  const socket = runSocketPath();
  // No agent to ask: our own tracer's module loads while the shim starts. (The pipeline's
  // load once bpftrace is spawned, while it compiles: loaded first, they delayed its spawn.)
  const mayAsk = !opts.standalone && existsSync(socket);
  let ownTracerModule: Promise<typeof import('./run-own-tracer.js')> | undefined;
  const ownTracer = () => (ownTracerModule ??= import('./run-own-tracer.js'));
  if (!mayAsk) ownTracer().catch(() => {});
  // What must be read from /proc as CMD's records arrive (./run-live): loaded early when an
  // agent may be asked, with the pipeline's modules (while bpftrace compiles) when not
  let liveModuleLoad: Promise<typeof import('./run-live.js')> | undefined;
  const liveModule = () => (liveModuleLoad ??= import('./run-live.js'));
  if (mayAsk) liveModule().catch(() => {});
  if (problems.length > 0 && (!mayAsk || !mayConnect(socket))) {
    const p = problems[0]!;
    const agent = !opts.standalone && existsSync(dirname(socket)) ? ` (or ask to be let into the run.group of the agent at ${socket})` : '';
    process.stderr.write(`gostall: cannot trace: ${p.what}; fix: ${p.fix}${agent}\n`);
    return { exitCode: 2 };
  }
  const clock = createWallClock();
  const settings = opts.exportSettings;
  for (const n of settings.notices) process.stderr.write(`gostall: ${n}\n`);
  // With no collector named (and export not switched off), the trace goes to a file.
  const wantsDefaultFile = settings.out === undefined && !settings.endpointConfigured && !settings.exportDisabled;
  let defaultOut: ReturnType<typeof defaultOutPath> | undefined;
  try {
    defaultOut = wantsDefaultFile ? defaultOutPath(opts.command[0]!.split('/').pop()!) : undefined;
  } catch (err) {
    process.stderr.write(`gostall: cannot create the default trace directory: ${(err as Error).message}; fix: give --out FILE\n`);
    return { exitCode: 2 };
  }
  const outPath = defaultOut?.path ?? settings.out;
  // The collector's exporter loads once CMD has exited when an agent follows it (no span
  // exists before), at once when our own tracer does (its compile hides the loading).
  let exporterMayLoad!: () => void;
  const exporterAfter = new Promise<void>((r) => { exporterMayLoad = r; });
  // under sudo the default file is the invoking user's, made in their directory as opened (./user-directory)
  const outForUser = defaultOut?.owner.uid !== undefined ? { openPath: defaultOut.openPath, uid: defaultOut.owner.uid, gid: defaultOut.owner.gid! } : undefined;
  const created = await createSink({ ...settings, out: outPath }, { mode: 'memory', deadlineMillis: EXPORT_DEADLINE_MILLIS, exporterAfter, outForUser });
  if (!created.ok) {
    process.stderr.write(`gostall: ${created.error.message}; fix: choose another --out\n`);
    return { exitCode: 2 };
  }
  const sink: Sink = created.sink;
  let raw: RawCapture | undefined;
  try {
    if (opts.raw !== undefined) raw = await openRawCapture(resolve(opts.raw), clock.toEpochNs(0));
  } catch (err) {
    exporterMayLoad();
    await sink.shutdown(0);
    process.stderr.write(`gostall: cannot write ${opts.raw}: ${(err as Error).message}; fix: choose another --raw\n`);
    return { exitCode: 2 };
  }

  // The shim (./shim): blocks on fd 3 until the tracer is attached, then becomes CMD,
  // changing nothing. If gostall goes away first, the read fails and CMD never runs.
  const startNs = clock.nowMonotonicNs();
  // Node makes stdin non-blocking the first time anything looks at process.stdin (execa does,
  // when it is loaded), and a pipe's flags are shared with CMD, whose reads would then fail
  // with EAGAIN. Looking now, before the spawn, lets libuv hand CMD a blocking stdin; later
  // looks (the own tracer's modules load after the spawn) find the stream made already.
  void process.stdin;
  const shimProc = spawnShim(opts.command);
  const shim = shimProc.child;
  const shimExit = shimProc.exited;
  const shimPid = shimProc.pid;
  const restoreSignals = forwardSignals(shim);

  // Everything from lines to spans is the pipeline's, as for agent and replay; the spans go
  // to the sink as they are made (kept for --html too). Until the pipeline is built, lines
  // wait in order: through an agent it is built only after CMD exits (its module loading and
  // processing would compete with CMD for the CPU); our own tracer starts after it is built.
  // Either way what must be read from /proc while CMD lives is read by ./run-live as each
  // record arrives, ahead of the processing of the lines before it.
  const spans: ReadableSpan[] = [];
  let trace: RunTrace | undefined;
  let live: LiveWatch | undefined;
  const early: string[] = [];
  const startPipeline = async (): Promise<RunTrace> => {
    if (trace) return trace;
    const [mods, liveMod] = await Promise.all([modules(), live ? undefined : liveModule()]);
    if (trace) return trace; // another caller finished first
    // on its own, the root's collection starts here, before CMD is released (through an
    // agent, just before the release)
    if (!live && liveMod) live = liveMod.watchWhileCommandRuns(shimPid, process.env);
    const historyAt = opts.history ? buildHistoryDir() : undefined;
    if (historyAt && 'notice' in historyAt) process.stderr.write(`gostall: ${historyAt.notice}\n`);
    trace = mods.runTrace.createRunTrace({
      rootPid: shimPid, env: process.env, started: live?.collection, clock, evidenceThresholdNs: opts.thresholdNs,
      buildHistory: historyAt && !('notice' in historyAt) ? mods.history.createBuildHistory(historyAt) : undefined,
      resourceFor: mods.resources.createResourceCache(process.env),
      emit: (s) => {
        sink.submit(s);
        if (opts.html !== undefined) for (const span of s) spans.push(span);
      },
    });
    for (const line of early) trace.pipeline.feedLine(line);
    early.length = 0;
    return trace;
  };
  // A go that fails at start is gone ~10 ms after its exec, and the lines ahead of its
  // record could take longer than that to process (the first ones after the release took
  // 10-25 ms, mostly V8 compiling the pipeline's code). So each exec record's /proc readings
  // are taken as the record is read from the tracer, and the lines are fed to the pipeline
  // after that, in slices that let the next reads in.
  const feeder = createSlicedFeeder((line) => trace!.pipeline.feedLine(line));
  const onLine = (line: string) => {
    raw?.line(line);
    live?.line(line);
    if (!trace) early.push(line);
    else feeder.push(line);
  };
  // A running agent follows the command if it will (./run-via-agent); else our own bpftrace.
  const asked = !mayAsk ? { ok: false as const, notice: undefined } : await askAgent(shimPid, {
    // the agent's probe has no R record for this root: run writes the one its own would print
    onFollowing: (t) => onLine(runReadyRecord(startNs, shimPid, t)),
    onLine,
  });
  if (!asked.ok && asked.notice) process.stderr.write(`gostall: ${asked.notice}\n`);
  // Through an agent the pipeline is built after CMD exits. Our own tracer needs it before
  // CMD is released; the tracer is started first, so the pipeline and the exporter load
  // while bpftrace compiles its probes (~0.3 s).
  const follower = asked.ok
    ? agentFollower(asked.follow)
    : (await ownTracer()).startOwnTracer(shimPid, opts, (why) => void startPipeline().then((p) => p.pipeline.malformed(why)), onLine);
  if (!asked.ok) exporterMayLoad();
  // handled before anything is awaited: a tracer that cannot start rejects at once
  const readiness = follower.ready.then(() => ({ ready: true as const }), (err: Error) => ({ ready: false as const, err }));
  if (!asked.ok) await startPipeline();
  const startup = await Promise.race([readiness, shimExit.then((x) => ({ ready: 'interrupted' as const, x }))]);
  if (startup.ready !== true) {
    shim.kill('SIGKILL');
    const x = await shimExit;
    await follower.stop();
    restoreSignals();
    exporterMayLoad();
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

  if (asked.ok) {
    // The root's context is read from the shim before it becomes CMD, as the live pipeline did.
    live = (await liveModule()).watchWhileCommandRuns(shimPid, process.env);
    for (const line of early) live.line(line);
  }
  shimProc.release();
  const exit = await shimExit;
  // the drain is counted from CMD's exit, however long the pipeline takes to load
  // (the timer is cleared: a pending one would keep gostall alive for the rest of it)
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = new Promise((r) => { drainTimer = setTimeout(r, DRAIN_MILLIS); });
  exporterMayLoad();
  const started = await startPipeline();
  const exitCode = exit.code ?? 128 + signalNumber(exit.signal);

  await Promise.race([started.complete, drained]);
  clearTimeout(drainTimer);
  const endNs = clock.nowMonotonicNs();
  // Then the tracer is ended once everything it had produced is read: records printed on
  // other CPUs just before the last exit, and "Lost N events" notices. Our own bpftrace is
  // drained when it sleeps in epoll_wait with nothing unread, through an agent its `flushed`
  // answer says so (src/probe-runner/tracer-drain.ts); both within milliseconds.
  await follower.drained();
  stopping = true;
  // Everything is read: the probes' detach (about 0.7 s) need not be the user's wait.
  follower.abandon();
  restoreSignals();
  feeder.feedAll();
  await started.pipeline.finish(endNs);
  const recorded = started.recorded();
  const published = started.published();
  // with what the build history said, so that a replay of the capture says it too
  const rebuilds = published?.rebuilds?.length ? { rebuilds: (await modules()).rebuildDiff.recordRebuilds(published.rebuilds) } : {};
  if (recorded) raw?.context(shimPid, { ...recorded, ...rebuilds });
  const rawProblem = raw ? await raw.close().then(() => undefined, (err: Error) => `could not write the raw probe stream to ${raw!.path}: ${err.message}`) : undefined;

  await deliver({ opts, sink, modules: await modules(), spans, published, endNs, rawPath: rawProblem ? undefined : raw?.path, stats: started.pipeline.stats,
    traceProblems: [
      ...(tracerDied ? [tracerDied] : []),
      ...(rawProblem ? [rawProblem] : []),
    ] });
  return { exitCode };
}
