// fs.slow_io: slow file reads on one mount that cost a material share of the run.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/fs-slow-io.js';
import { MS, S, context, offCpu, proc, slowCalls } from '../fixtures.js';

describe('fs.slow_io', () => {
  it('blames reads from a throttled disk that waited in D, naming the mount and device', () => {
    const p = proc({ wallNs: 2.36 * S });
    slowCalls(p, 8, { sc: 'read', latencyNs: 250 * MS, path: (i) => `/mnt/slow/module/p${i}/f1.go` });
    for (let i = 0; i < 8; i++) offCpu(p, { state: 2, durationNs: 249 * MS, sc: 'read' });
    const [c, ...rest] = rule(p, context());
    expect(rest).toEqual([]);
    expect(c!.evidence).toBe('2.00 s of the 2.36 s run went to 8 file reads that took ≥ 1 ms on ext4 /mnt/slow (/dev/loop3) ' +
      '(median 250 ms), waiting in uninterruptible sleep (D: block I/O) 8 times; e.g. /mnt/slow/module/p0/f1.go');
    // (8 calls: all of them are in the sample, and the first of equals is the example)
    expect(c!.hint).toContain('I/O-throttled');
    expect(c!.attributes!['gostall.cause.mount_point']).toBe('/mnt/slow');
  });

  it('says the file server is slow for a shared filesystem', () => {
    const p = proc({ wallNs: 2 * S });
    slowCalls(p, 100, { sc: 'read', latencyNs: 10 * MS, path: (i) => `/workspace/f${i}.go` });
    const [c] = rule(p, context());
    expect(c!.hint).toContain('file server');
    expect(c!.evidence).not.toContain('uninterruptible');
  });

  it('ignores reads from pipes and sockets (a parent waiting for its child is not I/O)', () => {
    const p = proc({ wallNs: 2 * S });
    slowCalls(p, 10, { sc: 'read', latencyNs: 190 * MS, path: (i) => `pipe:[${i}]` });
    expect(rule(p, context())).toEqual([]);
  });

  it('stays quiet when slow reads are under 20% of the run (the FUSE getattr case: 9%)', () => {
    const p = proc({ wallNs: 9.8 * S });
    slowCalls(p, 364, { sc: 'read', latencyNs: 2.35 * MS, path: (i) => `/workspace/f${i}.go` }); // 0.86 s
    expect(rule(p, context())).toEqual([]);
    const q = proc({ wallNs: 4 * S });
    slowCalls(q, 364, { sc: 'read', latencyNs: 2.35 * MS, path: (i) => `/workspace/f${i}.go` }); // 21%
    expect(rule(q, context())).toHaveLength(1);
  });

  it('stays quiet under 300 ms', () => {
    const p = proc({ wallNs: 0.5 * S });
    slowCalls(p, 29, { sc: 'getdents64', latencyNs: 10 * MS, path: (i) => `/mnt/slow/d${i}` });
    expect(rule(p, context())).toEqual([]);
  });
});
