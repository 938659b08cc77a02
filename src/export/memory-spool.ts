/**
 * The Spool interface held in memory, for one-shot commands (run, replay): what the
 * collector could not take before the deadline waits here and is counted as undelivered
 * when the command ends, instead of being written to disk nobody will replay. Bounded like
 * the disk spool: the oldest requests are evicted (and counted) to make room.
 */
import type { Spool, SpoolEntry } from './spool.js';

export function createMemorySpool(maxBytes: number): Spool {
  const entries: SpoolEntry[] = [];
  const bodies = new Map<SpoolEntry, Uint8Array>();
  let total = 0;
  let totalSpans = 0;
  let busy: SpoolEntry | undefined;

  function drop(e: SpoolEntry): void {
    const i = entries.indexOf(e);
    if (i === -1) return;
    entries.splice(i, 1);
    bodies.delete(e);
    total -= e.bytes;
    totalSpans -= e.spans;
  }

  const spool: Spool = {
    onEvict: undefined,
    dir: '(memory)',
    count: () => entries.length,
    bytes: () => total,
    spans: () => totalSpans,
    maxSeqAtOpen: 0,
    async append(body, meta) {
      if (body.byteLength > maxBytes) return { ok: false, reason: 'spool_full' };
      while (total + body.byteLength > maxBytes) {
        const victim = entries.find((e) => e !== busy);
        if (!victim) return { ok: false, reason: 'spool_full' };
        drop(victim);
        spool.onEvict?.(victim);
      }
      const e: SpoolEntry = { ...meta, bytes: body.byteLength, file: '' };
      let i = entries.length;
      while (i > 0 && entries[i - 1]!.seq > e.seq) i--;
      entries.splice(i, 0, e);
      bodies.set(e, body);
      total += e.bytes;
      totalSpans += e.spans;
      return { ok: true };
    },
    oldest: () => entries[0],
    async read(e) {
      const b = bodies.get(e);
      if (!b) throw new Error('spool entry gone');
      return b;
    },
    async remove(e) {
      drop(e);
      if (busy === e) busy = undefined;
    },
    setBusy(e) {
      busy = e;
    },
    async idle() {},
  };
  return spool;
}
