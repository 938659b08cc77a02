/**
 * CLOCK_MONOTONIC (what bpftrace's nsecs reads) to wall-clock conversion. Node's
 * process.hrtime reads the same monotonic clock on Linux, so one offset converts every
 * probe timestamp. The offset is taken at a Date.now() millisecond edge, which puts it
 * within a few microseconds instead of within a millisecond.
 */

export interface WallClock {
  /** Unix epoch nanoseconds of a monotonic timestamp. */
  toEpochNs(monotonicNs: number): number;
  /** The current monotonic time in ns, on the probe's clock. */
  nowMonotonicNs(): number;
  /** Take the offset again (long-running agents: the wall clock may have been stepped). */
  resync(): void;
}

function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** Offset such that epochNs = monotonicNs + offset, measured at a millisecond edge. */
export function measureOffsetNs(): number {
  const start = Date.now();
  let ms = start;
  let mono = monotonicNs();
  // Spin to the next millisecond tick (at most ~1 ms) so the wall reading is exact there.
  while (ms === start) {
    mono = monotonicNs();
    ms = Date.now();
  }
  return ms * 1e6 - mono;
}

/** A wall clock for the running machine. */
export function createWallClock(): WallClock {
  let offset = measureOffsetNs();
  return {
    toEpochNs: (m) => m + offset,
    nowMonotonicNs: monotonicNs,
    resync: () => {
      offset = measureOffsetNs();
    },
  };
}

/** A wall clock with a fixed offset (replay of recordings, tests). */
export function createFixedClock(offsetNs: number): WallClock {
  return { toEpochNs: (m) => m + offsetNs, nowMonotonicNs: monotonicNs, resync: () => {} };
}
