/**
 * Preloaded into the gostall process under test (`node --import`): when it exits, write its
 * own resource usage (peak RSS = VmHWM, CPU time) to GOSTALL_BENCH_USAGE_FILE. Reading
 * /proc from outside would miss the peak reached while the trace is published at the end.
 */
import { writeFileSync } from 'node:fs';

export interface ExitUsage {
  maxRssKiB: number;
  userCpuMicros: number;
  systemCpuMicros: number;
}

const file = process.env.GOSTALL_BENCH_USAGE_FILE;
if (file) {
  process.once('exit', () => {
    const u = process.resourceUsage();
    const usage: ExitUsage = { maxRssKiB: u.maxRSS, userCpuMicros: u.userCPUTime, systemCpuMicros: u.systemCPUTime };
    try { writeFileSync(file, JSON.stringify(usage), { mode: 0o600 }); } catch { /* measurement only */ }
  });
}
