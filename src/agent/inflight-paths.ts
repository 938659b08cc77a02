/**
 * Names what a stuck syscall is waiting on. /proc/TID/syscall gives only the path pointer
 * (path calls) or the fd (read, getdents); the agent reads the path from the
 * thread's memory (/proc/TID/mem) or the fd's target (/proc/TID/fd/N), once per call.
 *
 * Reads are asynchronous and few at a time: reading another process's memory takes its
 * mmap lock, which a thread stuck in a page fault on the same hung mount may hold, and the
 * agent must never block its event loop on the thing it is diagnosing. The answer is ready
 * by the next look (a second later); until then the path is unknown.
 */
import { open, readlink } from 'node:fs/promises';
import { FD_SYSCALLS, PROBE_STRLEN } from '../events/schema.js';
import { bytesToText } from '../events/unescape.js';

/** Concurrent /proc reads at most (libuv has 4 threads; leave room for the rest of the agent). */
const MAX_IN_FLIGHT = 2;
const MAX_CACHED = 4096;

export interface InflightPathResolver {
  /** The path for this call if already known; starts looking it up otherwise. */
  pathOf(tid: number, startNs: number, sc: number, arg: number): string | undefined;
}

async function readCString(tid: number, address: number): Promise<string | undefined> {
  const fh = await open(`/proc/${tid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(PROBE_STRLEN * 2);
    const { bytesRead } = await fh.read(buf, 0, buf.length, address);
    const nul = buf.subarray(0, bytesRead).indexOf(0);
    if (nul <= 0) return undefined;
    return bytesToText(buf.subarray(0, nul));
  } finally {
    await fh.close();
  }
}

export function createInflightPathResolver(): InflightPathResolver {
  const known = new Map<string, string | null>();
  const pending = new Set<string>();

  function lookUp(key: string, tid: number, sc: number, arg: number): void {
    pending.add(key);
    const p = FD_SYSCALLS.has(sc) ? readlink(`/proc/${tid}/fd/${arg}`) : readCString(tid, arg);
    p.then((path) => { known.set(key, path ?? null); }, () => { known.set(key, null); })
      .finally(() => { pending.delete(key); });
  }

  return {
    pathOf(tid, startNs, sc, arg) {
      const key = `${tid}:${startNs}`;
      const hit = known.get(key);
      if (hit !== undefined) return hit ?? undefined;
      if (pending.size < MAX_IN_FLIGHT && !pending.has(key) && arg > 0) {
        if (known.size >= MAX_CACHED) known.clear();
        lookUp(key, tid, sc, arg);
      }
      return undefined;
    },
  };
}
