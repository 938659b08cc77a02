// sched.uninterruptible: long D-state waits.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/sched-uninterruptible.js';
import { MS, S, context, offCpu, proc, slowCalls } from '../fixtures.js';

describe('sched.uninterruptible', () => {
  it('blames 2 s of D in a 2.3 s run, naming the syscalls and the mount of the reads it waited in', () => {
    const p = proc({ wallNs: 2.36 * S });
    p.sched.offDNs = 2.06 * S;
    p.sched.maxOffDNs = 293 * MS;
    slowCalls(p, 8, { sc: 'read', latencyNs: 250 * MS, path: (i) => `/mnt/slow/module/p${i}/f1.go` });
    // each wait ends inside its read (same thread, within the call's time)
    for (let i = 0; i < 8; i++) offCpu(p, { state: 2, durationNs: 249 * MS, sc: 'read', ts: p.startNs + (i + 1) * 250 * MS - MS });
    offCpu(p, { state: 2, durationNs: 20 * MS });
    const [c] = rule(p, context());
    expect(c!.evidence).toBe('threads waited 2.06 s of the 2.36 s run in uninterruptible sleep (D), longest 293 ms; ' +
      '9 waits ≥ 1 ms (8 in read, 1 outside traced syscalls) on ext4 /mnt/slow (/dev/loop3), e.g. /mnt/slow/module/p0/f1.go');
    expect(c!.hint).toContain('behind /mnt/slow (/dev/loop3)');
  });

  it('names the mount the waits spent most time on, not the first wait\'s (one slow read of GOROOT on the root disk)', () => {
    const p = proc({ wallNs: 2.36 * S });
    p.sched.offDNs = 2.06 * S;
    p.sched.maxOffDNs = 249 * MS;
    // first a 30 ms read of a GOROOT source on / (its page cache dropped), on its own thread
    slowCalls(p, 1, { sc: 'read', latencyNs: 30 * MS, path: () => '/usr/share/go-1.19/src/fmt/print.go', tid: p.pid + 1 });
    offCpu(p, { state: 2, durationNs: 29 * MS, sc: 'read', ts: p.startNs + 30 * MS - MS, tid: p.pid + 1 });
    slowCalls(p, 8, { sc: 'read', latencyNs: 250 * MS, path: (i) => `/mnt/slow/module/p${i}/f1.go` });
    for (let i = 0; i < 8; i++) offCpu(p, { state: 2, durationNs: 249 * MS, sc: 'read', ts: p.startNs + (i + 1) * 250 * MS - MS });
    const [c] = rule(p, context());
    expect(c!.evidence).toContain('on ext4 /mnt/slow (/dev/loop3), e.g. /mnt/slow/module/p0/f1.go');
    expect(c!.attributes?.['gostall.cause.mount_point']).toBe('/mnt/slow');
  });

  it('stays quiet under 1 s of D (a FUSE go list measured 160 ms)', () => {
    const p = proc({ wallNs: 2 * S });
    p.sched.offDNs = 0.99 * S;
    expect(rule(p, context())).toEqual([]);
    p.sched.offDNs = 1 * S;
    expect(rule(p, context())).toHaveLength(1);
  });

  it('stays quiet when D is under 20% of a long run, unless one wait alone is a 2 s hang', () => {
    const p = proc({ wallNs: 100 * S });
    p.sched.offDNs = 19 * S;
    p.sched.maxOffDNs = 1.9 * S;
    expect(rule(p, context())).toEqual([]);
    p.sched.maxOffDNs = 2 * S;
    expect(rule(p, context())).toHaveLength(1);
  });
});
