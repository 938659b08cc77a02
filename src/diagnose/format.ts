/** Numbers in evidence text: written for people, with units, never in raw nanoseconds. */

export { formatDuration } from '../vocabulary/units.js';

// one formatter: toLocaleString builds a new one at every call (12 ms of a cold build's publish)
const COUNT_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 242,890 */
export function formatCount(n: number): string {
  return COUNT_FORMAT.format(Math.round(n));
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
