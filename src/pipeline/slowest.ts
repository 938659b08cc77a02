/**
 * The slowest syscalls and connects of a tree, as the terminal summary lists them. The
 * root span carries them too (gostall.summary.slowest*), so `gostall report` can print the
 * same list: most of them are below the span threshold and have no span of their own.
 */
import { errnoName } from '../vocabulary/errno.js';
import { PROBE_SYSCALL_NAMES } from '../vocabulary/syscalls.js';
import { displayName as defaultName, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';

/** How many operations the summary lists at most, and from what time on. */
export const SLOWEST_DEFAULT = 5;
const SLOWEST_MIN_NS = 1e6;

export interface SlowOperation { ns: number; text: string }

/**
 * The slowest syscalls and connects of a tree, as the summary lists them. The root span
 * carries them too (gostall.summary.slowest*), so `gostall report` can print the same list:
 * most of them are below the span threshold and have no span of their own.
 */
export function slowestOperations(root: ProcessNode, max = SLOWEST_DEFAULT, displayName: (p: ProcessNode) => string = defaultName): SlowOperation[] {
  const slow: SlowOperation[] = [];
  for (const p of walk(root)) {
    for (const e of [...p.slowSyscalls, ...p.failedSyscalls]) {
      const name = PROBE_SYSCALL_NAMES[e.sc] ?? `syscall ${e.sc}`;
      const where = e.path !== undefined ? ` ${JSON.stringify(e.path)}` : e.fd >= 0 ? ` fd ${e.fd}` : '';
      const err = e.ret < 0 ? ` → ${errnoName(-e.ret)}` : '';
      slow.push({ ns: e.latencyNs - e.runqNs, text: `${name}${where}${err} (${displayName(p)}, pid ${p.pid})` });
    }
    for (const c of p.connects) {
      if (!c.established || c.durationNs >= 1e9) {
        slow.push({ ns: c.durationNs, text: `tcp connect ${c.address}:${c.port} ${c.established ? 'slow' : 'failed'} (${displayName(p)}, pid ${p.pid})` });
      }
    }
  }
  slow.sort((a, b) => b.ns - a.ns);
  return slow.slice(0, max).filter((e) => e.ns >= SLOWEST_MIN_NS);
}

