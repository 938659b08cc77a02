// Fixture: a cgroup v1 memory group with a small limit (memory.limit_in_bytes, and the swap
// limit too when the kernel accounts swap), for OOM kills of a compile. Removed on restore
// (its processes must have exited; removeCgroupDir waits for that).
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_CGROUP_PREFIX, removeCgroupDir } from './cgroups.js';
import { buildWithRollback, randomTag } from './common.js';

export const MEMORY_V1_ROOT = '/sys/fs/cgroup/memory';

export interface MemoryCgroup { dir: string; procsPath: string; restore: () => Promise<void> }

export async function createMemoryCgroup(limitBytes: number): Promise<MemoryCgroup> {
  if (!existsSync(join(MEMORY_V1_ROOT, 'memory.limit_in_bytes'))) throw new Error(`no cgroup v1 memory controller at ${MEMORY_V1_ROOT}`);
  const dir = join(MEMORY_V1_ROOT, `${TEST_CGROUP_PREFIX}mem-${randomTag()}`);
  return buildWithRollback(async (stack) => {
    await mkdir(dir);
    stack.push(`remove ${dir}`, () => removeCgroupDir(dir));
    await writeFile(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
    // Without a swap limit the kernel would swap the compile out instead of killing it.
    const memsw = join(dir, 'memory.memsw.limit_in_bytes');
    if (existsSync(memsw)) await writeFile(memsw, String(limitBytes));
    return { dir, procsPath: join(dir, 'cgroup.procs'), restore: () => stack.restore() };
  });
}
