/**
 * What the probe costs processes gostall does NOT trace, for each probe set: `run`'s
 * (raw_syscalls: every syscall on the machine runs its hooks while a command is traced)
 * and the always-on agent's (one tracepoint per syscall the rules need, none on read, one on
 * write that looks no further than the fd unless it is 2). Workloads, never traced: `dd bs=1`
 * from /dev/zero to /dev/null (two syscalls per byte: the worst case), `git status` in a
 * generated 20,000-file repository (lstat of every file: the calls the agent does hook), and
 * a process writing one byte at a time to stderr (the write hook's worst case: each call
 * looks the process up). Each pair measures a workload with nothing
 * attached and with the set attached (following a sleeping process only), in alternating
 * order; the cost shows in the workload's CPU time (user + system: the BPF programs run in
 * its context), which a loaded shared machine disturbs less than wall time.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { median, min, max, round } from './stats.js';
import { findBpftrace } from '../src/probe-runner/environment.js';
import { startTracer, type TracerParams } from '../src/probe-runner/bpftrace.js';
import type { ProbeSet } from '../src/probe-runner/probe-text.js';

export interface WorkloadCost {
  /** CPU seconds (user + system) per pair: nothing attached, and with the set attached */
  pairs: { untracedCpuS: number; attachedCpuS: number }[];
  ratioMedian: number;
  ratioMin: number;
  ratioMax: number;
}

export interface ProbeSetCost {
  set: ProbeSet;
  /** the agent set with its write hook (tracer.stderr: true) */
  stderrHook?: boolean;
  dd: WorkloadCost;
  git: WorkloadCost;
  /** one-byte writes to fd 2 */
  stderr: WorkloadCost;
  /** dd: added CPU ns per syscall (median) */
  ddAddedNsPerSyscallMedian: number;
  /** spawn → BEGIN, and SIGINT → exit (detach), medians */
  attachSecondsMedian: number;
  detachSecondsMedian: number;
}

export interface HostCostResults {
  syscallsPerDd: number;
  gitFiles: number;
  untracedNsPerSyscallMedian: number;
  sets: ProbeSetCost[];
}

const GIT_FILES = 20_000;

/** CPU seconds (user + system) of one command, as its bash parent's `times` reports for children. */
function cpuSeconds(cmd: string, cwd: string): number {
  const out = execFileSync('bash', ['-c', `${cmd} >/dev/null 2>&1; times`], { cwd, encoding: 'utf8' });
  const lines = out.trim().split('\n');
  const m = [...lines[lines.length - 1]!.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  if (m.length !== 2) throw new Error(`cannot read times output: ${out}`);
  return m[0]! + m[1]!;
}

/** A git repository of GIT_FILES committed files in 200 directories (made once). */
function gitTree(dir: string): void {
  if (existsSync(join(dir, '.git'))) return;
  mkdirSync(dir, { recursive: true });
  for (let d = 0; d < 200; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < GIT_FILES / 200; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `${d}/${f}\n`);
  }
  const git = (...a: string[]) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...a], { cwd: dir, stdio: 'ignore' });
  git('init', '-q'); git('add', '-A'); git('commit', '-qm', 'tree');
}

function summarize(pairs: WorkloadCost['pairs']): WorkloadCost {
  const ratios = pairs.map((p) => p.attachedCpuS / p.untracedCpuS);
  return {
    pairs: pairs.map((p) => ({ untracedCpuS: round(p.untracedCpuS, 3), attachedCpuS: round(p.attachedCpuS, 3) })),
    ratioMedian: round(median(ratios), 3), ratioMin: round(min(ratios), 3), ratioMax: round(max(ratios), 3),
  };
}

function paramsFor(set: ProbeSet, sleeperPid: number, stderr: boolean): TracerParams {
  const t = { syscallThresholdNs: 10_000_000, offcpuThresholdNs: 10_000_000 };
  return set === 'run'
    ? { rootPid: sleeperPid, ...t }
    : { rootPid: 0, ...t, agent: { executables: ['gostall-none'], cgroupId: 0, adoptPids: [sleeperPid], stderr } };
}

/** run's set, the agent's as configured by default, and the agent's with tracer.stderr */
const VARIANTS: { set: ProbeSet; stderrHook: boolean }[] = [{ set: 'run', stderrHook: false }, { set: 'agent', stderrHook: false }, { set: 'agent', stderrHook: true }];

export async function benchHostCost(cfg: BenchConfig, log: (line: string) => void): Promise<HostCostResults> {
  const bpftrace = findBpftrace();
  if (!bpftrace) throw new Error('bpftrace not found');
  const bytes = cfg.quick ? 200_000 : 1_000_000;
  const repo = join(cfg.outDir, 'gittree');
  log(`hostcost: making a ${GIT_FILES}-file git repository in ${repo} (once)`);
  gitTree(repo);
  // each workload pinned to one CPU: on a shared 2-vCPU VM, which vCPU it lands on (and what
  // its sibling does) moved the untraced dd by 2x between runs
  const pin = availableParallelism() > 1 ? 'taskset -c 1 ' : '';
  const dd = `${pin}dd if=/dev/zero of=/dev/null bs=1 count=${bytes}`;
  // five runs per measurement: one git status takes ~0.1 s
  const gitStatus = `${pin}sh -c 'for i in 1 2 3 4 5; do git status --porcelain; done'`;
  const stderrWriter = `${pin}perl -e 'syswrite(STDERR, "x") for 1..${bytes}'`;
  const measure = () => ({ dd: cpuSeconds(dd, cfg.outDir), git: cpuSeconds(gitStatus, repo), stderr: cpuSeconds(stderrWriter, cfg.outDir) });
  measure(); // warm the page cache and git's index for every variant alike
  const sets: ProbeSetCost[] = [];
  const untracedDd: number[] = [];
  for (const { set, stderrHook } of VARIANTS) {
    const ddPairs: WorkloadCost['pairs'] = [];
    const gitPairs: WorkloadCost['pairs'] = [];
    const stderrPairs: WorkloadCost['pairs'] = [];
    const attachS: number[] = [];
    const detachS: number[] = [];
    for (let i = 0; i < cfg.pairs; i++) {
      const sleeper = spawn('sleep', ['3600'], { stdio: 'ignore' });
      try {
        let untraced = i % 2 === 0 ? measure() : undefined;
        const t0 = process.hrtime.bigint();
        const tracer = startTracer({ bpftrace, params: paramsFor(set, sleeper.pid!, stderrHook), onLine: () => {} });
        await tracer.ready;
        attachS.push(Number(process.hrtime.bigint() - t0) / 1e9);
        const attached = measure();
        const t1 = process.hrtime.bigint();
        await tracer.stop();
        detachS.push(Number(process.hrtime.bigint() - t1) / 1e9);
        untraced ??= measure();
        ddPairs.push({ untracedCpuS: untraced.dd, attachedCpuS: attached.dd });
        gitPairs.push({ untracedCpuS: untraced.git, attachedCpuS: attached.git });
        stderrPairs.push({ untracedCpuS: untraced.stderr, attachedCpuS: attached.stderr });
        untracedDd.push(untraced.dd);
        log(`hostcost: ${set}${stderrHook ? '+stderr' : ''} pair ${i + 1}: dd ${round(untraced.dd, 3)} -> ${round(attached.dd, 3)} s CPU, git status ×5 ${round(untraced.git, 3)} -> ${round(attached.git, 3)} s CPU, stderr writes ${round(untraced.stderr, 3)} -> ${round(attached.stderr, 3)} s CPU`);
      } finally {
        sleeper.kill('SIGKILL');
      }
    }
    const added = ddPairs.map((p) => ((p.attachedCpuS - p.untracedCpuS) * 1e9) / (2 * bytes));
    sets.push({
      set, stderrHook, dd: summarize(ddPairs), git: summarize(gitPairs), stderr: summarize(stderrPairs),
      ddAddedNsPerSyscallMedian: round(median(added), 0),
      attachSecondsMedian: round(median(attachS), 2), detachSecondsMedian: round(median(detachS), 2),
    });
  }
  return {
    syscallsPerDd: 2 * bytes, gitFiles: GIT_FILES,
    untracedNsPerSyscallMedian: round(median(untracedDd.map((s) => (s * 1e9) / (2 * bytes))), 0),
    sets,
  };
}
