/**
 * `gostall agent`: traces Go tool processes host-wide until SIGTERM/SIGINT.
 *
 *   supervisor (bpftrace, restarted with backoff) → core (tree, episodes, windows, spans)
 *     → the export sink: OTLP JSON file (optional) and reliable OTLP export over HTTP or gRPC
 *       (memory → spool → collector)
 *   metrics server: /metrics, /healthz
 *
 * Shutdown: stop the tracer (it drains its buffers), close every episode, publish every
 * tree (still-running processes as such), deliver within the deadline, spool the rest for
 * the next start, exit 0.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { readMountTable } from '../diagnose/mounts.js';
import { createSink, type Sink } from '../export/sink.js';
import { createWallClock } from '../model/clock.js';
import { checkTracingEnvironment, findBpftrace } from '../probe-runner/environment.js';
import { AGENT_ADOPT_SLOTS } from '../probe-runner/bpftrace.js';
import type { AgentConfig } from './config.js';
import { createAgentCore, type AgentCore } from './core.js';
import { labelled, startMetricsServer, type MetricFamily, type MetricsServer } from './metrics.js';
import { createInflightPathResolver } from './inflight-paths.js';
import { createInflightPoller } from './inflight-poll.js';
import { createLivenessCheck, scanForAdoption } from './procfs.js';
import { createMountSource } from './root-context.js';
import { createSupervisor, type Supervisor } from './supervisor.js';

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

/** RSS of another process from /proc (bpftrace), in bytes. */
function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /^VmRSS:\s*(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
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
  const exportSink: Sink = created.sink;
  const waiting = exportSink.stats().spoolSpans;
  if (waiting > 0) log(`${waiting} spans from a previous run wait in ${config.export.spoolDir}; sending them first`);
  const sink = exportSink.submit.bind(exportSink);

  const core: AgentCore = createAgentCore({
    settings: {
      evidenceThresholdNs: config.evidenceThresholdNs,
      episodes: config.episodes,
      windowNs: config.windowSeconds * 1e9,
      longLivedNs: config.longLivedNs,
      maxOpenTrees: config.limits.maxOpenTrees,
      maxQueuedTrees: config.limits.maxQueuedTrees,
    },
    clock, live: true, env, mounts: createMountSource(), emit: sink,
  });

  let lastLineAt = Date.now();
  let stderrLines = 0;
  let adoptOverflow = 0;
  let gapsTotalNs = 0;
  const cgroupRel = config.cgroup ? cgroupRelativePath(config.cgroup) : undefined;

  const supervisor: Supervisor = createSupervisor({
    bpftrace,
    perfPagesPerCpu: config.tracer.perfPagesPerCpu,
    syscallThresholdNs: config.syscallThresholdNs,
    offcpuThresholdNs: config.offcpuThresholdNs,
    agent: { executables: config.executables, cgroupId: config.cgroupId },
    beforeStart() {
      // Follow what the model believes running, then Go tools started while nobody watched.
      const known = core.liveProcesses().map((p) => p.pid);
      const knownSet = new Set(known);
      const found = scanForAdoption(config.executables, { cgroupV2Path: cgroupRel, selfPid: process.pid });
      const fresh = found.filter((a) => !knownSet.has(a.pid));
      const pids = [...known, ...fresh.map((a) => a.pid)];
      adoptOverflow += Math.max(0, pids.length - AGENT_ADOPT_SLOTS);
      const chosen = new Set(pids.slice(0, AGENT_ADOPT_SLOTS));
      core.expectAdoptions(fresh.filter((a) => chosen.has(a.pid)));
      return [...chosen];
    },
    onLine(line, stream) {
      lastLineAt = Date.now();
      if (stream === 'stdout') core.feedLine(line);
      else if (!line.includes('RLIMIT_MEMLOCK') && stderrLines++ < 20) log(`bpftrace: ${line.slice(0, 300)}`);
    },
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
  const metrics = (): MetricFamily[] => {
    const s = core.stats;
    const ex = exportSink.stats();
    const rate = eventHistory.length > 1 ? (eventHistory[eventHistory.length - 1]! - eventHistory[0]!) / (eventHistory.length - 1) : 0;
    const families: MetricFamily[] = [
      { name: 'gostall_events_total', help: 'probe records turned into events', type: 'counter', samples: [{ value: s.events }] },
      { name: 'gostall_events_per_second', help: 'events per second over the last 10 s', type: 'gauge', samples: [{ value: Math.round(rate) }] },
      { name: 'gostall_events_lost_total', help: 'events the kernel could not hand to bpftrace (perf buffer full)', type: 'counter', samples: [{ value: s.lostEvents }] },
      { name: 'gostall_records_malformed_total', help: 'probe output lines that were not valid records, by reason', type: 'counter', samples: labelled('reason', s.malformedReasons) },
      { name: 'gostall_records_orphan_total', help: 'records about tasks never seen starting', type: 'counter', samples: [{ value: s.orphanRecords }] },
      { name: 'gostall_roots_total', help: 'Go tool processes that became roots of a trace', type: 'counter', samples: [{ value: s.roots }] },
      { name: 'gostall_roots_refused_total', help: 'roots not traced because limits.maxOpenTrees was reached', type: 'counter', samples: [{ value: s.rootsRefused }] },
      { name: 'gostall_processes_adopted_total', help: 'processes already running when the tracer (re)started, followed from then on', type: 'counter', samples: [{ value: s.adopted }] },
      { name: 'gostall_adopt_overflow_total', help: 'running processes the tracer could not adopt (32 slots per start)', type: 'counter', samples: [{ value: adoptOverflow }] },
      { name: 'gostall_exits_inferred_total', help: 'processes found gone without an exit record (tracer gap, lost events)', type: 'counter', samples: [{ value: s.exitsInferred }] },
      { name: 'gostall_trees_open', help: 'traces whose root or descendants still run', type: 'gauge', samples: [{ value: core.openTrees() }] },
      { name: 'gostall_trees_queued', help: 'finished trees waiting to be turned into spans', type: 'gauge', samples: [{ value: core.queuedTrees() }] },
      { name: 'gostall_trees_dropped_total', help: 'finished trees dropped because limits.maxQueuedTrees was reached', type: 'counter', samples: [{ value: s.treesDropped }] },
      { name: 'gostall_traces_published_total', help: 'finished trees turned into spans', type: 'counter', samples: [{ value: s.tracesPublished }] },
      { name: 'gostall_traces_forced_total', help: 'trees published although a forked task was never seen again (lost records, tracer gap)', type: 'counter', samples: [{ value: s.treesForced }] },
      { name: 'gostall_orphans_detached_total', help: 'processes still running when their trace root exited, published later into its trace', type: 'counter', samples: [{ value: s.orphansDetached }] },
      { name: 'gostall_episodes_total', help: 'stall episodes reported', type: 'counter', samples: [{ value: s.episodes }] },
      { name: 'gostall_episodes_open', help: 'stall episodes being followed', type: 'gauge', samples: [{ value: core.openEpisodes() }] },
      { name: 'gostall_spans_produced_total', help: 'spans gostall produced', type: 'counter', samples: [{ value: s.spansProduced }] },
      { name: 'gostall_tracer_up', help: '1 while bpftrace has its probes attached', type: 'gauge', samples: [{ value: supervisor.up ? 1 : 0 }] },
      { name: 'gostall_tracer_pid', help: 'pid of the running bpftrace (0 when none)', type: 'gauge', samples: [{ value: supervisor.up ? supervisor.pid ?? 0 : 0 }] },
      { name: 'gostall_tracer_restarts_total', help: 'times bpftrace was started again after it went away', type: 'counter', samples: [{ value: supervisor.restarts }] },
      { name: 'gostall_tracer_gap_seconds_total', help: 'time without a running tracer', type: 'counter', samples: [{ value: gapsTotalNs / 1e9 }] },
      { name: 'gostall_tracer_resident_memory_bytes', help: 'RSS of bpftrace', type: 'gauge', samples: [{ value: rssOf(supervisor.pid) }] },
      { name: 'process_resident_memory_bytes', help: 'RSS of the gostall agent', type: 'gauge', samples: [{ value: process.memoryUsage.rss() }] },
    ];
    if (exportSink.target) {
      families.push(
        { name: 'gostall_spans_exported_total', help: 'spans the collector acknowledged', type: 'counter', samples: [{ value: ex.exported }] },
        { name: 'gostall_spans_spooled_total', help: 'spans written to the on-disk spool', type: 'counter', samples: [{ value: ex.spooled }] },
        { name: 'gostall_spans_dropped_total', help: 'spans lost, by reason', type: 'counter', samples: labelled('reason', ex.dropped) },
        { name: 'gostall_export_failures_total', help: 'failed export requests, by reason', type: 'counter', samples: labelled('reason', ex.failures) },
        { name: 'gostall_export_backing_off', help: '1 while the collector is considered down', type: 'gauge', samples: [{ value: ex.backingOff ? 1 : 0 }] },
        { name: 'gostall_export_queue_spans', help: 'spans waiting in memory', type: 'gauge', samples: [{ value: ex.memorySpans }] },
        { name: 'gostall_spool_bytes', help: 'bytes in the spool', type: 'gauge', samples: [{ value: ex.spoolBytes }] },
        { name: 'gostall_spool_spans', help: 'spans in the spool', type: 'gauge', samples: [{ value: ex.spoolSpans }] },
      );
    }
    return families;
  };

  let server: MetricsServer | undefined;
  if (config.metrics.enabled) {
    try {
      server = await startMetricsServer({
        host: config.metrics.host, port: config.metrics.port, metrics,
        healthy: () => (supervisor.up ? { ok: true, detail: `ok: probes attached (bpftrace pid ${supervisor.pid})` } : { ok: false, detail: 'probes not attached' }),
      });
      log(`metrics on http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}/metrics`);
    } catch (err) {
      await exportSink.shutdown(0);
      throw new AgentStartError(`metrics.listen: cannot listen on ${config.metrics.host}:${config.metrics.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  try {
    await supervisor.start();
  } catch (err) {
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

/** Something the agent needs is missing: one line naming the fix, exit 2. */
export class AgentStartError extends Error {}
