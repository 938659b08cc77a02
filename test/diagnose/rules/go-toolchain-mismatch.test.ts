// go.toolchain_mismatch: go.mod needs a newer Go than the one that ran, and the build failed over it.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/go-toolchain-mismatch.js';
import type { GoModule } from '../../../src/diagnose/types.js';
import { compareGoVersions, parseGoMod } from '../../../src/diagnose/context-go-files.js';
import { stderrWrite } from '../stderr-fixture.js';
import { context, proc } from '../fixtures.js';

function ctxWith(mod: GoModule | undefined, env: NodeJS.ProcessEnv = {}) {
  const ctx = context({ envOf: () => env });
  ctx.goModuleOf = () => mod;
  ctx.inspectGoroot = (path) => ({ path, exists: true, isGoTree: true, version: 'go1.19.8' });
  return ctx;
}

describe('go.toolchain_mismatch', () => {
  it('blames go 1.30 in go.mod run by Go 1.19 when a package it lacks is imported', () => {
    const p = proc({ exitCode: 1, args: ['go', 'build', '.'] });
    stderrWrite(p, 'main.go:2:8: package slices is not in GOROOT (/usr/lib/go-1.19/src/slices)\n');
    const mod = parseGoMod('/workspace/go.mod', 'module example.com/m\n\ngo 1.30\n');
    const [c, ...rest] = rule(p, ctxWith(mod));
    expect(rest).toEqual([]);
    expect(c!.evidence).toBe('/workspace/go.mod asks for go 1.30 but go1.19.8 ran; go build (pid ' + p.pid +
      ') exited with code 1: "main.go:2:8: package slices is not in GOROOT (/usr/lib/go-1.19/src/slices)"');
    expect(c!.hint).toContain('install Go 1.30');
  });

  it('reads the go.mod of the directory the go command ran in, and of its -C directory, not the root\'s', () => {
    const mods: Record<string, GoModule> = {
      '/workspace': parseGoMod('/workspace/go.mod', 'module example.com/top\n\ngo 1.19\n'),
      '/workspace/tools': parseGoMod('/workspace/tools/go.mod', 'module example.com/tools\n\ngo 1.30\n'),
    };
    const ctxIn = (cwd: string | undefined) => {
      const ctx = ctxWith(undefined);
      ctx.workspace = '/workspace';
      ctx.goModuleOf = (dir) => mods[dir];
      ctx.cwdOf = () => cwd;
      return ctx;
    };
    const said = 'main.go:2:8: package slices is not in GOROOT (/usr/lib/go-1.19/src/slices)\n';
    // `sh -c 'cd tools && go build'`: go exec'd in tools/
    const inTools = proc({ exitCode: 1, args: ['go', 'build', '.'] });
    stderrWrite(inTools, said);
    expect(rule(inTools, ctxIn('/workspace/tools'))[0]!.evidence).toContain('/workspace/tools/go.mod asks for go 1.30');
    // `go build -C tools` from the top: Go 1.20+ changes directory first
    const minusC = proc({ exitCode: 1, args: ['go', 'build', '-C', 'tools', '.'] });
    stderrWrite(minusC, said);
    expect(rule(minusC, ctxIn('/workspace'))[0]!.evidence).toContain('/workspace/tools/go.mod asks for go 1.30');
    // the top module asks for this Go: nothing to blame there
    const top = proc({ exitCode: 1, args: ['go', 'build', '.'] });
    stderrWrite(top, said);
    expect(rule(top, ctxIn('/workspace'))).toEqual([]);
  });

  it('names a toolchain line and GOTOOLCHAIN when a newer Go may not switch', () => {
    const p = proc({ exitCode: 1 });
    stderrWrite(p, 'go: go.mod requires go >= 1.23.1 (running go 1.19.8; GOTOOLCHAIN=local)\n');
    const mod = parseGoMod('/workspace/go.mod', 'module m\ngo 1.22\ntoolchain go1.23.1\n');
    const [c] = rule(p, ctxWith(mod, { GOTOOLCHAIN: 'local' }));
    expect(c!.evidence).toContain('asks for go 1.22 and toolchain go1.23.1 but go1.19.8 ran (GOTOOLCHAIN=local)');
  });

  it('says nothing when go.mod asks for this Go or older, the build succeeded, or Go said nothing about versions', () => {
    const same = proc({ exitCode: 1 });
    stderrWrite(same, 'main.go:2:8: package nosuch is not in GOROOT (/usr/lib/go-1.19/src/nosuch)\n');
    expect(rule(same, ctxWith(parseGoMod('/w/go.mod', 'module m\ngo 1.19\n')))).toEqual([]);
    const ok = proc({ exitCode: 0 });
    expect(rule(ok, ctxWith(parseGoMod('/w/go.mod', 'module m\ngo 1.30\n')))).toEqual([]);
    const syntax = proc({ exitCode: 1 });
    stderrWrite(syntax, './main.go:3:1: syntax error: unexpected }\n');
    expect(rule(syntax, ctxWith(parseGoMod('/w/go.mod', 'module m\ngo 1.30\n')))).toEqual([]);
  });

  it('compares Go versions as Go does', () => {
    expect(compareGoVersions('1.30', 'go1.19.8')).toBeGreaterThan(0);
    expect(compareGoVersions('go1.21rc1', '1.21')).toBeLessThan(0);
    expect(compareGoVersions('1.19', 'go1.19.8')).toBeLessThan(0);
    expect(compareGoVersions('go1.19.8', '1.19.8')).toBe(0);
  });
});
