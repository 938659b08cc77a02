// fs.oversized_walk: a directory walk over a big tree with (almost) no Go code in it.
import { describe, expect, it } from 'vitest';
import { rule, THRESHOLDS } from '../../../src/diagnose/rules/fs-oversized-walk.js';
import { S, context, proc } from '../fixtures.js';
import type { ProcessNode } from '../../../src/model/process.js';

function walker(x: { dirReads: number; reads: number; stats?: number; wallNs?: number }): ProcessNode {
  const p = proc({ wallNs: x.wallNs ?? 2.2 * S });
  p.sums.readdir.count = x.dirReads;
  p.sums.read.count = x.reads;
  p.sums.stat.count = x.stats ?? x.dirReads * 6;
  p.sched.onCpuNs = 2 * S;
  return p;
}

describe('fs.oversized_walk', () => {
  it('blames a go list that read 40k directory listings but few files, naming node_modules', () => {
    const p = walker({ dirReads: 40_563, reads: 1_022, stats: 235_150 });
    const ctx = context();
    ctx.heavyDirectories = (dir) => (dir === '/workspace' ? [{ path: '/workspace/node_modules', directories: 10_101, capped: false }] : []);
    const [c, ...rest] = rule(p, ctx);
    expect(rest).toEqual([]);
    expect(c!.evidence).toBe('40,563 directory listings (getdents64) and 235,150 stat calls in 2.20 s, but only 1,022 file reads: ' +
      'most directories walked hold no Go code; in /workspace: node_modules holds 10,101 directories');
    expect(c!.hint).toContain('add an empty go.mod to /workspace/node_modules');
    expect(c!.attributes!['gostall.cause.path']).toBe('/workspace/node_modules');
  });

  it('still blames the walk when the big tree has no well-known name', () => {
    const [c] = rule(walker({ dirReads: 30_000, reads: 100 }), context());
    expect(c!.hint).toContain('the large non-Go tree');
  });

  it(`stays quiet under ${THRESHOLDS.minDirectoryReads} directory reads`, () => {
    expect(rule(walker({ dirReads: 19_999, reads: 10 }), context())).toEqual([]);
    expect(rule(walker({ dirReads: 20_000, reads: 10 }), context())).toHaveLength(1);
  });

  it('stays quiet for a big tree of Go packages (files read for at least every fourth directory read)', () => {
    expect(rule(walker({ dirReads: 40_000, reads: 10_000 }), context())).toEqual([]);
    expect(rule(walker({ dirReads: 40_000, reads: 9_999 }), context())).toHaveLength(1);
  });

  it('stays quiet when the walk took under a second', () => {
    expect(rule(walker({ dirReads: 40_000, reads: 10, wallNs: 0.9 * S }), context())).toEqual([]);
  });
});
