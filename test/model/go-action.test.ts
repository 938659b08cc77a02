// What a user reads off a Go toolchain span: which package the action builds (import path,
// or a main package's directory) and which kind of action it is — from the argv Go 1.19 passes.
import { describe, expect, it } from 'vitest';
import { goActionOf, importPathOfDir } from '../../src/model/go-action.js';
import { createProcess, displayName, type ProcessNode } from '../../src/model/process.js';
import { TOOL, W, exec } from '../support/go-processes.js';


function goBuild(): { go: ProcessNode; tool: (pid: number, name: string, args: string[]) => ProcessNode } {
  const go = exec(createProcess(100, undefined, 0), '/usr/bin/go', ['go', 'build', './cmd/app']);
  return { go, tool: (pid, name, args) => exec(createProcess(pid, go, pid), `${TOOL}/${name}`, [name, ...args]) };
}

describe('Go build actions from argv', () => {
  it('a library compile is named by its import path', () => {
    const { tool } = goBuild();
    const c = tool(101, 'compile', ['-o', `${W}/b002/_pkg_.a`, '-trimpath', `${W}/b002=>`, '-p', 'example.org/app/internal/greet', '-lang=go1.19', '-complete',
      '-buildid', 'x/x', '-goversion', 'go1.19.8', '-c=2', '-nolocalimports', '-importcfg', `${W}/b002/importcfg`, '-pack', './internal/greet/greet.go']);
    expect(displayName(c)).toBe('compile example.org/app/internal/greet');
    expect(goActionOf(c)).toEqual({ kind: 'compile', packagePath: 'example.org/app/internal/greet', packageDir: undefined, actionDir: `${W}/b002` });
  });

  it('a main package gets its import path from a sibling package of its module, and its link from the compile of the same action', () => {
    const { tool } = goBuild();
    tool(101, 'compile', ['-o', `${W}/b002/_pkg_.a`, '-p', 'example.org/app/internal/greet', '-pack', '/src/app/internal/greet/greet.go']);
    const main = tool(102, 'compile', ['-o', `${W}/b001/_pkg_.a`, '-trimpath', `${W}/b001=>`, '-p', 'main', '-importcfg', `${W}/b001/importcfg`, '-pack',
      '/src/app/cmd/app/main.go', '/src/app/cmd/app/flags.go']);
    const link = tool(103, 'link', ['-o', `${W}/b001/exe/a.out`, '-importcfg', `${W}/b001/importcfg.link`, '-buildmode=exe', '-buildid=a/b/c/d', '-extld=gcc', `${W}/b001/_pkg_.a`]);
    expect(displayName(main)).toBe('compile example.org/app/cmd/app');
    expect(displayName(link)).toBe('link example.org/app/cmd/app');
    expect(goActionOf(link)).toMatchObject({ kind: 'link', packagePath: 'main', packageDir: '/src/app/cmd/app' });
  });

  it('a lone main package keeps the name main', () => {
    const { tool } = goBuild();
    expect(displayName(tool(101, 'compile', ['-o', `${W}/b001/_pkg_.a`, '-p', 'main', '/src/hello/main.go']))).toBe('compile main');
  });

  it('maps directories onto import paths even when the module directory is named like the module', () => {
    expect(importPathOfDir('/src/app/cmd/x', 'example.org/app/lib', '/src/app/lib')).toBe('example.org/app/cmd/x');
    expect(importPathOfDir('/src/checkout/cmd/x', 'example.org/app/lib', '/src/checkout/lib')).toBe('example.org/app/cmd/x');
    expect(importPathOfDir('/elsewhere/cmd/x', 'example.org/app/lib', '/src/checkout/lib')).toBeUndefined();
  });

  it('asm and cgo name their package; vet takes it from its compile', () => {
    const { tool } = goBuild();
    expect(displayName(tool(101, 'asm', ['-p', 'example.org/x', '-trimpath', `${W}/b003=>`, '-o', `${W}/b003/a.o`, './a_amd64.s']))).toBe('asm example.org/x');
    expect(displayName(tool(102, 'cgo', ['-objdir', `${W}/b004/`, '-importpath', 'example.org/c', '--', '-I', `${W}/b004/`, './c.go']))).toBe('cgo example.org/c');
    expect(displayName(tool(105, 'cgo', ['-dynpackage', 'c', '-dynimport', `${W}/b004/_cgo_.o`, '-dynout', `${W}/b004/_cgo_import.go`]))).toBe('cgo example.org/c');
    tool(103, 'compile', ['-o', `${W}/b005/_pkg_.a`, '-p', 'example.org/v', './v.go']);
    const vet = tool(104, 'vet', ['-atomic', '-bool', `${W}/b005/vet.cfg`]);
    expect(displayName(vet)).toBe('vet example.org/v');
    expect(goActionOf(vet)?.kind).toBe('vet');
  });

  it('a tool with nothing to go on keeps its plain name; coreutils link is no Go action', () => {
    const { tool, go } = goBuild();
    expect(displayName(tool(101, 'compile', ['-V=full']))).toBe('compile');
    expect(displayName(tool(102, 'vet', ['-flags']))).toBe('vet');
    const coreutils = exec(createProcess(103, go, 0), '/usr/bin/link', ['link', 'a', 'b']);
    expect(goActionOf(coreutils)).toBeUndefined();
    expect(displayName(coreutils)).toBe('link');
  });
});
