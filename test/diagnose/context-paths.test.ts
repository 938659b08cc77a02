// Path roles and the on-demand filesystem look-ups.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { absolutePath, findHeavyDirectories, ownerOfPath, pathStillLoops, roleBases, roleOfPath } from '../../src/diagnose/context-paths.js';
import { devGoEnv } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('roleOfPath', () => {
  const bases = roleBases({ workspace: '/home/dev/src/app', go: devGoEnv() });
  it('gives the most specific role', () => {
    expect(roleOfPath(bases, '/home/dev/src/app/main.go').role).toBe('workspace');
    expect(roleOfPath(bases, '/home/dev/go/pkg/mod/x@v1/a.go')).toEqual({ role: 'gomodcache', base: '/home/dev/go/pkg/mod' });
    expect(roleOfPath(bases, '/home/dev/go/bin/x').role).toBe('gopath');
    expect(roleOfPath(bases, '/home/dev/.cache/go-build/00/x').role).toBe('gocache');
    expect(roleOfPath(bases, '/usr/local/go/src/fmt/print.go').role).toBe('goroot');
    expect(roleOfPath(bases, '/home/dev/.config/go/env').role).toBe('home');
    expect(roleOfPath(bases, '/tmp/go-build123/b001').role).toBe('tmp');
    expect(roleOfPath(bases, '/etc/passwd')).toEqual({ role: 'other', base: undefined });
  });
  it('never lets "/" claim every path', () => {
    const b = roleBases({ workspace: '/', go: devGoEnv({ HOME: '/' }) });
    expect(roleOfPath(b, '/etc/passwd').role).toBe('other');
  });
  it('does not match a sibling with the same prefix', () => {
    expect(roleOfPath(bases, '/home/dev/src/app2/x').role).toBe('home');
  });
});

describe('absolutePath', () => {
  it('resolves relative record paths against the workspace', () => {
    expect(absolutePath('node_modules/x/go.mod', '/w')).toBe('/w/node_modules/x/go.mod');
    expect(absolutePath('/abs', '/w')).toBe('/abs');
    expect(absolutePath('rel', undefined)).toBeUndefined();
  });
});

describe('filesystem look-ups', () => {
  it('finds the owner of the nearest existing ancestor', () => {
    const o = ownerOfPath(join(dir, 'missing/deeper'));
    expect(o?.path).toBe(dir);
    expect(o?.uid).toBe(process.getuid!());
  });
  it('tells a loop from a plain link', () => {
    symlinkSync('b', join(dir, 'a'));
    symlinkSync('a', join(dir, 'b'));
    symlinkSync('.', join(dir, 'plain'));
    expect(pathStillLoops(join(dir, 'a'))).toBe(true);
    expect(pathStillLoops(join(dir, 'plain'))).toBe(false);
  });
  it('counts the directories of well-known non-Go trees, one level down too, and caps the count', () => {
    for (let i = 0; i < 30; i++) mkdirSync(join(dir, 'ws/node_modules/p', String(i)), { recursive: true });
    mkdirSync(join(dir, 'ws/web/bazel-out/x'), { recursive: true });
    mkdirSync(join(dir, 'ws/.git/objects'), { recursive: true });
    mkdirSync(join(dir, 'ws/pkg/api'), { recursive: true });
    expect(findHeavyDirectories(join(dir, 'ws'))).toEqual([
      { path: join(dir, 'ws/node_modules'), directories: 32, capped: false },
      { path: join(dir, 'ws/web/bazel-out'), directories: 2, capped: false },
    ]);
    expect(findHeavyDirectories(join(dir, 'ws'), 10)[0]).toEqual({ path: join(dir, 'ws/node_modules'), directories: 10, capped: true });
  });
});
