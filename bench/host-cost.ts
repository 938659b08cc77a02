/**
 * What the probe costs processes gostall does NOT trace. Its syscall hooks sit on
 * raw_syscalls entry and exit, so every syscall on the machine runs them (one map lookup
 * drops the untraced ones); an always-on agent pays this host-wide. Workload: `dd bs=1`
 * from /dev/zero to /dev/null, two syscalls per byte, never traced. Each pair runs it once
 * with nothing attached and once while bpftrace has the probe attached (following a
 * sleeping process only), in alternating order; the difference per syscall is the cost.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { median, min, max, round } from './stats.js';
import { runTimed } from './timed-command.js';
import { findBpftrace } from '../src/probe-runner/environment.js';
import { startTracer } from '../src/probe-runner/bpftrace.js';

export interface HostCostResults {
  syscallsPerRun: number;
  pairs: { untracedS: number; attachedS: number }[];
  untracedNsPerSyscallMedian: number;
  addedNsPerSyscallMedian: number;
  addedNsPerSyscallMin: number;
  addedNsPerSyscallMax: number;
  ratioMedian: number;
  /** probe attach (spawn → BEGIN) and detach (SIGINT → exit), medians */
  attachSecondsMedian: number;
  detachSecondsMedian: number;
}

export async function benchHostCost(cfg: BenchConfig, log: (line: string) => void): Promise<HostCostResults> {
  const bpftrace = findBpftrace();
  if (!bpftrace) throw new Error('bpftrace not found');
  const bytes = cfg.quick ? 200_000 : 1_000_000;
  const logs = join(cfg.outDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const dd = () => runTimed('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${bytes}`], { cwd: cfg.outDir, env: process.env, logPath: join(logs, 'hostcost-dd.log') });
  const pairs: HostCostResults['pairs'] = [];
  const attachS: number[] = [];
  const detachS: number[] = [];
  log(`hostcost: ${cfg.pairs} pair(s) of dd bs=1 count=${bytes}, untraced, with and without the probe attached`);
  for (let i = 0; i < cfg.pairs; i++) {
    const sleeper = spawn('sleep', ['3600'], { stdio: 'ignore' });
    try {
      const untracedFirst = i % 2 === 0;
      let untraced = untracedFirst ? await dd() : undefined;
      const t0 = process.hrtime.bigint();
      const tracer = startTracer({ bpftrace, params: { rootPid: sleeper.pid!, syscallThresholdNs: 10_000_000, offcpuThresholdNs: 10_000_000 }, onLine: () => {} });
      await tracer.ready;
      attachS.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const attached = await dd();
      const t1 = process.hrtime.bigint();
      await tracer.stop();
      detachS.push(Number(process.hrtime.bigint() - t1) / 1e9);
      untraced ??= await dd();
      if (untraced.exitCode !== 0 || attached.exitCode !== 0) throw new Error('dd failed (see .bench/logs/hostcost-dd.log)');
      pairs.push({ untracedS: untraced.wallNs / 1e9, attachedS: attached.wallNs / 1e9 });
      log(`hostcost: pair ${i + 1}: untraced ${round(untraced.wallNs / 1e9, 3)} s, probe attached ${round(attached.wallNs / 1e9, 3)} s`);
    } finally {
      sleeper.kill('SIGKILL');
    }
  }
  const syscalls = 2 * bytes;
  const added = pairs.map((p) => ((p.attachedS - p.untracedS) * 1e9) / syscalls);
  return {
    syscallsPerRun: syscalls,
    pairs: pairs.map((p) => ({ untracedS: round(p.untracedS, 3), attachedS: round(p.attachedS, 3) })),
    untracedNsPerSyscallMedian: round(median(pairs.map((p) => (p.untracedS * 1e9) / syscalls)), 0),
    addedNsPerSyscallMedian: round(median(added), 0),
    addedNsPerSyscallMin: round(min(added), 0),
    addedNsPerSyscallMax: round(max(added), 0),
    ratioMedian: round(median(pairs.map((p) => p.attachedS / p.untracedS)), 3),
    attachSecondsMedian: round(median(attachS), 2),
    detachSecondsMedian: round(median(detachS), 2),
  };
}
