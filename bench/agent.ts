/**
 * Issue 4 additions: `gostall agent` under load. With the agent watching only a private
 * cgroup (so other Go tools on the host stay out of the numbers):
 *   idle      CPU the agent and bpftrace use per second with nothing to trace;
 *   builds    a loop of cold `go build -a` back to back: CPU per traced second, peak RSS,
 *             events, lost events;
 *   capacity  a generator of probe records (one S record per call) at rising rates, each
 *             step for a fixed time: the highest rate with no lost events is what the
 *             pipeline sustains on this machine (generator, bpftrace and node share its CPUs).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchConfig } from './config.js';
import { scrape, sleep, startAgentProcess, waitDrained, waitHealthy, timeLimit } from './agent-process.js';
import { createBenchCgroup, type BenchCgroup } from './cgroup.js';
import type { ExitUsage } from './exit-usage-hook.js';
import { buildLoadgen, LOADGEN_NAME } from './loadgen.js';
import { readCpuSeconds, readPeakRssKiB, readRssKiB } from './proc-sampler.js';
import { round } from './stats.js';
import { runTimed } from './timed-command.js';

const execFileAsync = promisify(execFile);

export type AgentResults =
  | { available: false; note: string }
  | {
    available: true;
    isolatedCgroup: string | undefined;
    idle: { seconds: number; eventsPerS: number; agentCpuPerS: number | undefined; bpftraceCpuPerS: number | undefined };
    builds: {
      pkgs: string[]; count: number; failed: number; wallSeconds: number[]; tracedSeconds: number;
      agentCpuSeconds: number | undefined; bpftraceCpuSeconds: number | undefined;
      agentCpuPerTracedS: number | undefined; bpftraceCpuPerTracedS: number | undefined;
      events: number; lostEvents: number; tracesPublished: number; tracerRestarts: number; tracerGapSeconds: number;
      agentRssMiB: number | undefined; agentPeakRssMiBSoFar: number | undefined; bpftraceRssMiB: number | undefined;
    };
    capacity: {
      stepSeconds: number;
      steps: CapacityStep[];
      /** highest generated rate (records/s) whose step lost nothing and kept its tracer */
      sustainedRecordsPerS: number | undefined;
      firstLossAtRecordsPerS: number | undefined;
      /** first rate at which bpftrace exited or crashed (see logs/agent.log) */
      firstTracerFailureAtRecordsPerS: number | undefined;
    };
    agentPeakRssMiB: number | undefined;
    agentCpuSecondsTotal: number | undefined;
    agentStopLine: string | undefined;
  };

export interface CapacityStep {
  targetPerS: number;
  /** bpftrace restarts during the step (it exited or crashed): the step's numbers are not a capacity */
  tracerRestarts: number;
  tracerGapSeconds: number;
  generated: number;
  generatedPerS: number;
  events: number;
  lostEvents: number;
  /** time after the generator exited until the agent had counted every event */
  drainSeconds: number;
  agentCpuPerS: number | undefined;
  bpftraceCpuPerS: number | undefined;
}

/** Whether this build of gostall lists an `agent` command in its help. */
export function agentAvailable(root: string): boolean {
  try {
    const help = execFileSync(process.execPath, [join(root, 'bin/gostall.js'), 'help'], { encoding: 'utf8', timeout: 30_000 });
    return /^\s+agent\b/m.test(help);
  } catch {
    return false;
  }
}

interface CpuPoint { agent: number | undefined; bpftrace: number | undefined; atMillis: number }

function cpuNow(agentPid: number, tracerPid: number | undefined): CpuPoint {
  return { agent: readCpuSeconds(agentPid), bpftrace: tracerPid ? readCpuSeconds(tracerPid) : undefined, atMillis: Date.now() };
}

const diff = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? b - a : undefined);
const per = (x: number | undefined, s: number) => (x === undefined || s <= 0 ? undefined : round(x / s, 4));
const mib = (kib: number | undefined) => (kib === undefined ? undefined : round(kib / 1024, 1));

export async function benchAgent(cfg: BenchConfig, log: (line: string) => void): Promise<AgentResults> {
  if (!agentAvailable(cfg.root)) {
    const note = 'agent benchmark: not available yet';
    log(note);
    return { available: false, note };
  }
  const logs = join(cfg.outDir, 'logs');
  const work = join(cfg.outDir, 'work');
  mkdirSync(work, { recursive: true });
  log('agent: building the record generator');
  const loadgen = buildLoadgen(cfg.outDir);
  const cgroup: BenchCgroup | undefined = createBenchCgroup();
  if (!cgroup) log('agent: no cgroup v2 available: the agent traces host-wide, other Go tools on the host count too');
  const stateDir = mkdtempSync(join(cfg.outDir, 'agent-state-'));
  const configPath = join(stateDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({
    executables: ['go', 'compile', 'link', 'asm', 'cgo', 'vet', LOADGEN_NAME],
    ...(cgroup ? { cgroup: cgroup.path } : {}),
  }), { mode: 0o600 });
  const outFile = join(logs, 'agent.otlp.jsonl');
  const usageFile = join(logs, 'agent.usage.json');
  rmSync(outFile, { force: true });
  rmSync(usageFile, { force: true });
  const agent = startAgentProcess(cfg, ['--config', configPath, '--out', outFile, '--state-dir', stateDir, '--metrics-listen', '127.0.0.1:0'], usageFile, join(logs, 'agent.log'));
  const wrap = (file: string, args: string[]): [string, string[]] => (cgroup ? cgroup.wrap(file, args) : [file, args]);
  try {
    const port = await Promise.race([agent.port, timeLimit(60_000).then(() => { throw new Error('the agent did not start its metrics server in time'); })]);
    await waitHealthy(port, 90_000);
    let tracerPid = (await scrape(port)).get('gostall_tracer_pid') || undefined;
    // After a tracer restart the new bpftrace has a new pid (and its CPU count starts at 0).
    const refreshTracerPid = async () => { tracerPid = (await scrape(port)).get('gostall_tracer_pid') || undefined; };
    log(`agent: attached (metrics on port ${port}, bpftrace pid ${tracerPid ?? '?'})`);

    // idle
    const idleSeconds = cfg.quick ? 2 : 5;
    const e0 = (await scrape(port)).get('gostall_events_total') ?? 0;
    const i0 = cpuNow(agent.pid, tracerPid);
    await sleep(idleSeconds * 1000);
    const i1 = cpuNow(agent.pid, tracerPid);
    const idleS = (i1.atMillis - i0.atMillis) / 1000;
    const idleEventsPerS = (((await scrape(port)).get('gostall_events_total') ?? 0) - e0) / idleS;

    // build loop
    const m0 = await scrape(port);
    const b0 = cpuNow(agent.pid, tracerPid);
    const walls: number[] = [];
    let failed = 0;
    for (let i = 0; i < cfg.agentBuilds; i++) {
      const gocache = mkdtempSync(join(cfg.outDir, 'gocache-'));
      try {
        const [file, args] = wrap('go', ['build', '-a', ...cfg.pkgs]);
        const r = await runTimed(file, args, { cwd: work, env: { ...process.env, GOCACHE: gocache, GOFLAGS: '' }, logPath: join(logs, `agent-build${i}.log`) });
        walls.push(round(r.wallNs / 1e9, 3));
        if (r.exitCode !== 0) failed++;
        log(`agent: build ${i + 1}/${cfg.agentBuilds} ${(r.wallNs / 1e9).toFixed(2)} s exit ${r.exitCode ?? r.signal}`);
      } finally {
        rmSync(gocache, { recursive: true, force: true });
      }
    }
    const tracedSeconds = walls.reduce((a, b) => a + b, 0);
    await waitDrained(port, idleEventsPerS, 15_000);
    const b1 = cpuNow(agent.pid, tracerPid);
    const m1 = await scrape(port);
    const delta = (k: string) => (m1.get(k) ?? 0) - (m0.get(k) ?? 0);
    const builds = {
      pkgs: cfg.pkgs, count: cfg.agentBuilds, failed, wallSeconds: walls, tracedSeconds: round(tracedSeconds, 3),
      agentCpuSeconds: diff(b0.agent, b1.agent), bpftraceCpuSeconds: diff(b0.bpftrace, b1.bpftrace),
      agentCpuPerTracedS: per(diff(b0.agent, b1.agent), tracedSeconds), bpftraceCpuPerTracedS: per(diff(b0.bpftrace, b1.bpftrace), tracedSeconds),
      events: delta('gostall_events_total'), lostEvents: delta('gostall_events_lost_total'), tracesPublished: delta('gostall_traces_published_total'),
      tracerRestarts: delta('gostall_tracer_restarts_total'), tracerGapSeconds: round(delta('gostall_tracer_gap_seconds_total'), 2),
      agentRssMiB: mib(readRssKiB(agent.pid)), agentPeakRssMiBSoFar: mib(readPeakRssKiB(agent.pid)), bpftraceRssMiB: mib(readRssKiB(tracerPid)),
    };

    // capacity steps
    const steps: CapacityStep[] = [];
    for (const rate of cfg.agentRates) {
      await refreshTracerPid();
      const s0 = await scrape(port);
      const c0 = cpuNow(agent.pid, tracerPid);
      const [file, args] = wrap(loadgen, [String(rate), String(cfg.agentStepSeconds)]);
      const { stdout } = await execFileAsync(file, args, { timeout: (cfg.agentStepSeconds + 30) * 1000 });
      const drainSeconds = await waitDrained(port, idleEventsPerS, 30_000);
      const c1 = cpuNow(agent.pid, tracerPid);
      const s1 = await scrape(port);
      const generated = Number(stdout.trim()) || 0;
      const stepDelta = (k: string) => (s1.get(k) ?? 0) - (s0.get(k) ?? 0);
      const step: CapacityStep = {
        targetPerS: rate, generated, generatedPerS: Math.round(generated / cfg.agentStepSeconds),
        tracerRestarts: stepDelta('gostall_tracer_restarts_total') + (s1.get('gostall_tracer_up') === 1 ? 0 : 1),
        tracerGapSeconds: round(stepDelta('gostall_tracer_gap_seconds_total'), 2),
        events: stepDelta('gostall_events_total'),
        lostEvents: stepDelta('gostall_events_lost_total'),
        drainSeconds: round(drainSeconds, 2),
        // CPU for the step's work (generation and drain) per second of generation
        agentCpuPerS: per(diff(c0.agent, c1.agent), cfg.agentStepSeconds), bpftraceCpuPerS: per(diff(c0.bpftrace, c1.bpftrace), cfg.agentStepSeconds),
      };
      steps.push(step);
      log(`agent: capacity ${rate}/s → generated ${step.generatedPerS}/s, events ${step.events}, lost ${step.lostEvents}, drain ${step.drainSeconds} s${step.tracerRestarts ? `, TRACER DOWN/RESTARTED ${step.tracerRestarts}×` : ''}`);
      if (step.lostEvents > 0 || step.tracerRestarts > 0) break;
    }
    const clean = steps.filter((s) => s.lostEvents === 0 && s.tracerRestarts === 0);
    const firstLoss = steps.find((s) => s.lostEvents > 0);
    const firstFailure = steps.find((s) => s.tracerRestarts > 0);

    process.kill(agent.pid, 'SIGTERM');
    const stopTimer = setTimeout(() => { try { process.kill(agent.pid, 'SIGKILL'); } catch { /* gone */ } }, 60_000);
    await agent.exited;
    clearTimeout(stopTimer);
    let usage: ExitUsage | undefined;
    try { usage = JSON.parse(readFileSync(usageFile, 'utf8')) as ExitUsage; } catch { usage = undefined; }
    return {
      available: true,
      isolatedCgroup: cgroup?.path,
      idle: { seconds: round(idleS, 2), eventsPerS: round(idleEventsPerS, 1), agentCpuPerS: per(diff(i0.agent, i1.agent), idleS), bpftraceCpuPerS: per(diff(i0.bpftrace, i1.bpftrace), idleS) },
      builds,
      capacity: {
        stepSeconds: cfg.agentStepSeconds, steps,
        sustainedRecordsPerS: clean.length > 0 ? Math.max(...clean.map((s) => s.generatedPerS)) : undefined,
        firstLossAtRecordsPerS: firstLoss?.generatedPerS,
        firstTracerFailureAtRecordsPerS: firstFailure?.generatedPerS,
      },
      agentPeakRssMiB: mib(usage?.maxRssKiB),
      agentCpuSecondsTotal: usage ? round((usage.userCpuMicros + usage.systemCpuMicros) / 1e6, 2) : undefined,
      agentStopLine: agent.stopLine(),
    };
  } finally {
    try { process.kill(agent.pid, 0); process.kill(agent.pid, 'SIGTERM'); await Promise.race([agent.exited, timeLimit(30_000)]); } catch { /* already gone */ }
    cgroup?.remove();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
