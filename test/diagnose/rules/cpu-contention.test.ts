// cpu.contention: waiting for CPUs that other work was using.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/cpu-contention.js';
import type { CpuTimes } from '../../../src/diagnose/types.js';
import { S, context, proc } from '../fixtures.js';
import type { ProcessNode } from '../../../src/model/process.js';

function tree(x: { runqNs: number; onCpuNs: number }): ProcessNode {
  const root = proc({ wallNs: 10 * S });
  const child = proc({ parent: root, name: 'compile', args: ['compile'] });
  root.sched.runqNs = x.runqNs / 2; child.sched.runqNs = x.runqNs / 2;
  root.sched.onCpuNs = x.onCpuNs / 2; child.sched.onCpuNs = x.onCpuNs / 2;
  return root;
}

/** A 2-CPU machine over 10 s (capacity 20 s) where the machine was busy busyNs in total. */
function cpu(busyNs: number, over: Partial<CpuTimes> = {}): CpuTimes {
  return { cpus: 2, spanNs: 10 * S, busyNs, stealNs: 0, selfNs: 0, ...over };
}

describe('cpu.contention', () => {
  it('blames waits for CPUs that other work was using', () => {
    const root = tree({ runqNs: 11 * S, onCpuNs: 9 * S });
    const [c] = rule(root, context({ cpuTimes: cpu(19.6 * S) }));
    expect(c!.process).toBe(root);
    expect(c!.evidence).toBe('the traced processes waited 11.00 s for a CPU while running 9.00 s; meanwhile other work used 53% of the machine\'s 2 CPUs');
  });

  it('does not count gostall\'s own CPU time as other work', () => {
    const root = tree({ runqNs: 11 * S, onCpuNs: 9 * S });
    expect(rule(root, context({ cpuTimes: cpu(19.6 * S, { selfNs: 1.2 * S }) }))).toEqual([]);
  });

  it('blames steal time on an oversubscribed host', () => {
    const root = tree({ runqNs: 11 * S, onCpuNs: 9 * S });
    const [c] = rule(root, context({ cpuTimes: cpu(12 * S, { stealNs: 2.5 * S }) }));
    expect(c!.hint).toContain('steal');
  });

  it('stays quiet when the build saturates the CPUs by itself', () => {
    const root = tree({ runqNs: 20 * S, onCpuNs: 18 * S });
    expect(rule(root, context({ cpuTimes: cpu(19 * S) }))).toEqual([]);
  });

  it('stays quiet under 2 s of waiting, or when waiting is shorter than running', () => {
    expect(rule(tree({ runqNs: 1.9 * S, onCpuNs: 1 * S }), context({ cpuTimes: cpu(19 * S) }))).toEqual([]);
    expect(rule(tree({ runqNs: 4 * S, onCpuNs: 4.1 * S }), context({ cpuTimes: cpu(19 * S) }))).toEqual([]);
    expect(rule(tree({ runqNs: 4 * S, onCpuNs: 4 * S }), context({ cpuTimes: cpu(19 * S) }))).toHaveLength(1);
  });

  it('leaves a throttled cgroup to cpu.throttled', () => {
    const root = tree({ runqNs: 11 * S, onCpuNs: 9 * S });
    const cgroupCpu = { version: 1 as const, path: '/x', quotaCpus: 0.5, quotaUs: 50_000, periodUs: 100_000, periods: 100, throttledPeriods: 20, throttledNs: 2 * S, movedDuringRun: false };
    expect(rule(root, context({ cpuTimes: cpu(19.6 * S), cgroupCpu }))).toEqual([]);
  });
});
