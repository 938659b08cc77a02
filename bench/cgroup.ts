/**
 * A private cgroup v2 directory for the agent benchmark, so the agent (configured with
 * `cgroup`) traces the bench's own workload and not other Go tools running on the host.
 * Removed afterwards; its processes have exited by then.
 */
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where cgroup v2 is mounted: /sys/fs/cgroup on unified hosts, e.g. /sys/fs/cgroup/unified on hybrid ones. */
function cgroup2Root(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [, mountPoint, fsType] = line.split(' ');
      if (fsType === 'cgroup2' && mountPoint) return mountPoint.replace(/\\040/g, ' ');
    }
  } catch { /* no /proc */ }
  return undefined;
}

export interface BenchCgroup {
  path: string;
  /** argv prefix that runs a command inside the cgroup from its first instruction */
  wrap(file: string, args: string[]): [string, string[]];
  remove(): void;
}

export function createBenchCgroup(): BenchCgroup | undefined {
  const root = cgroup2Root();
  if (!root) return undefined;
  const path = join(root, `gostall-bench-${process.pid}`);
  try { mkdirSync(path); } catch { return undefined; }
  const procs = join(path, 'cgroup.procs');
  return {
    path,
    wrap: (file, args) => ['/bin/sh', ['-c', 'p=$1; shift; echo $$ > "$p" && exec "$@"', 'gostall-bench-cgroup', procs, file, ...args]],
    remove() {
      for (let i = 0; i < 20; i++) {
        try { rmdirSync(path); return; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); }
      }
    },
  };
}
