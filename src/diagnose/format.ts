/** Numbers in evidence text: written for people, with units, never in raw nanoseconds. */

/** 3 µs, 850 µs, 4.6 ms, 290 ms, 9.34 s, 2m05s. */
export function formatDuration(ns: number): string {
  if (ns < 1e6) return `${Math.max(0, Math.round(ns / 1e3))} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 1 : 0)} ms`;
  if (ns < 120e9) return `${(ns / 1e9).toFixed(2)} s`;
  const s = Math.round(ns / 1e9);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** 242,890 */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** "1 time", "3 times" and the like. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** 0.87 → "87%" */
export function formatPercent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/** At most n items joined with ", ", then "and N more". */
export function listSome(items: string[], n = 3): string {
  const shown = items.slice(0, n).join(', ');
  return items.length > n ? `${shown} and ${items.length - n} more` : shown;
}

/** 48 MiB, 1.5 GiB, 512 KiB. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? Math.round(v) : Number(v.toFixed(v < 10 ? 1 : 0))} ${units[i]}`;
}
