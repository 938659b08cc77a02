// fs.slow_metadata: slow stat/open calls on one mount that cost a material share of the run.
import { describe, expect, it } from 'vitest';
import { rule, THRESHOLDS } from '../../../src/diagnose/rules/fs-slow-metadata.js';
import { MS, S, context, devGoEnv, offCpu, proc, slowCalls } from '../fixtures.js';

describe('fs.slow_metadata', () => {
  it('blames a go list that spent most of its run statting a FUSE workspace, with the numbers and the mount', () => {
    const p = proc({ wallNs: 4.4 * S });
    slowCalls(p, 684, { sc: 'newfstatat', latencyNs: 5 * MS, path: (i) => `/workspace/p${i % 12}/f${i % 3}.go` });
    const [c, ...rest] = rule(p, context());
    expect(rest).toEqual([]);
    expect(c!.id).toBe('fs.slow_metadata');
    expect(c!.process).toBe(p);
    expect(c!.evidence).toMatch(new RegExp('^3.42 s of the 4.40 s run went to 684 stat/open calls that took ≥ 1 ms on fuse.grpcfuse /workspace ' +
      '\\(the workspace\\): median 5.0 ms per call vs ~3 µs on a local disk; e.g. /workspace/p\\d+/f\\d.go$'));
    expect(c!.attributes).toEqual({ 'gostall.cause.scope': 'workspace', 'gostall.cause.fs_type': 'fuse.grpcfuse', 'gostall.cause.mount_point': '/workspace' });
    expect(c!.hint).toContain('container volume');
    expect(c!.weightNs).toBeCloseTo(3.42 * S, -6);
  });

  it('names GOMODCACHE when the slow paths are in the module cache, even on NFS where waits are D', () => {
    const go = devGoEnv({ GOMODCACHE: '/mnt/nfs/gomodcache' });
    const p = proc({ wallNs: 2 * S });
    slowCalls(p, 100, { sc: 'openat', latencyNs: 8 * MS, path: (i) => `/mnt/nfs/gomodcache/example.com/m@v1/f${i}.go` });
    offCpu(p, { state: 2, durationNs: 500 * MS, sc: 'openat' });
    const [c] = rule(p, context({ go }));
    expect(c!.attributes!['gostall.cause.scope']).toBe('gomodcache');
    expect(c!.evidence).toContain('nfs4 /mnt/nfs (GOMODCACHE)');
    expect(c!.hint).toContain('GOMODCACHE');
  });

  it('resolves relative paths against the workspace (go list walks with relative paths)', () => {
    const p = proc({ wallNs: 2 * S });
    slowCalls(p, 200, { sc: 'newfstatat', latencyNs: 3 * MS, path: (i) => `node_modules/x${i}/go.mod` });
    const [c] = rule(p, context());
    expect(c!.evidence).toContain('/workspace/node_modules/x');
  });

  it(`stays quiet below ${THRESHOLDS.minShareOfWall * 100}% of the wall time`, () => {
    const p = proc({ wallNs: 40 * S });
    slowCalls(p, 684, { sc: 'newfstatat', latencyNs: 5 * MS, path: (i) => `/workspace/f${i}` }); // 3.4 s of 40 s
    expect(rule(p, context())).toEqual([]);
    const q = proc({ wallNs: 16 * S });
    slowCalls(q, 684, { sc: 'newfstatat', latencyNs: 5 * MS, path: (i) => `/workspace/f${i}` }); // 3.4 s of 16 s: 21%
    expect(rule(q, context()).map((c) => c.id)).toEqual(['fs.slow_metadata']);
  });

  it('stays quiet under 300 ms in total, however large the share', () => {
    const p = proc({ wallNs: 0.4 * S });
    slowCalls(p, 50, { sc: 'newfstatat', latencyNs: 5 * MS, path: (i) => `/workspace/f${i}` }); // 250 ms
    expect(rule(p, context())).toEqual([]);
    const q = proc({ wallNs: 0.4 * S });
    slowCalls(q, 62, { sc: 'newfstatat', latencyNs: 5 * MS, path: (i) => `/workspace/f${i}` }); // 310 ms
    expect(rule(q, context())).toHaveLength(1);
  });

  it(`needs at least ${THRESHOLDS.minSlowCalls} slow calls: one long stall is not a slow filesystem`, () => {
    const p = proc({ wallNs: 2 * S });
    slowCalls(p, 19, { sc: 'newfstatat', latencyNs: 60 * MS, path: (i) => `/workspace/f${i}` });
    expect(rule(p, context())).toEqual([]);
    const q = proc({ wallNs: 2 * S });
    slowCalls(q, 20, { sc: 'newfstatat', latencyNs: 60 * MS, path: (i) => `/workspace/f${i}` });
    expect(rule(q, context())).toHaveLength(1);
  });

  it('leaves slow lookups on a local disk that wait in D to the disk rules', () => {
    const p = proc({ wallNs: 2 * S });
    slowCalls(p, 100, { sc: 'newfstatat', latencyNs: 10 * MS, path: (i) => `/mnt/slow/f${i}` });
    offCpu(p, { state: 2, durationNs: 900 * MS, sc: 'newfstatat' });
    expect(rule(p, context())).toEqual([]);
    // The same on a local filesystem but waiting interruptibly (an overlay over FUSE, a lock): blamed.
    const q = proc({ wallNs: 2 * S });
    slowCalls(q, 100, { sc: 'newfstatat', latencyNs: 10 * MS, path: (i) => `/mnt/slow/f${i}` });
    offCpu(q, { state: 1, durationNs: 900 * MS, sc: 'newfstatat' });
    expect(rule(q, context())).toHaveLength(1);
  });

  it('a healthy process (fast stats, no slow records) has no cause', () => {
    const p = proc({ wallNs: 0.6 * S });
    p.sums.stat = { count: 8603, blockedNs: 31 * MS, maxNs: 57_000, errors: 556, enoent: 555, buckets: [8541, 62, 0, 0] };
    expect(rule(p, context())).toEqual([]);
  });

  it('judges each process of the tree on its own', () => {
    const root = proc({ wallNs: 10 * S });
    const child = proc({ parent: root, name: 'gopls', wallNs: 5 * S, args: ['gopls'] });
    slowCalls(child, 500, { sc: 'statx', latencyNs: 5 * MS, path: (i) => `/workspace/f${i}` });
    const causes = rule(root, context());
    expect(causes.map((c) => c.process)).toEqual([child]);
  });
});
