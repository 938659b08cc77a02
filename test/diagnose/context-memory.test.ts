// The memory limit of the cgroup a process exec'd in, for proc.oom_killed's evidence.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLimitOf, parseMemoryCgroup } from '../../src/diagnose/context-memory.js';
import { rule } from '../../src/diagnose/rules/proc-oom-killed.js';
import type { MountEntry } from '../../src/diagnose/mounts.js';
import { context, proc } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-memcg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mounts = (v1: string, v2: string): MountEntry[] => [
  { mountPoint: v1, fsType: 'cgroup', source: 'cgroup', majMin: '0:1', root: '/', superOptions: 'rw,memory' },
  { mountPoint: v2, fsType: 'cgroup2', source: 'cgroup2', majMin: '0:2', root: '/', superOptions: 'rw' },
];

describe('memory cgroup limits', () => {
  it('reads the v1 memory path and the v2 path of /proc/PID/cgroup', () => {
    expect(parseMemoryCgroup('12:cpu,cpuacct:/a\n9:memory:/ci/job\n0::/user.slice\n')).toEqual({ v1Memory: '/ci/job', v2: '/user.slice' });
  });

  it('takes the smallest limit on the way up, and treats v1\'s huge number and v2\'s "max" as none', () => {
    const v1 = join(dir, 'memory'), v2 = join(dir, 'unified');
    mkdirSync(join(v1, 'ci/job'), { recursive: true });
    writeFileSync(join(v1, 'ci/memory.limit_in_bytes'), `${64 * 1024 * 1024}\n`);
    writeFileSync(join(v1, 'ci/job/memory.limit_in_bytes'), '9223372036854771712\n');
    mkdirSync(join(v2, 'user.slice'), { recursive: true });
    writeFileSync(join(v2, 'user.slice/memory.max'), 'max\n');
    expect(memoryLimitOf({ v1Memory: '/ci/job', v2: '/user.slice' }, mounts(v1, v2))).toEqual({ version: 1, path: '/ci/job', limitBytes: 64 * 1024 * 1024 });
    expect(memoryLimitOf({ v1Memory: undefined, v2: '/user.slice' }, mounts(v1, v2))).toBeUndefined();
  });

  it('names the cgroup and its limit in proc.oom_killed', () => {
    const p = proc({ name: 'compile', args: ['compile'] });
    p.oomKilled = true;
    const ctx = context();
    ctx.memoryLimitOf = () => ({ version: 1, path: '/gostall-test-mem', limitBytes: 48 * 1024 * 1024 });
    expect(rule(p, ctx)[0]!.evidence).toContain('(its memory cgroup /gostall-test-mem (v1) is limited to 48 MiB)');
  });
});
