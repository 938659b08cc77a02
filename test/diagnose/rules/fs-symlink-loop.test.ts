// fs.symlink_loop: ELOOP on a path lookup.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/fs-symlink-loop.js';
import { ERRNO, S, context, failure, proc } from '../fixtures.js';

describe('fs.symlink_loop', () => {
  it('blames a stat that failed with ELOOP, naming the looping link rather than the path below it', () => {
    const p = proc({ exitCode: 1, wallNs: 0.02 * S });
    failure(p, { sc: 'newfstatat', errno: ERRNO.ELOOP, path: '/workspace/a/go.mod' });
    failure(p, { sc: 'newfstatat', errno: ERRNO.ELOOP, path: 'a' });
    const ctx = context({ loops: (path) => path === '/workspace/a' || path.startsWith('/workspace/a/') });
    const [c, ...rest] = rule(p, ctx);
    expect(rest).toEqual([]);
    expect(c!.evidence).toBe('could not resolve /workspace/a: newfstatat failed with ELOOP (too many levels of symbolic links) 2 times; the process failed');
    expect(c!.hint).toContain('remove the symbolic-link loop at /workspace/a');
    expect(c!.weightNs).toBe(0.02 * S);
  });

  it('does not take openat ELOOP alone as a loop (O_NOFOLLOW on a plain link says ELOOP too)', () => {
    const p = proc();
    failure(p, { sc: 'openat', errno: ERRNO.ELOOP, path: '/workspace/link' });
    expect(rule(p, context({ loops: () => false }))).toEqual([]);
    expect(rule(p, context({ loops: () => true }))).toHaveLength(1);
  });

  it('has no cause without ELOOP', () => {
    const p = proc();
    failure(p, { sc: 'newfstatat', errno: ERRNO.ENOENT, path: '/workspace/go.work' });
    expect(rule(p, context())).toEqual([]);
  });
});
