/**
 * Every slow syscall record of a process, summarised without keeping them all: exact totals
 * per syscall class, plus a uniform sample per class. The slowest-N evidence lists are
 * biased towards outliers; the cause rules need "where did the slow calls go" (which mount,
 * which directory) and their median, which a uniform sample answers within a few percent at
 * a fixed cost per process. The sampler is deterministic (seeded by pid) so a replayed
 * recording gives the same diagnosis.
 */
import type { SlowSyscallEvent } from '../events/types.js';
import { SYSCALL_CLASSES, classOfSyscall, type SyscallClass } from '../events/schema.js';

/** Records kept per process and class; 64 puts a median within about ±6 percentiles. */
export const SLOW_SAMPLE_PER_CLASS = 64;

export interface SlowTotals {
  /** slow calls seen (kept or not) */
  count: number;
  /** time blocked in them (run-queue waits excluded) */
  blockedNs: number;
}

export interface SlowCalls {
  totals: Record<SyscallClass, SlowTotals>;
  /** a uniform sample of the slow calls of each class (all of them while there are few) */
  sample: Record<SyscallClass, SlowSyscallEvent[]>;
  /** xorshift32 state for the reservoir */
  seed: number;
}

export function createSlowCalls(pid: number): SlowCalls {
  const totals = {} as Record<SyscallClass, SlowTotals>;
  const sample = {} as Record<SyscallClass, SlowSyscallEvent[]>;
  for (const c of SYSCALL_CLASSES) {
    totals[c] = { count: 0, blockedNs: 0 };
    sample[c] = [];
  }
  return { totals, sample, seed: (pid * 2654435761) >>> 0 || 1 };
}

function nextRandom(s: SlowCalls): number {
  let x = s.seed;
  x ^= x << 13; x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5; x >>>= 0;
  s.seed = x || 1;
  return s.seed / 4294967296;
}

/** Count one slow call and keep it with the probability that keeps the sample uniform. */
export function addSlowCall(s: SlowCalls, e: SlowSyscallEvent): void {
  const cls = classOfSyscall(e.sc);
  const t = s.totals[cls];
  t.count++;
  t.blockedNs += Math.max(0, e.latencyNs - e.runqNs);
  const list = s.sample[cls];
  if (list.length < SLOW_SAMPLE_PER_CLASS) { list.push(e); return; }
  const j = Math.floor(nextRandom(s) * t.count);
  if (j < SLOW_SAMPLE_PER_CLASS) list[j] = e;
}
