// go.goroot_invalid: a failed go whose GOROOT is missing, not a Go tree, or another version.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/go-goroot-invalid.js';
import type { GoRootInfo } from '../../../src/diagnose/types.js';
import { stderrWrite } from '../stderr-fixture.js';
import { context, proc } from '../fixtures.js';

const TREES: Record<string, GoRootInfo> = {
  '/usr/lib/go-1.19': { path: '/usr/lib/go-1.19', exists: true, isGoTree: true, version: 'go1.19.8' },
  '/opt/go1.22': { path: '/opt/go1.22', exists: true, isGoTree: true, version: 'go1.22.0' },
  '/tmp/empty': { path: '/tmp/empty', exists: true, isGoTree: false, version: undefined },
};

function ctxWith(env: NodeJS.ProcessEnv) {
  const ctx = context({ envOf: () => env });
  ctx.inspectGoroot = (path) => TREES[path] ?? { path, exists: false, isGoTree: false, version: undefined };
  ctx.gorootOfExecutable = () => '/usr/lib/go-1.19';
  return ctx;
}

describe('go.goroot_invalid', () => {
  it('blames a go that could not find its GOROOT, quoting Go and naming the binary\'s own GOROOT', () => {
    const p = proc({ exitCode: 2, args: ['go', 'build', '.'] });
    stderrWrite(p, 'go: cannot find GOROOT directory: /some/missing/dir\n');
    const [c, ...rest] = rule(p, ctxWith({ GOROOT: '/some/missing/dir' }));
    expect(rest).toEqual([]);
    expect(c!.evidence).toContain('GOROOT /some/missing/dir does not exist (set in its environment)');
    expect(c!.evidence).toContain('"go: cannot find GOROOT directory: /some/missing/dir"');
    expect(c!.hint).toContain('/usr/lib/go-1.19');
  });

  it('blames a GOROOT that is not a Go tree, and one of another version than the binary', () => {
    const p = proc({ exitCode: 1 });
    stderrWrite(p, 'main.go:2:8: package fmt is not in GOROOT (/tmp/empty/src/fmt)\n');
    expect(rule(p, ctxWith({ GOROOT: '/tmp/empty' }))[0]!.evidence).toContain('/tmp/empty is not a Go installation');
    const q = proc({ exitCode: 1 });
    stderrWrite(q, 'compile: version "go1.22.0" does not match go tool version "go1.19.8"\n');
    expect(rule(q, ctxWith({ GOROOT: '/opt/go1.22' }))[0]!.evidence).toContain('/opt/go1.22 is go1.22.0 but the go binary is go1.19.8');
  });

  it('says nothing when the GOROOT is fine, the go succeeded, or only the text complains', () => {
    const fine = proc({ exitCode: 1 });
    stderrWrite(fine, 'main.go:2:8: package slices is not in GOROOT (/usr/lib/go-1.19/src/slices)\n');
    expect(rule(fine, ctxWith({}))).toEqual([]);
    const ok = proc({ exitCode: 0 });
    expect(rule(ok, ctxWith({ GOROOT: '/some/missing/dir' }))).toEqual([]);
    const notGo = proc({ exitCode: 1, name: 'sh' });
    stderrWrite(notGo, 'go: cannot find GOROOT directory: /x\n');
    expect(rule(notGo, ctxWith({}))).toEqual([]);
  });
});
