// The model's summary of every slow call: exact totals and a uniform, deterministic sample.
import { describe, expect, it } from 'vitest';
import { SLOW_SAMPLE_PER_CLASS, addSlowCall, createSlowCalls } from '../../src/model/slow-sample.js';
import type { SlowSyscallEvent } from '../../src/events/types.js';

function call(i: number, sc: number, path: string): SlowSyscallEvent {
  return { kind: 'syscall', ts: i, pid: 1, tid: 1, sc, latencyNs: 2e6 + 1000, runqNs: 1000, ret: 0, fd: -1, path, pathTruncated: false };
}

describe('slow-call sample', () => {
  it('keeps exact totals per class and a bounded sample', () => {
    const s = createSlowCalls(42);
    for (let i = 0; i < 10_000; i++) addSlowCall(s, call(i, 1, i % 4 === 0 ? '/fuse/x' : '/local/x'));
    addSlowCall(s, call(1, 20, '/fuse/data'));
    expect(s.totals.stat).toEqual({ count: 10_000, blockedNs: 10_000 * 2e6 });
    expect(s.totals.read.count).toBe(1);
    expect(s.sample.stat).toHaveLength(SLOW_SAMPLE_PER_CLASS);
    expect(s.sample.read).toHaveLength(1);
  });

  it('is uniform: a quarter of the calls gives about a quarter of the sample', () => {
    let onFuse = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const s = createSlowCalls(seed);
      for (let i = 0; i < 4000; i++) addSlowCall(s, call(i, 1, i % 4 === 0 ? '/fuse/x' : '/local/x'));
      onFuse += s.sample.stat.filter((e) => e.path === '/fuse/x').length;
    }
    expect(onFuse / (50 * SLOW_SAMPLE_PER_CLASS)).toBeGreaterThan(0.2);
    expect(onFuse / (50 * SLOW_SAMPLE_PER_CLASS)).toBeLessThan(0.3);
  });

  it('is deterministic for a pid, so a replay diagnoses the same', () => {
    const run = () => {
      const s = createSlowCalls(7);
      for (let i = 0; i < 1000; i++) addSlowCall(s, call(i, 1, `/p${i}`));
      return s.sample.stat.map((e) => e.path);
    };
    expect(run()).toEqual(run());
  });
});
