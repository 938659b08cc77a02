// cgroup CPU quota and throttling, read from a fake cgroup tree laid out like v1 and v2.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuCgroupOf, parseCpuStat, parseProcCgroup, readCpuQuota, watchCpuCgroup } from '../../src/diagnose/context-cgroup.js';
import { parseMountinfo, type MountEntry } from '../../src/diagnose/mounts.js';

const root = mkdtempSync(join(tmpdir(), 'gostall-cgroup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const proc = join(root, 'proc');
const v1 = join(root, 'cpu');
const v2 = join(root, 'unified');
const mounts: MountEntry[] = parseMountinfo([
  `30 25 0:27 / ${v1} rw,nosuid - cgroup cgroup rw,cpu`,
  `31 25 0:28 / ${join(root, 'cpuacct')} rw - cgroup cgroup rw,cpuacct`,
  `32 25 0:29 / ${v2} rw - cgroup2 cgroup2 rw`,
].join('\n'));

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

describe('parsing', () => {
  it('reads the cpu controller path (v1) and the v2 path from /proc/PID/cgroup', () => {
    expect(parseProcCgroup('12:cpuset:/\n2:cpu,cpuacct:/docker/abc\n0::/user.slice\n')).toEqual({ v1Cpu: '/docker/abc', v2: '/user.slice' });
    expect(parseProcCgroup('3:cpuacct:/a\n1:cpuset:/b\n')).toEqual({ v1Cpu: undefined, v2: undefined });
  });
  it('normalises cpu.stat of both versions to ns', () => {
    expect(parseCpuStat('nr_periods 33\nnr_throttled 27\nthrottled_time 2443637049\n', 1)).toEqual({ periods: 33, throttledPeriods: 27, throttledNs: 2443637049 });
    expect(parseCpuStat('usage_usec 10\nnr_periods 5\nnr_throttled 2\nthrottled_usec 1500\n', 2)).toEqual({ periods: 5, throttledPeriods: 2, throttledNs: 1_500_000 });
    expect(parseCpuStat('usage_usec 10\n', 2)).toBeUndefined();
  });
  it('keeps mount root and super options (cgroup controllers)', () => {
    expect(mounts[0]).toMatchObject({ root: '/', superOptions: 'rw,cpu', fsType: 'cgroup' });
  });
});

describe('v1: a process that moves itself into a limited group after it started', () => {
  it('reports the group it moved to, the binding quota on the way up, and the throttling during the run', () => {
    write(join(proc, '100/cgroup'), '1:cpu:/\n0::/\n');
    write(join(v1, 'cpu.stat'), 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n');
    write(join(v1, 'build/cpu.cfs_quota_us'), '150000\n');
    write(join(v1, 'build/cpu.cfs_period_us'), '100000\n');
    write(join(v1, 'build/job/cpu.cfs_quota_us'), '-1\n');
    write(join(v1, 'build/job/cpu.cfs_period_us'), '100000\n');
    write(join(v1, 'build/job/cpu.stat'), 'nr_periods 10\nnr_throttled 1\nthrottled_time 5000000\n');
    const watch = watchCpuCgroup(100, mounts, proc);
    watch.sample();
    write(join(proc, '100/cgroup'), '1:cpu:/build/job\n0::/\n');
    watch.sample();
    write(join(v1, 'build/job/cpu.stat'), 'nr_periods 40\nnr_throttled 25\nthrottled_time 2005000000\n');
    expect(watch.finish()).toEqual({
      version: 1, path: '/build/job', quotaCpus: 1.5, quotaUs: 150000, periodUs: 100000,
      periods: 30, throttledPeriods: 24, throttledNs: 2e9, movedDuringRun: true,
    });
  });
});

describe('v2', () => {
  it('reads cpu.max and cpu.stat when there is no v1 cpu controller', () => {
    const only2 = mounts.filter((m) => m.fsType === 'cgroup2');
    write(join(proc, '200/cgroup'), '0::/pod/ctr\n');
    write(join(v2, 'pod/cpu.max'), '50000 100000\n');
    write(join(v2, 'pod/ctr/cpu.max'), 'max 100000\n');
    write(join(v2, 'pod/ctr/cpu.stat'), 'nr_periods 1\nnr_throttled 0\nthrottled_usec 0\n');
    const ref = cpuCgroupOf(200, only2, proc)!;
    expect(ref).toEqual({ version: 2, path: '/pod/ctr', dir: join(v2, 'pod/ctr') });
    expect(readCpuQuota(ref)).toEqual({ quotaUs: 50000, periodUs: 100000, quotaCpus: 0.5 });
  });
  it('has no quota when every level says max', () => {
    write(join(v2, 'free/cpu.max'), 'max 100000\n');
    expect(readCpuQuota({ version: 2, path: '/free', dir: join(v2, 'free') }).quotaCpus).toBeUndefined();
  });
});
