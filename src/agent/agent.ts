/**
 * `gostall agent`: traces Go tool processes host-wide until SIGTERM/SIGINT.
 *
 *   supervisor (bpftrace, restarted with backoff) → pipeline (src/pipeline: tree, episodes, windows, spans)
 *     → the export sink: OTLP JSON file (optional) and reliable OTLP export over HTTP or gRPC
 *       (memory → spool → collector)
 *   metrics server: /metrics, /healthz
 *
 * Shutdown: stop the tracer (it drains its buffers), close every episode, publish every
 * tree (still-running processes as such), deliver within the deadline, spool the rest for
 * the next start, exit 0.
 */
import { mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { readMountTable } from '../diagnose/mounts.js';
import { createSink, type Sink } from '../export/sink.js';
import { createWallClock } from '../model/clock.js';
import { MAX_LINE_LENGTH } from '../events/parse.js';
import { checkTracingEnvironment, findBpftrace, renameHookUsable } from '../probe-runner/environment.js';
import { AGENT_ADOPT_SLOTS } from '../probe-runner/bpftrace.js';
import { mountNamespaceHarmless } from './mount-namespace.js';
import type { AgentConfig } from './config.js';
import { createPipeline, type Pipeline } from '../pipeline/pipeline.js';
import { createBuildHistory } from '../pipeline/build-history.js';
import { createMountSource, liveContextCollector } from '../pipeline/context.js';
import { createResourceCache } from '../export/resource-cache.js';
import { startMetricsServer, type MetricFamily, type MetricsServer } from './metrics.js';
import { agentMetrics, exportMetrics } from './agent-metrics.js';
import { createInflightPathResolver } from './inflight-paths.js';
import { createInflightPoller } from './inflight-poll.js';
import { createLivenessCheck, scanForAdoption } from '../vocabulary/procfs.js';
import { createSupervisor, type Supervisor } from './supervisor.js';
import { createRunRouter } from './run-router.js';
import { DEFAULT_THRESHOLD_NS } from '../pipeline/run-settings.js';
import { waitTracerDrained } from '../probe-runner/tracer-drain.js';
import { lookupGroup, startRunServer, type RunServer } from './run-server.js';

const RECONCILE_MILLIS = 30_000;
const CLOCK_RESYNC_MILLIS = 300_000;
const IDLE_TICK_MILLIS = 1_000;

export interface AgentHandle {
  /** resolves with the exit code once the agent has stopped */
  done: Promise<number>;
  /** begin the orderly shutdown (what SIGTERM does) */
  shutdown(): void;
}

function log(line: string): void {
  process.stderr.write(`gostall agent: ${line}\n`);
}

/** The cgroup path as /proc/PID/cgroup shows it (relative to the cgroup2 mount). */
function cgroupRelativePath(dir: string): string {
  const m = readMountTable('self').lookup(dir);
  if (!m) return dir;
  const rel = dir.slice(m.mountPoint.length);
  return rel.startsWith('/') ? rel : `/${rel}`;
}

export async function startAgent(config: AgentConfig, env: NodeJS.ProcessEnv = process.env): Promise<AgentHandle> {
  const traceEnv = config.tracer.bpftrace ? { ...env, GOSTALL_BPFTRACE: config.tracer.bpftrace } : env;
  const problems = checkTracingEnvironment(traceEnv);
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new AgentStartError(`cannot trace: ${p.what}; fix: ${p.fix}`);
  }
  const bpftrace = findBpftrace(traceEnv)!;
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const pidFile = join(config.stateDir, 'bpftrace.pid');

  const clock = createWallClock();
  const exportSink = await openAgentSink(config);
  const sink = exportSink.submit.bind(exportSink);

  const core: Pipeline = createPipeline({
    settings: {
      evidenceThresholdNs: config.evidenceThresholdNs,
      episodes: config.episodes,
      windowNs: config.windowSeconds * 1e9,
      longLivedNs: config.longLivedNs,
      maxOpenTrees: config.limits.maxOpenTrees,
      maxQueuedTrees: config.limits.maxQueuedTrees,
    },
    clock, context: liveContextCollector(createMountSource()), resourceFor: createResourceCache(env), emit: sink,
    buildHistory: createBuildHistory({ dir: join(config.stateDir, 'builds') }),
  });

  // Trees of `gostall run` commands that asked this agent go to those runs, not to core.
  const router = createRunRouter();
  let lastLineAt = Date.now();
  let stderrLines = 0;
  let adoptOverflow = 0;
  let gapsTotalNs = 0;
  const cgroupRel = config.cgroup ? cgroupRelativePath(config.cgroup) : undefined;

  // bin/gostall's shim names itself: followed where the kernel's rename tracepoint has what the probe reads
  const namedShims = renameHookUsable();
  const mountNamespace = config.tracer.mountNamespace === 'auto' ? mountNamespaceHarmless() : config.tracer.mountNamespace;
  if (config.tracer.mountNamespace === 'auto' && !mountNamespace) {
    log('bpftrace compiles against the whole tracepoint list (~2 s longer at each tracer start): a mount namespace of its own would keep this host\'s private mounts mounted after they are unmounted (tracer.mountNamespace: true uses one anyway)');
  }
  const supervisor: Supervisor = createSupervisor({
    bpftrace,
    perfPagesPerCpu: config.tracer.perfPagesPerCpu,
    mountNamespace,
    syscallThresholdNs: config.syscallThresholdNs,
    offcpuThresholdNs: config.offcpuThresholdNs,
    agent: { executables: config.executables, cgroupId: config.cgroupId, stderr: config.tracer.stderr, namedShims },
    beforeStart() {
      const { pids, overflow } = chooseAdoptions(core, config.executables, cgroupRel);
      adoptOverflow += overflow;
      router.adopted(pids);
      return pids;
    },
    onLine(line, stream) {
      lastLineAt = Date.now();
      if (stream === 'stdout') for (const l of router.route(line)) core.feedLine(l);
      else if (!line.includes('RLIMIT_MEMLOCK') && stderrLines++ < 20) log(`bpftrace: ${line.slice(0, 300)}`);
    },
    onTooLong(stream) {
      if (stream === 'stdout') core.malformed('line too long');
    },
    maxLineBytes: MAX_LINE_LENGTH + 1,
    onUp(pid) {
      try {
        writeFileSync(pidFile, `${pid}\n`, { mode: 0o600 });
        chmodSync(pidFile, 0o600);
      } catch (err) {
        log(`cannot write ${pidFile}: ${(err as Error).message}`);
      }
    },
    onDown(exit, tail) {
      log(`bpftrace exited (${exit.signal ?? `code ${exit.code}`})${tail.length > 0 ? `: ${tail.join(' | ').slice(0, 300)}` : ''}`);
    },
    onGap(startNs, endNs) {
      gapsTotalNs += endNs - startNs;
      core.gap(startNs, endNs);
      // Processes that ended while nobody watched: their end is when they were found gone.
      const ended = core.reconcile(createLivenessCheck(), endNs);
      log(`tracer back after ${((endNs - startNs) / 1e9).toFixed(1)} s${ended > 0 ? `; ${ended} processes ended during the gap` : ''}`);
    },
    restartInitialMillis: config.tracer.restartInitialMillis,
    restartMaxMillis: config.tracer.restartMaxMillis,
    nowNs: () => clock.nowMonotonicNs(),
    log,
  });

  // Events per second over the last 10 s, for people reading /metrics by eye.
  const eventHistory: number[] = [];
  const metrics = (): MetricFamily[] => [
    ...agentMetrics({ core, supervisor, adoptOverflow, gapsTotalNs, eventHistory }),
    { name: 'gostall_run_requests_total', help: 'connections from gostall run (and status requests from gostall doctor), each answered (followed, refused or told the status)', type: 'counter', samples: [{ value: runServer?.stats.requests ?? 0 }] },
    { name: 'gostall_run_refused_total', help: 'gostall run requests refused (malformed, slow, not allowed, not a waiting shim)', type: 'counter', samples: [{ value: runServer?.stats.refused ?? 0 }] },
    { name: 'gostall_run_following', help: 'gostall run commands followed now', type: 'gauge', samples: [{ value: runServer?.stats.following ?? 0 }] },
    { name: 'gostall_run_traces_built_total', help: 'traces of gostall run commands the agent built itself (bin/gostall without Node) and handed back', type: 'counter', samples: [{ value: runServer?.stats.built ?? 0 }] },
    { name: 'gostall_run_records_total', help: 'probe records handed to gostall run commands (or dropped for shims nobody claimed)', type: 'counter', samples: [{ value: router.stats.linesRouted }] },
    { name: 'gostall_run_records_before_fork_total', help: 'probe records read before their process\'s fork record, kept until it came (bpftrace reads each CPU\'s buffer in turn)', type: 'counter', samples: [{ value: router.stats.heldForFork }] },
    { name: 'gostall_run_records_fork_overdue_total', help: 'of those, records whose fork record did not come in time (lost): given to the agent\'s own pipeline', type: 'counter', samples: [{ value: router.stats.forkOverdue }] },
    { name: 'gostall_run_ids_held', help: 'process and thread ids held for trees followed for gostall run (bounded by what those trees run; flat over time)', type: 'gauge', samples: [{ value: router.heldIds() }] },
    ...(exportSink.target ? exportMetrics(exportSink.stats()) : []),
  ];

  // The tracer is launched before anything listens: its launch (the program's text, the
  // kernel's layout from BTF, bpftrace's spawn) blocks the event loop ~0.2 s on a busy host,
  // and a run that asked the moment the socket appeared waited behind it past its 100 ms and
  // traced on its own without a word. Launched first, such a run is answered at once (and,
  // until bpftrace has compiled and attached, refused with that reason).
  const tracerStarted = supervisor.start();
  tracerStarted.catch(() => {}); // (awaited below, once the servers listen)

  let server: MetricsServer | undefined;
  if (config.metrics.enabled) {
    try {
      server = await startMetricsServer({
        host: config.metrics.host, port: config.metrics.port, metrics,
        healthy: () => (supervisor.up ? { ok: true, detail: `ok: probes attached (bpftrace pid ${supervisor.pid})` } : { ok: false, detail: 'probes not attached' }),
      });
      log(`metrics on http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}/metrics`);
    } catch (err) {
      await supervisor.stop(2_000);
      await exportSink.shutdown(0);
      throw new AgentStartError(`metrics.listen: cannot listen on ${config.metrics.host}:${config.metrics.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  let runServer: RunServer | undefined;
  if (config.run.socket !== undefined) {
    const group = config.run.group !== undefined ? lookupGroup(config.run.group) : undefined;
    if (config.run.group !== undefined && !group) log(`run.group: no group ${config.run.group}; only root may ask`);
    try {
      runServer = await startRunServer({
        path: config.run.socket, group, router, log,
        ...(config.cgroup && cgroupRel ? { cgroup: { dir: config.cgroup, procPath: cgroupRel } } : {}),
        thresholds: { syscallThresholdNs: config.syscallThresholdNs, offcpuThresholdNs: config.offcpuThresholdNs },
        namedShims,
        // bin/gostall's fast path: the trace built here; each user's build history in the agent's own directory
        sessions: { clock, defaultThresholdNs: DEFAULT_THRESHOLD_NS, historyDir: (uid) => join(config.stateDir, 'runs', `uid-${uid}`, 'builds') },
        tracerAttached: () => supervisor.up,
        tracerDrained: (cancelled) => waitTracerDrained({ pid: () => supervisor.pid, lastLineAt: () => lastLineAt, cancelled }).then(() => undefined),
      });
    } catch (err) {
      log(`not serving gostall run requests on ${config.run.socket}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (gostall run asks whichever agent listens there, else traces on its own)`);
    }
  }

  try {
    await tracerStarted;
  } catch (err) {
    await runServer?.close();
    await server?.close();
    await exportSink.shutdown(0);
    throw new AgentStartError(`cannot trace: ${(err as Error).message}; fix: run \`gostall doctor\` to see what is missing`);
  }
  log(`tracing ${config.executables.join(', ')}${config.cgroup ? ` in cgroup ${config.cgroup}` : ' host-wide'}; spans to ${[
    exportSink.target ? `${exportSink.target.replace(/\)$/, `, spool ${config.export.spoolDir})`)}` : undefined,
    config.export.out,
  ].filter(Boolean).join(' and ')}`);

  const poller = createInflightPoller({ stuckAfterNs: config.episodes.stuckAfterNs, paths: createInflightPathResolver() });
  const timers = [
    setInterval(() => {
      eventHistory.push(core.stats.events);
      if (eventHistory.length > 11) eventHistory.shift();
      // No output for a while (tracer down or a quiet host): time still passes for episodes.
      if (Date.now() - lastLineAt > 2 * IDLE_TICK_MILLIS) core.advance(clock.nowMonotonicNs());
      for (const l of router.tick(Date.now())) core.feedLine(l);
      // Calls that never return print nothing: look for them in /proc.
      void poller.poll(core.liveProcesses(), clock.nowMonotonicNs()).then((found) => {
        if (found) core.inflight(found, clock.nowMonotonicNs());
      }, () => {});
    }, IDLE_TICK_MILLIS),
    // A fresh check each time: its boot-time offset moves when the machine was suspended.
    setInterval(() => { core.reconcile(createLivenessCheck(), clock.nowMonotonicNs()); }, RECONCILE_MILLIS),
    setInterval(() => { clock.resync(); }, CLOCK_RESYNC_MILLIS),
  ];
  for (const t of timers) t.unref();

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => { resolveDone = r; });
  let stopping = false;

  async function shutdown(): Promise<void> {
    const deadline = Date.now() + config.shutdownDeadlineMillis;
    const left = (): number => Math.max(0, deadline - Date.now());
    for (const t of timers) clearInterval(t);
    log('stopping: draining the tracer and flushing spans');
    await runServer?.close();
    await supervisor.stop(Math.min(3_000, left()));
    rmSync(pidFile, { force: true });
    await core.finish(clock.nowMonotonicNs());
    const r = await exportSink.shutdown(left());
    let summary = `${core.stats.spansProduced} spans produced`;
    if (exportSink.target) {
      summary += `, ${r.exported} exported, ${r.undelivered} dropped${r.leftInSpool > 0 ? `, ${r.leftInSpool} left in ${config.export.spoolDir} for the next start` : ''}`;
    }
    await server?.close();
    log(`stopped: ${summary}; ${core.stats.lostEvents} events lost`);
  }

  return {
    done,
    shutdown() {
      if (stopping) return;
      stopping = true;
      shutdown().then(() => resolveDone(0), (err: Error) => {
        log(`shutdown failed: ${err.message}`);
        resolveDone(1);
      });
    },
  };
}

/** The export sink in spool mode, as the agent's configuration says. */
async function openAgentSink(config: AgentConfig): Promise<Sink> {
  for (const n of config.export.settings.notices) log(n);
  const created = await createSink({ ...config.export.settings, out: config.export.out }, {
    mode: 'spool',
    spool: { dir: config.export.spoolDir, maxBytes: config.export.spoolMaxBytes, source: 'export.spool.dir' },
    tuning: {
      batchMaxSpans: config.export.batchMaxSpans,
      batchDelayMillis: config.export.batchDelayMillis,
      memoryLimitBytes: config.export.memoryLimitBytes,
      backoffInitialMillis: config.export.backoffInitialMillis,
      backoffMaxMillis: config.export.backoffMaxMillis,
      maxRetryAfterMillis: config.export.maxRetryAfterMillis,
    },
    log,
  });
  if (!created.ok) throw new AgentStartError(created.error.message);
  const waiting = created.sink.stats().spoolSpans;
  if (waiting > 0) log(`${waiting} spans from a previous run wait in ${config.export.spoolDir}; sending them first`);
  return created.sink;
}

/**
 * The pids a (re)started tracer follows: what the model believes running, then Go tools
 * started while nobody watched (those are adopted as roots); at most AGENT_ADOPT_SLOTS.
 */
function chooseAdoptions(core: Pipeline, executables: readonly string[], cgroupV2Path: string | undefined): { pids: number[]; overflow: number } {
  const known = core.liveProcesses().map((p) => p.pid);
  const knownSet = new Set(known);
  const found = scanForAdoption(executables, { cgroupV2Path, selfPid: process.pid });
  const fresh = found.filter((a) => !knownSet.has(a.pid));
  const pids = [...known, ...fresh.map((a) => a.pid)];
  const chosen = new Set(pids.slice(0, AGENT_ADOPT_SLOTS));
  core.expectAdoptions(fresh.filter((a) => chosen.has(a.pid)));
  return { pids: [...chosen], overflow: Math.max(0, pids.length - AGENT_ADOPT_SLOTS) };
}

/** Something the agent needs is missing: one line naming the fix, exit 2. */
export class AgentStartError extends Error {}
