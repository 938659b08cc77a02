/**
 * Where the tracing overhead goes: one extra `gostall run` of the build workload with BPF
 * run-time statistics on (they add their own small cost, so this run is not part of the
 * timed pairs). Reports each probe program's run count and time. Program runs count hits
 * from every task on the host: the probes filter by process tree inside the program.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { pollProgStats, withBpfStats, type ProgStat } from './bpf-prog-stats.js';
import { readRootSpan } from './otlp-root.js';
import { findChild } from './proc-sampler.js';
import { round } from './stats.js';
import { runTimed } from './timed-command.js';

export interface ProbeCostResults {
  pkgs: string[];
  wallSeconds: number;
  commandSeconds: number | undefined;
  programs: ProgStat[];
  totalRunCount: number;
  totalRunSeconds: number;
  /** BPF time ÷ (command runtime × CPUs): the share of the machine the probes used */
  shareOfMachine: number | undefined;
}

export async function benchProbeCost(cfg: BenchConfig, cpuCount: number, log: (line: string) => void): Promise<ProbeCostResults> {
  const logs = join(cfg.outDir, 'logs');
  const work = join(cfg.outDir, 'work');
  mkdirSync(work, { recursive: true });
  const outFile = join(logs, 'probecost.otlp.jsonl');
  rmSync(outFile, { force: true });
  const gocache = mkdtempSync(join(cfg.outDir, 'gocache-'));
  log('probecost: one traced build with kernel.bpf_stats_enabled=1 (restored afterwards)');
  try {
    return await withBpfStats(async () => {
      let bpftracePid: number | undefined;
      let gostallPid: number | undefined;
      const poller = pollProgStats(() => {
        if (bpftracePid === undefined && gostallPid !== undefined) bpftracePid = findChild(gostallPid, 'bpftrace');
        return bpftracePid;
      });
      const run = await runTimed(process.execPath, [join(cfg.root, 'bin/gostall.js'), 'run', '--out', outFile, '--', 'go', 'build', '-a', ...cfg.pkgs], {
        cwd: work, env: { ...process.env, GOCACHE: gocache, GOFLAGS: '' }, logPath: join(logs, 'probecost.log'),
        onSpawn: (pid) => { gostallPid = pid; },
      });
      const programs = await poller.stop();
      let commandSeconds: number | undefined;
      try { const d = readRootSpan(outFile)?.durationNs; commandSeconds = d === undefined ? undefined : d / 1e9; } catch { commandSeconds = undefined; }
      const totalRunSeconds = programs.reduce((a, p) => a + p.runTimeNs, 0) / 1e9;
      return {
        pkgs: cfg.pkgs,
        wallSeconds: round(run.wallNs / 1e9, 3),
        commandSeconds: commandSeconds === undefined ? undefined : round(commandSeconds, 3),
        programs,
        totalRunCount: programs.reduce((a, p) => a + p.runCount, 0),
        totalRunSeconds: round(totalRunSeconds, 4),
        shareOfMachine: commandSeconds ? round(totalRunSeconds / (commandSeconds * cpuCount), 4) : undefined,
      };
    });
  } finally {
    rmSync(gocache, { recursive: true, force: true });
  }
}
