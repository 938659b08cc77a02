/** Where gostall's own files are, whether running from src/ (tests) or dist/src/ (installed). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest ancestor holding probes/linux/gostall.bt. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'probes/linux/gostall.bt'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('gostall installation is incomplete: probes/linux/gostall.bt not found');
    dir = up;
  }
}

export const linuxProbeScript = (): string => join(packageRoot(), 'probes/linux/gostall.bt');
/** Starts bpftrace with the short tracepoint list (src/probe-runner/event-list.ts). */
export const tracerLauncherPath = (): string => join(packageRoot(), 'shim/gostall-bpftrace');
