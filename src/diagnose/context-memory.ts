/**
 * The memory limit of the cgroup a process ran in, for proc.oom_killed's evidence ("in
 * memory cgroup /ci-job (v1), limited to 48 MiB"). The cgroup is read from /proc/PID/cgroup
 * when the process execs (a shell may move itself into the group first, and an OOM-killed
 * compile is gone by the diagnosis); the limit is read on demand from the group's directory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MountEntry } from './mounts.js';
import type { MemoryLimit } from './types.js';

/** Limits at or above this are "no limit" (v1 prints 9223372036854771712 for none). */
const NO_LIMIT_BYTES = 2 ** 60;

export interface MemoryCgroupPaths { v1Memory: string | undefined; v2: string | undefined }

/** The v1 memory controller's path and the v2 path of a /proc/PID/cgroup text. */
export function parseMemoryCgroup(text: string): MemoryCgroupPaths {
  let v1Memory: string | undefined;
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const f = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!f) continue;
    if (f[1] === '0' && f[2] === '') v2 = f[3];
    else if (f[2]!.split(',').includes('memory')) v1Memory = f[3];
  }
  return { v1Memory, v2 };
}

function readLimit(file: string, none: (text: string) => boolean): number | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (none(text)) return undefined;
    const n = Number(text);
    return Number.isFinite(n) && n > 0 && n < NO_LIMIT_BYTES ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The binding limit of a cgroup: the smallest on the way up to the hierarchy's root. */
function smallestUp(mountPoint: string, path: string, file: string, none: (t: string) => boolean): number | undefined {
  let best: number | undefined;
  let p = path;
  for (let i = 0; i < 32 && p !== '/' && p !== ''; i++) {
    const v = readLimit(join(mountPoint, p, file), none);
    if (v !== undefined && (best === undefined || v < best)) best = v;
    p = p.slice(0, p.lastIndexOf('/')) || '/';
  }
  return best;
}

/** The memory limit for the cgroup paths, through the machine's cgroup mounts (v1 memory first). */
export function memoryLimitOf(paths: MemoryCgroupPaths, mounts: MountEntry[]): MemoryLimit | undefined {
  if (paths.v1Memory !== undefined) {
    const m = mounts.find((e) => e.fsType === 'cgroup' && e.superOptions.split(',').includes('memory') && e.root === '/');
    const limit = m ? smallestUp(m.mountPoint, paths.v1Memory, 'memory.limit_in_bytes', () => false) : undefined;
    if (limit !== undefined) return { version: 1, path: paths.v1Memory, limitBytes: limit };
  }
  if (paths.v2 !== undefined) {
    const m = mounts.find((e) => e.fsType === 'cgroup2' && e.root === '/');
    const limit = m ? smallestUp(m.mountPoint, paths.v2, 'memory.max', (t) => t === 'max') : undefined;
    if (limit !== undefined) return { version: 2, path: paths.v2, limitBytes: limit };
  }
  return undefined;
}
