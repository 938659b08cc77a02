// fs.permission_denied: EACCES/EPERM/EROFS under a Go path, with its scope.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/fs-permission-denied.js';
import { ERRNO, S, context, devGoEnv, failure, proc } from '../fixtures.js';

describe('fs.permission_denied', () => {
  it('blames a go build that could not write GOCACHE, scope gocache, with the user and the owner', () => {
    const p = proc({ exitCode: 1, uid: 1000, wallNs: 0.03 * S, args: ['go', 'build'] });
    failure(p, { sc: 'mkdirat', errno: ERRNO.EACCES, path: '/home/dev/.cache/go-build/00' });
    failure(p, { sc: 'openat', errno: ERRNO.EACCES, path: '/home/dev/.cache/go-build/README' });
    const ctx = context();
    ctx.ownerOf = (path) => ({ path, uid: 0, gid: 0, mode: 0o755 });
    const [c, ...rest] = rule(p, ctx);
    expect(rest).toEqual([]);
    expect(c!.attributes!['gostall.cause.scope']).toBe('gocache');
    expect(c!.evidence).toBe('mkdirat, openat failed with EACCES 2 times under GOCACHE (/home/dev/.cache/go-build), e.g. ' +
      '/home/dev/.cache/go-build/00; it ran as uid 1000, /home/dev/.cache/go-build is owned by uid 0 (mode 0755); the process failed');
    expect(c!.hint).toContain('GOCACHE');
  });

  it('tells GOMODCACHE from the GOPATH that contains it, and HOME from the caches inside it', () => {
    const p = proc({ exitCode: 1 });
    failure(p, { sc: 'mkdirat', errno: ERRNO.EACCES, path: '/home/dev/go/pkg/mod/cache' });
    expect(rule(p, context())[0]!.attributes!['gostall.cause.scope']).toBe('gomodcache');
    const q = proc({ exitCode: 1 });
    failure(q, { sc: 'openat', errno: ERRNO.EROFS, path: '/home/dev/go/bin/tool' });
    expect(rule(q, context())[0]!.attributes!['gostall.cause.scope']).toBe('gopath');
    const r = proc({ exitCode: 0 });
    failure(r, { sc: 'newfstatat', errno: ERRNO.EACCES, path: '/home/dev/.config/go/env' });
    expect(rule(r, context())[0]!.attributes!['gostall.cause.scope']).toBe('home');
    const w = proc({ exitCode: 1 });
    failure(w, { sc: 'renameat2', errno: ERRNO.EPERM, path: 'out.bin' });
    expect(rule(w, context({ go: devGoEnv() }))[0]!.attributes!['gostall.cause.scope']).toBe('workspace');
  });

  it('ignores faccessat: asking "may I?" and hearing no is not a failure', () => {
    const p = proc({ exitCode: 1 });
    failure(p, { sc: 'faccessat', errno: ERRNO.EACCES, path: '/home/dev/.cache/go-build' });
    expect(rule(p, context())).toEqual([]);
  });

  it('blames a denial elsewhere ("other") only when the process then failed', () => {
    const ok = proc({ exitCode: 0 });
    failure(ok, { sc: 'openat', errno: ERRNO.EACCES, path: '/etc/shadow' });
    expect(rule(ok, context())).toEqual([]);
    const failed = proc({ exitCode: 1 });
    failure(failed, { sc: 'openat', errno: ERRNO.EACCES, path: '/etc/shadow' });
    const [c] = rule(failed, context());
    expect(c!.attributes!['gostall.cause.scope']).toBe('other');
    expect(c!.evidence).toContain('e.g. /etc/shadow');
  });
});
