// cpu.throttled: the cgroup's CPU quota held the run back.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/cpu-throttled.js';
import type { CgroupCpuUsage } from '../../../src/diagnose/types.js';
import { MS, S, context, devGoEnv, proc } from '../fixtures.js';

function usage(over: Partial<CgroupCpuUsage> = {}): CgroupCpuUsage {
  return {
    version: 1, path: '/kubepods/pod1', quotaCpus: 0.2, quotaUs: 20_000, periodUs: 100_000, periods: 30, throttledPeriods: 28,
    throttledNs: 3.41 * S, movedDuringRun: false, ...over,
  };
}

describe('cpu.throttled', () => {
  it('blames a 0.2-CPU quota with GOMAXPROCS above it, on the root, with numbers and the right fix', () => {
    const root = proc({ wallNs: 2.82 * S, args: ['go', 'build', './...'] });
    const [c] = rule(root, context({ cgroupCpu: usage(), go: devGoEnv({ GOMAXPROCS: 8 }) }));
    expect(c!.process).toBe(root);
    expect(c!.evidence).toBe('cgroup /kubepods/pod1 (v1) allows 0.2 CPUs (cpu.cfs_quota_us 20000 per 100000 µs) but Go ran with ' +
      'GOMAXPROCS=8 (its default: the CPU count, ignoring the quota); throttled in 28 of 30 periods, held back 3.41 s ' +
      '(summed over CPUs) during the 2.82 s run');
    expect(c!.hint).toContain('GOMAXPROCS=1 (and go build -p 1)');
    expect(c!.attributes).toEqual({ 'gostall.cause.cgroup': '/kubepods/pod1', 'gostall.cause.cpu_quota': 0.2, 'gostall.cause.gomaxprocs': 8 });
  });

  it('says how many compiles the go command ran at once against the quota', () => {
    const root = proc({ wallNs: 2.82 * S, args: ['go', 'build', './...'] });
    for (let i = 0; i < 4; i++) {
      const c = proc({ parent: root, name: 'compile', args: ['compile', '-o', `/tmp/go-build1/b00${i}/_pkg_.a`, '-p', `example.org/p${i}`], wallNs: 2 * S });
      c.exec!.filename = '/usr/lib/go-1.19/pkg/tool/linux_amd64/compile';
    }
    const [c] = rule(root, context({ cgroupCpu: usage(), go: devGoEnv({ GOMAXPROCS: 8 }) }));
    expect(c!.evidence).toMatch(/during the 2\.82 s run; up to 4 compiles ran at once against the quota's 0\.2 CPUs$/);
    expect(c!.attributes!['gostall.cause.max_parallel_compiles']).toBe(4);
  });

  it('suggests more CPU, not GOMAXPROCS, when GOMAXPROCS already fits the quota', () => {
    const root = proc({ wallNs: 10 * S });
    const [c] = rule(root, context({ cgroupCpu: usage({ quotaCpus: 2, quotaUs: 200_000, throttledNs: 5 * S }), go: devGoEnv({ GOMAXPROCS: 2, GOMAXPROCS_SET: true }) }));
    expect(c!.evidence).toContain('and Go ran with GOMAXPROCS=2;');
    expect(c!.hint).toContain('raise the container\'s CPU limit');
  });

  it('has no cause without a quota, or with throttling under the thresholds', () => {
    const root = proc({ wallNs: 2.82 * S });
    expect(rule(root, context())).toEqual([]);
    expect(rule(root, context({ cgroupCpu: usage({ quotaCpus: undefined }) }))).toEqual([]);
    // a quarter of the periods is the line
    expect(rule(root, context({ cgroupCpu: usage({ throttledPeriods: 7 }) }))).toEqual([]);
    expect(rule(root, context({ cgroupCpu: usage({ throttledPeriods: 8 }) }))).toHaveLength(1);
    // 20% of the wall time is the line
    expect(rule(root, context({ cgroupCpu: usage({ throttledNs: 0.56 * S }) }))).toEqual([]);
    expect(rule(root, context({ cgroupCpu: usage({ throttledNs: 0.57 * S }) }))).toHaveLength(1);
    // short runs: too few periods, or too little time
    expect(rule(root, context({ cgroupCpu: usage({ periods: 4, throttledPeriods: 4 }) }))).toEqual([]);
    const short = proc({ wallNs: 300 * MS });
    expect(rule(short, context({ cgroupCpu: usage({ throttledNs: 199 * MS }) }))).toEqual([]);
  });
});
