/**
 * Go build cache hits and misses from the go command's own opens of its cache entries
 * (H records; issue 13). The go command looks an action up by opening GOCACHE/xx/<hash>-a
 * read-only (xx: the hash's first byte): the file found is a hit, ENOENT a miss. It writes
 * an entry by opening it for writing, and often opens it again afterwards to read it back:
 * so only a read-only open of an entry that this go process had neither looked up nor
 * written before is a lookup. Output files (<hash>-d), the cache's own files (README,
 * trim.txt) and anything else are ignored. `go build -a` writes entries without looking
 * them up: it has writes and no lookups.
 */
import type { GoCacheOpenEvent } from '../events/types.js';

/** Distinct entries remembered per go process; beyond it opens are counted as dropped (a build has tens to thousands). */
export const MAX_GOCACHE_ENTRIES_PER_PROCESS = 50_000;

/** One go process's lookups and writes of action entries. */
export interface GoCacheLookups {
  hits: number;
  misses: number;
  /** distinct action entries opened for writing */
  writes: number;
  /** opens not classified because the per-process bound was reached */
  dropped: number;
  /** action hashes already looked up ('l') or written ('w') by this process */
  seen: Map<string, 'l' | 'w'>;
}

const ACTION_ENTRY = /^([0-9a-f]{2})\/([0-9a-f]{64})-a$/;
const ENOENT = -2;

export function emptyGoCacheLookups(): GoCacheLookups {
  return { hits: 0, misses: 0, writes: 0, dropped: 0, seen: new Map() };
}

/** Counts one open under GOCACHE (see the header for what counts). */
export function addGoCacheOpen(l: GoCacheLookups, e: Pick<GoCacheOpenEvent, 'ret' | 'write' | 'entry'>): void {
  const m = ACTION_ENTRY.exec(e.entry);
  if (!m || !m[2]!.startsWith(m[1]!)) return;
  const hash = m[2]!;
  const before = l.seen.get(hash);
  if (e.write) {
    if (e.ret < 0 || before === 'w') return;
    if (before === undefined && l.seen.size >= MAX_GOCACHE_ENTRIES_PER_PROCESS) { l.dropped++; return; }
    l.writes++;
    l.seen.set(hash, 'w');
    return;
  }
  if (before !== undefined) return;
  if (l.seen.size >= MAX_GOCACHE_ENTRIES_PER_PROCESS) { l.dropped++; return; }
  if (e.ret === ENOENT) l.misses++;
  else if (e.ret >= 0) l.hits++;
  else return;
  l.seen.set(hash, 'l');
}

/** A build's totals over its go processes; hitRatio is undefined when nothing was looked up (go build -a). */
export interface GoCacheTotals { hits: number; misses: number; writes: number; hitRatio: number | undefined }

/** Sums the go processes' counts; undefined when none opened an action entry (no cache seen). */
export function sumGoCache(all: Iterable<GoCacheLookups | undefined>): GoCacheTotals | undefined {
  let hits = 0, misses = 0, writes = 0;
  for (const l of all) {
    if (!l) continue;
    hits += l.hits;
    misses += l.misses;
    writes += l.writes;
  }
  const lookups = hits + misses;
  if (lookups + writes === 0) return undefined;
  return { hits, misses, writes, hitRatio: lookups === 0 ? undefined : hits / lookups };
}
