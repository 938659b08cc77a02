/** The times the tracer was not running (restarts), kept to tell each process span how much of its life went unseen. */

/** Gaps kept at most: a tracer restarting more often than this is reported by its own metrics. */
const MAX_GAPS = 256;

export interface GapLog {
  add(startNs: number, endNs: number): void;
  /** How much of [startNs, endNs] fell into gaps. */
  overlapNs(startNs: number, endNs: number): number;
}

export function createGapLog(): GapLog {
  const gaps: { startNs: number; endNs: number }[] = [];
  return {
    add(startNs, endNs) {
      gaps.push({ startNs, endNs });
      if (gaps.length > MAX_GAPS) gaps.shift();
    },
    overlapNs(startNs, endNs) {
      let total = 0;
      for (const g of gaps) total += Math.max(0, Math.min(endNs, g.endNs) - Math.max(startNs, g.startNs));
      return total;
    },
  };
}
