/**
 * Durations and sizes, parsed and written one way everywhere: flags (--threshold), the
 * agent's config file, evidence text and the terminal summary. Units live in the values
 * ("50ms", "256MiB"); a bare number is not a duration.
 */

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9 };

/** Longest duration any setting takes. */
const MAX_DURATION_NS = 3600e9;

/** "50ms", "1.5s", "200us" → nanoseconds; throws an Error naming `what` on anything else. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`${what} needs a duration with a unit, like 50ms or 1s (got ${JSON.stringify(text)})`);
  const ns = Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
  if (!Number.isSafeInteger(ns) || ns > MAX_DURATION_NS) throw new Error(`${what} is out of range (at most 1h)`);
  return ns;
}

/** A duration as a setting would be written: 2s, 500ms, 250us. */
export function formatDurationSetting(ns: number): string {
  if (ns >= 1e9 && ns % 1e9 === 0) return `${ns / 1e9}s`;
  if (ns >= 1e6 && ns % 1e6 === 0) return `${ns / 1e6}ms`;
  return `${ns / 1e3}us`;
}

/** For people: 3 µs, 850 µs, 4.6 ms, 290 ms, 9.34 s, 2m05s. */
export function formatDuration(ns: number): string {
  if (ns < 1e6) return `${Math.max(0, Math.round(ns / 1e3))} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 1 : 0)} ms`;
  if (ns < 120e9) return `${(ns / 1e9).toFixed(2)} s`;
  const s = Math.round(ns / 1e9);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** "256MiB", "1GB", 1048576 → bytes; throws an Error on anything else. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(v.trim());
  if (!m) throw new Error(`expected a size like 256MiB or 1GB, got ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!]!);
}
