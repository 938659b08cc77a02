// The two probe sets cut from probes/linux/gostall.bt: what each one hooks decides what an
// always-on agent costs every other process on the machine, and what `run` waits for at start.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { probeProgram } from '../../src/probe-runner/probe-text.js';
import { probeSetFor } from '../../src/probe-runner/bpftrace.js';

const SOURCE = readFileSync(fileURLToPath(new URL('../../probes/linux/gostall.bt', import.meta.url)), 'utf8');

/** Attach points of a program (comments removed). */
function attachPoints(program: string): string[] {
  const text = program.replace(/\/\*[\s\S]*?\*\//g, '');
  return [...text.matchAll(/\b(tracepoint:[a-z_]+:[a-z0-9_]+)/g)].map((m) => m[1]!);
}

describe('probe sets', () => {
  it('the agent hooks no raw_syscalls and no read: untraced processes pay only for the calls the rules need', () => {
    const points = attachPoints(probeProgram(SOURCE, 'agent', 'x64'));
    expect(points.some((p) => p.startsWith('tracepoint:raw_syscalls:'))).toBe(false);
    expect(points.filter((p) => /sys_(enter|exit)_(read|pread64|write)$/.test(p))).toEqual([]);
    expect(points).toContain('tracepoint:syscalls:sys_enter_newfstatat');
    expect(points).toContain('tracepoint:syscalls:sys_exit_getdents64');
    expect(points).toContain('tracepoint:syscalls:sys_enter_renameat');
  });

  it('the agent hooks write only when its configuration asks for stderr (tracer.stderr), checking the fd first', () => {
    const program = probeProgram(SOURCE, 'agent', 'x64', { stderr: true });
    const withHook = attachPoints(program);
    const without = attachPoints(probeProgram(SOURCE, 'agent', 'x64'));
    // one write hook, whose predicate reads the fd and nothing else: a write to anything but
    // fd 2 costs the tracepoint and one compare (no map lookup)
    expect(withHook.filter((p) => /sys_(enter|exit)_write$/.test(p))).toEqual(['tracepoint:syscalls:sys_enter_write']);
    expect(program).toMatch(/^tracepoint:syscalls:sys_enter_write\n\/args->fd == 2\/\n/m);
    expect(withHook.filter((p) => p !== 'tracepoint:syscalls:sys_enter_write')).toEqual(without);
    // run captures stderr in its raw_syscalls hook whatever the variant says
    expect(probeProgram(SOURCE, 'run', 'x64', { stderr: true })).toBe(probeProgram(SOURCE, 'run', 'x64'));
  });

  it('run hooks raw_syscalls and no per-syscall tracepoint (half the attach time)', () => {
    const points = attachPoints(probeProgram(SOURCE, 'run', 'x64'));
    expect(points).toContain('tracepoint:raw_syscalls:sys_enter');
    expect(points.some((p) => p.startsWith('tracepoint:syscalls:'))).toBe(false);
  });

  it('leaves out tracepoints an architecture does not have', () => {
    const points = attachPoints(probeProgram(SOURCE, 'agent', 'arm64'));
    expect(points).not.toContain('tracepoint:syscalls:sys_enter_renameat');
    expect(points).toContain('tracepoint:syscalls:sys_enter_renameat2');
  });

  it('keeps the line numbers of the source, so bpftrace errors point into the file', () => {
    for (const set of ['run', 'agent'] as const) {
      const out = probeProgram(SOURCE, set, 'x64').split('\n');
      const src = SOURCE.split('\n');
      expect(out.length).toBe(src.length);
      out.forEach((line, i) => { if (line !== '') expect(line).toBe(src[i]); });
    }
  });

  it('refuses unknown or unbalanced sections instead of loading a half-cut program', () => {
    expect(() => probeProgram('/* [bogus] */\n/* [end bogus] */', 'run')).toThrow(/unknown section/);
    expect(() => probeProgram('/* [run-only] */\nx', 'agent')).toThrow(/not closed/);
    expect(() => probeProgram('/* [end run-only] */', 'agent')).toThrow(/unbalanced/);
  });

  it('on the host no PID-namespace code is loaded; in a namespace no host-only code, for either set', () => {
    for (const set of ['run', 'agent'] as const) {
      const code = (t: string): string => t.replace(/\/\*[\s\S]*?\*\//g, '');
      const host = code(probeProgram(SOURCE, set, 'x64'));
      const inNs = code(probeProgram(SOURCE, set, 'x64', { pidNamespace: true }));
      // a task's id in gostall's namespace: struct pid's numbers[] ($92) at the level @nsl
      expect(host).not.toMatch(/\$92|@nsl|@eP\b|@pfAt/);
      expect(inNs).toMatch(/\+ \$92 \+ @nsl \* \$93 \+ \$94/);
      // the host's root is taken in BEGIN by its kernel pid; in a namespace only at its exec
      expect(host).toMatch(/if \(\$1 > 0\) \{ @tracked\[\$1\] = nsecs; @cmdExec\[\$1\] = 1; \}/);
      expect(inNs).not.toMatch(/if \(\$1 > 0\) \{ @tracked\[\$1\] = nsecs; @cmdExec\[\$1\] = 1; \}/);
      // one G record per root either way
      expect(inNs.match(/printf\("G/g)?.length ?? 0).toBe(set === 'agent' ? 1 : 0);
      expect(host.match(/printf\("G/g)?.length ?? 0).toBe(set === 'agent' ? 1 : 0);
    }
  });

  it('the agent hooks task_rename (bin/gostall\'s named shim) only when told it may (environment.ts renameHookUsable); run never does', () => {
    expect(attachPoints(probeProgram(SOURCE, 'agent', 'x64', { renameHook: true }))).toContain('tracepoint:task:task_rename');
    expect(attachPoints(probeProgram(SOURCE, 'agent', 'x64'))).not.toContain('tracepoint:task:task_rename');
    expect(attachPoints(probeProgram(SOURCE, 'run', 'x64', { renameHook: true }))).not.toContain('tracepoint:task:task_rename');
  });

  it('sections nest, and an inner section is cut with its outer one', () => {
    const src = '/* [agent-only] */\na\n/* [pidns-only] */\nb\n/* [end pidns-only] */\n/* [end agent-only] */';
    expect(probeProgram(src, 'agent', 'x64', { pidNamespace: true }).split('\n').filter(Boolean)).toEqual(['a', 'b']);
    expect(probeProgram(src, 'agent', 'x64').split('\n').filter(Boolean)).toEqual(['a']);
    expect(probeProgram(src, 'run', 'x64', { pidNamespace: true }).split('\n').filter(Boolean)).toEqual([]);
    expect(() => probeProgram('/* [agent-only] */\n/* [end pidns-only] */', 'agent')).toThrow(/unbalanced/);
  });

  it('the mode picks the set: agent parameters load the agent program', () => {
    const base = { rootPid: 0, syscallThresholdNs: 1, offcpuThresholdNs: 1 };
    expect(probeSetFor({ ...base, agent: { executables: ['go'], cgroupId: 0, adoptPids: [] } })).toBe('agent');
    expect(probeSetFor({ ...base, rootPid: 42 })).toBe('run');
  });
});
