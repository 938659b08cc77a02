/**
 * CLOCK_MONOTONIC (what bpftrace's nsecs reads) to wall-clock conversion. Node's
 * process.hrtime reads the same monotonic clock on Linux, so one offset converts every
 * probe timestamp. The offset is taken at a Date.now() millisecond edge, which puts it
 * within a few microseconds instead of within a millisecond.
 *
 * Epoch nanoseconds (~1.8e18) do not fit a double exactly (steps of 256 ns), so the offset
 * is kept as an exact pair (wall milliseconds, monotonic ns at that edge) and toHrTime
 * builds [seconds, nanoseconds] from integers that do fit.
 */

export type HrTimePair = [seconds: number, nanoseconds: number];

export interface WallClock {
  /** Unix epoch nanoseconds of a monotonic timestamp (as a double: within 256 ns). */
  toEpochNs(monotonicNs: number): number;
  /** Unix epoch [seconds, nanoseconds] of a monotonic timestamp, exact to the nanosecond. */
  toHrTime(monotonicNs: number): HrTimePair;
  /** The current monotonic time in ns, on the probe's clock. */
  nowMonotonicNs(): number;
  /** Take the offset again (long-running agents: the wall clock may have been stepped). */
  resync(): void;
}

/** epoch = wallMs × 1e6 + (monotonic − monoNs); both parts are exact integers. */
export interface ClockOffset { wallMs: number; monoNs: number }

function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** A Date.now() millisecond edge: wallMs began between the monotonic readings loNs and hiNs. */
interface Edge { wallMs: number; loNs: number; hiNs: number }

function nextEdge(): Edge {
  let lo = monotonicNs();
  let wall = Date.now(); // returned after lo
  for (;;) {
    const a = monotonicNs();
    const w = Date.now();
    const b = monotonicNs();
    if (w !== wall) return { wallMs: w, loNs: lo, hiNs: b };
    lo = a; // the edge is after this call, which returned after a
    wall = w;
  }
}

/** Edges measured at most, and the window (ns) that ends the search early. */
const MAX_EDGES = 20;
const GOOD_WINDOW_NS = 10_000;

/**
 * The wall/monotonic pair at a Date.now() millisecond edge, from the narrowest of a few
 * edges. A single edge is exact to a microsecond unless the thread is preempted while it
 * spins; on a loaded machine that put the offset up to 1.5 ms off (measured against
 * Python's time.time_ns/clock_gettime_ns pair), so windows wider than 10 µs are retried.
 */
export function measureOffset(): ClockOffset {
  let best = nextEdge();
  for (let i = 1; i < MAX_EDGES && best.hiNs - best.loNs > GOOD_WINDOW_NS; i++) {
    const e = nextEdge();
    if (e.hiNs - e.loNs < best.hiNs - best.loNs) best = e;
  }
  return { wallMs: best.wallMs, monoNs: Math.round((best.loNs + best.hiNs) / 2) };
}

/** Offset such that epochNs = monotonicNs + offset (as a double; see measureOffset for the exact pair). */
export function measureOffsetNs(): number {
  const o = measureOffset();
  return o.wallMs * 1e6 - o.monoNs;
}

/** [seconds, nanoseconds] of wallMs × 1e6 + deltaNs, from exact integer arithmetic. */
function hrFrom(wallMs: number, deltaNs: number): HrTimePair {
  const msInSecond = wallMs % 1000;
  const ns = msInSecond * 1e6 + deltaNs;
  let sec = (wallMs - msInSecond) / 1000 + Math.floor(ns / 1e9);
  let rest = ns - Math.floor(ns / 1e9) * 1e9;
  // Guard the floor of a rounded quotient at an exact second boundary.
  if (rest < 0) { rest += 1e9; sec -= 1; } else if (rest >= 1e9) { rest -= 1e9; sec += 1; }
  return [sec, Math.round(rest)];
}

/** A wall clock for an offset pair. */
export function clockFromOffset(initial: ClockOffset, remeasure: () => ClockOffset = measureOffset): WallClock {
  let o = initial;
  return {
    toEpochNs: (m) => o.wallMs * 1e6 + (m - o.monoNs),
    toHrTime: (m) => hrFrom(o.wallMs, m - o.monoNs),
    nowMonotonicNs: monotonicNs,
    resync: () => {
      o = remeasure();
    },
  };
}

/** A wall clock for the running machine. */
export function createWallClock(): WallClock {
  return clockFromOffset(measureOffset());
}

/** A wall clock with a fixed offset in ns (replay of recordings, tests). */
export function createFixedClock(offsetNs: number): WallClock {
  // Split into whole milliseconds and a remainder so toHrTime stays exact for exact inputs.
  const wallMs = Math.floor(offsetNs / 1e6);
  const fixed: ClockOffset = { wallMs, monoNs: -(offsetNs - wallMs * 1e6) };
  return clockFromOffset(fixed, () => fixed);
}
