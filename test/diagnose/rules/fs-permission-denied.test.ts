// fs.permission_denied: EACCES/EPERM/EROFS under a Go path, with its scope.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/fs-permission-denied.js';
import { resolveGoEnv } from '../../../src/diagnose/context-go-env.js';
import { stderrWrite } from '../stderr-fixture.js';
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
    expect(c!.evidence).toBe('mkdirat, openat failed with EACCES 2 times under GOCACHE (/home/dev/.cache/go-build), e.g. mkdirat ' +
      '/home/dev/.cache/go-build/00; it ran as uid 1000 with HOME=/home/dev, /home/dev/.cache/go-build is owned by uid 0 (mode 0755); the process failed');
    expect(c!.hint).toContain('GOCACHE');
  });

  it('tells GOMODCACHE from the GOPATH that contains it, and HOME from the caches inside it', () => {
    const p = proc({ exitCode: 1 });
    failure(p, { sc: 'mkdirat', errno: ERRNO.EACCES, path: '/home/dev/go/pkg/mod/cache' });
    expect(rule(p, context())[0]!.attributes!['gostall.cause.scope']).toBe('gomodcache');
    const q = proc({ exitCode: 1 });
    failure(q, { sc: 'openat', errno: ERRNO.EROFS, path: '/home/dev/go/bin/tool' });
    expect(rule(q, context())[0]!.attributes!['gostall.cause.scope']).toBe('gopath');
    const r = proc({ exitCode: 1 });
    failure(r, { sc: 'openat', errno: ERRNO.EACCES, path: '/home/dev/.config/go/env' });
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
    expect(c!.evidence).toContain('e.g. openat /etc/shadow');
  });

  // Regression (issue 11): runuser -u u -- go build, as root, with /root/... on PATH. Go failed
  // "mkdir /home/u/.cache: permission denied"; gostall blamed 5 EACCES stats of gccgo under
  // /root as "the home directory", judged with root's HOME.
  it('judges a failing go by its own HOME: the mkdir of ~/.cache is GOCACHE, the PATH lookups under /root are nothing', () => {
    const p = proc({ exitCode: 1, uid: 1001, args: ['go', 'build', '.'] });
    for (let i = 0; i < 5; i++) failure(p, { sc: 'newfstatat', errno: ERRNO.EACCES, path: '/root/.local/bin/gccgo' });
    failure(p, { sc: 'mkdirat', errno: ERRNO.EACCES, path: '/home/u/.cache' });
    stderrWrite(p, 'failed to initialize build cache at /home/u/.cache/go-build: mkdir /home/u/.cache: permission denied\n');
    const rootEnv = resolveGoEnv({ HOME: '/root' }, { source: 'launch', cpus: 2, runGoEnv: false });
    const ctx = context({ go: rootEnv, envOf: () => ({ HOME: '/home/u', PATH: '/root/.local/bin:/usr/bin:/bin' }) });
    ctx.ownerOf = () => ({ path: '/home/u', uid: 0, gid: 0, mode: 0o755 });
    ctx.userName = (uid) => (uid === 0 ? 'root' : undefined);
    const [c, ...rest] = rule(p, ctx);
    expect(rest).toEqual([]);
    expect(c!.attributes!['gostall.cause.scope']).toBe('gocache');
    expect(c!.attributes!['gostall.cause.path']).toBe('/home/u/.cache');
    expect(c!.evidence).toContain('mkdirat /home/u/.cache');
    expect(c!.evidence).toContain('GOCACHE (/home/u/.cache/go-build)');
    expect(c!.evidence).toContain('with HOME=/home/u');
    expect(c!.evidence).toContain('owned by uid 0 (root)');
    expect(c!.evidence).not.toContain('/root');
    expect(c!.evidence).not.toContain('gccgo');
  });

  it('does not blame lookups a program recovers from: PATH searches, or stats of a process that succeeded', () => {
    const ok = proc({ exitCode: 0, uid: 1001 });
    failure(ok, { sc: 'newfstatat', errno: ERRNO.EACCES, path: '/home/dev/.config/go/env' });
    expect(rule(ok, context())).toEqual([]);
    const failed = proc({ exitCode: 1, uid: 1001 });
    for (let i = 0; i < 5; i++) failure(failed, { sc: 'newfstatat', errno: ERRNO.EACCES, path: '/root/go/bin/gccgo' });
    expect(rule(failed, context({ envOf: () => ({ HOME: '/home/u', PATH: '/root/go/bin:/usr/bin' }) }))).toEqual([]);
  });

  it('a mkdir of HOME itself stays scope home', () => {
    const p = proc({ exitCode: 1, uid: 1001 });
    failure(p, { sc: 'mkdirat', errno: ERRNO.EACCES, path: '/home/u' });
    const [c] = rule(p, context({ envOf: () => ({ HOME: '/home/u', PATH: '/usr/bin' }) }));
    expect(c!.attributes!['gostall.cause.scope']).toBe('home');
  });
});
