// Proves the CPU quota cgroup throttles a busy process, that cpu.stat is read in both layouts,
// and that the group is removed again.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CGROUP_V2_ROOT,
  createCpuQuotaCgroup,
  detectCpuLayout,
  parseCpuStat,
  type CpuQuotaCgroup,
} from '../support/faults/cpuQuota.js';
import { SYSTEM_PYTHON } from '../support/faults/slowFuse.js';

let group: CpuQuotaCgroup | undefined;

afterEach(async () => {
  await group?.restore();
  group = undefined;
});

/** Python one-liner that spins on the CPU for `seconds` of wall-clock time. */
const spinFor = (seconds: number): string[] => [
  '-c',
  `import time\nend = time.monotonic() + ${seconds}\nwhile time.monotonic() < end: pass`,
];

describe('createCpuQuotaCgroup', () => {
  it('throttles a busy process to its quota and reports it in cpu.stat', async () => {
    group = await createCpuQuotaCgroup({ quotaUs: 20_000, periodUs: 100_000 });
    const g = group;
    expect(g.cgroupDir).toMatch(/gostall-test-[0-9a-f]{8}$/);
    if (g.layout === 'v1') {
      expect((await readFile(`${g.cgroupDir}/cpu.cfs_quota_us`, 'utf8')).trim()).toBe('20000');
    } else {
      expect((await readFile(`${g.cgroupDir}/cpu.max`, 'utf8')).trim()).toBe('20000 100000');
    }
    const before = await g.readCpuStat();
    expect(before.nrThrottled).toBe(0);

    const result = await g.runInCgroup(SYSTEM_PYTHON, spinFor(1.0));
    expect(result.exitCode).toBe(0);
    const after = await g.readCpuStat();
    console.log(
      `${g.layout} quota 20%: spinning 1 s wall -> nr_periods ${after.nrPeriods}, ` +
        `nr_throttled ${after.nrThrottled}, throttled ${(after.throttledTimeNs / 1e6).toFixed(0)} ms`,
    );
    // At 20 % of one CPU, most of each 100 ms period is spent throttled.
    expect(after.nrThrottled).toBeGreaterThanOrEqual(5);
    expect(after.throttledTimeNs).toBeGreaterThan(300e6);
  });

  it('restore stops processes we left in the group and removes it; twice is fine', async () => {
    group = await createCpuQuotaCgroup({ quotaUs: 50_000 });
    const g = group;
    const sleeper = g.spawnInCgroup('sleep', ['60'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await readFile(g.cgroupProcsPath, 'utf8')).trim()).toBe(String(sleeper.pid));

    await g.restore();
    expect(sleeper.signalCode ?? sleeper.exitCode).not.toBeNull();
    expect(existsSync(g.cgroupDir)).toBe(false);
    await g.restore();
  });

  it('parses cpu.stat of both layouts into nanoseconds', () => {
    const v1 = 'nr_periods 12\nnr_throttled 9\nthrottled_time 812345678\nnr_bursts 0\nburst_time 0\n';
    expect(parseCpuStat(v1, 'v1')).toEqual({ nrPeriods: 12, nrThrottled: 9, throttledTimeNs: 812345678 });
    const v2 =
      'usage_usec 200000\nuser_usec 190000\nsystem_usec 10000\nnr_periods 11\nnr_throttled 10\n' +
      'throttled_usec 801234\nnr_bursts 0\nburst_usec 0\n';
    expect(parseCpuStat(v2, 'v2')).toEqual({ nrPeriods: 11, nrThrottled: 10, throttledTimeNs: 801234000 });
    expect(() => parseCpuStat('usage_usec 1\n', 'v2')).toThrow(/nr_periods/);
  });

  it('rolls back cleanly when the v2 cpu controller cannot be enabled (hybrid machine)', async (ctx) => {
    const controllers = await readFile(`${CGROUP_V2_ROOT}/cgroup.controllers`, 'utf8').catch(() => '');
    if ((await detectCpuLayout()) !== 'v1' || controllers.split(/\s+/).includes('cpu')) {
      ctx.skip(); // only meaningful where cpu is bound to v1, as on our machines
    }
    const subtreeBefore = await readFile(`${CGROUP_V2_ROOT}/cgroup.subtree_control`, 'utf8');
    const childrenBefore = (await readdir(CGROUP_V2_ROOT)).filter((n) => n.startsWith('gostall-test-'));
    await expect(createCpuQuotaCgroup({ quotaUs: 20_000, layout: 'v2' })).rejects.toThrow();
    expect(await readFile(`${CGROUP_V2_ROOT}/cgroup.subtree_control`, 'utf8')).toBe(subtreeBefore);
    expect((await readdir(CGROUP_V2_ROOT)).filter((n) => n.startsWith('gostall-test-'))).toEqual(childrenBefore);
  });
});
