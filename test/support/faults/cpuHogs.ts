// Fixture: CPU-bound hogs (`yes > /dev/null`), pinned with taskset, `perCpu` on each CPU, beside
// a traced build. Ended by pid on restore.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { stopChild } from './common.js';

export interface CpuHogs { pids: number[]; restore: () => Promise<void> }

export function startCpuHogs(perCpu: number): CpuHogs {
  const children: ChildProcess[] = [];
  for (let cpu = 0; cpu < availableParallelism(); cpu++) {
    for (let i = 0; i < perCpu; i++) {
      children.push(spawn('taskset', ['-c', String(cpu), 'sh', '-c', 'exec yes > /dev/null'], { stdio: 'ignore' }));
    }
  }
  return {
    pids: children.map((c) => c.pid!).filter((p) => p !== undefined),
    restore: async () => { await Promise.all(children.map((c) => stopChild(c))); },
  };
}
