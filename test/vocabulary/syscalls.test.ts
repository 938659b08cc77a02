import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tracerArgs } from '../../src/probe-runner/bpftrace.js';
import {
  FIRST_SYSCALL_PARAM, NO_SUCH_SYSCALL, PROBE_SYSCALLS, PROBE_SYSCALL_NAMES, SC, inflightSyscalls, probeSyscallName, syscallNumbers,
} from '../../src/vocabulary/syscalls.js';

/** __NR_* definitions of a kernel uapi header (libc6-dev / linux-libc-dev, installed by setup). */
function unistd(path: string): Map<string, number> {
  const text = readFileSync(path, 'utf8');
  const defs = new Map<string, string>();
  for (const m of text.matchAll(/^#define (__NR3264_\w+|__NR_\w+)\s+(\S+)/gm)) defs.set(m[1]!, m[2]!);
  const out = new Map<string, number>();
  for (const [name, value] of defs) {
    const v = /^\d+$/.test(value) ? Number(value) : Number(defs.get(value));
    if (name.startsWith('__NR_') && Number.isInteger(v)) out.set(name.slice(5), v);
  }
  return out;
}

const X64 = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const GENERIC = '/usr/include/asm-generic/unistd.h';

describe('syscall numbers passed to the probe', () => {
  it('match the x86_64 kernel headers', () => {
    expect(existsSync(X64), `${X64} (from linux-libc-dev) is needed`).toBe(true);
    const nr = unistd(X64);
    expect(syscallNumbers('x64')).toEqual(PROBE_SYSCALLS.map((n) => nr.get(n)));
  });

  it('match the generic table arm64 uses, with renameat marked absent', () => {
    expect(existsSync(GENERIC), `${GENERIC} (from linux-libc-dev) is needed`).toBe(true);
    const nr = unistd(GENERIC);
    const expected = PROBE_SYSCALLS.map((n) => (n === 'renameat' ? NO_SUCH_SYSCALL : nr.get(n)));
    expect(syscallNumbers('arm64')).toEqual(expected);
  });

  it('go to the probe at $49.. in both run and agent mode', () => {
    const base = { rootPid: 42, syscallThresholdNs: 1, offcpuThresholdNs: 1 };
    const run = tracerArgs('p.bt', base, 'x64');
    const agent = tracerArgs('p.bt', { ...base, rootPid: 0, agent: { executables: ['go'], cgroupId: 0, adoptPids: [7] } }, 'arm64');
    // after -B line SCRIPT, $1 is args[3]
    const first = 3 + FIRST_SYSCALL_PARAM - 1;
    expect(run.slice(first, first + syscallNumbers('x64')!.length)).toEqual(syscallNumbers('x64')!.map(String));
    expect(agent.slice(first, first + syscallNumbers('arm64')!.length)).toEqual(syscallNumbers('arm64')!.map(String));
    expect(agent[3 + 16]).toBe('7');
    // the PID namespace comes next ($69), then the Go build cache directory and its length ($70, $71)
    const param = (args: string[], n: number) => args[3 + n - 1];
    expect(param(tracerArgs('p.bt', { ...base, pidNamespace: 4026532175 }, 'x64'), 69)).toBe('4026532175');
    expect(param(tracerArgs('p.bt', { ...base, pidNamespace: 0 }, 'x64'), 69)).toBe('0');
    expect(tracerArgs('p.bt', { ...base, pidNamespace: 0, goCacheDir: '/tmp/gc' }, 'x64').slice(3 + 69, 3 + 71)).toEqual(['/tmp/gc/', '8']);
    expect(tracerArgs('p.bt', { ...base, pidNamespace: 0, goCacheDir: null }, 'x64').slice(3 + 69, 3 + 71)).toEqual(['', '0']);
    // then this kernel's task field offsets, $72..$97 (kernel-layout.test.ts checks their values)
    expect(tracerArgs('p.bt', base, 'x64')).toHaveLength(3 + 97);
  });

  it('refuse an architecture gostall has no table for', () => {
    expect(syscallNumbers('riscv64')).toBeUndefined();
    expect(() => tracerArgs('p.bt', { rootPid: 1, syscallThresholdNs: 1, offcpuThresholdNs: 1 }, 'riscv64')).toThrow(/riscv64/);
  });
});

describe('one table for the probe\'s ids, kernel numbers and in-flight arguments', () => {
  it('names every probe id the records use, and numbers what is followed in flight by the same table', () => {
    expect(PROBE_SYSCALL_NAMES[SC.newfstatat]).toBe('newfstatat');
    expect(probeSyscallName(SC.getdents64)).toBe('getdents64');
    expect(probeSyscallName(99)).toBe('syscall_99');
    const x64 = syscallNumbers('x64')!;
    const inflight = inflightSyscalls('x64');
    // newfstatat's kernel number maps back to its probe id, its path in the second argument
    expect(inflight.get(x64[PROBE_SYSCALLS.indexOf('newfstatat')]!)).toEqual({ sc: SC.newfstatat, arg: 1 });
    expect(inflight.get(x64[PROBE_SYSCALLS.indexOf('read')]!)).toEqual({ sc: SC.read, arg: 0 });
    // connects are non-blocking in Go: never followed in flight; arm64 has no renameat
    expect(inflight.get(x64[PROBE_SYSCALLS.indexOf('connect')]!)).toBeUndefined();
    expect([...inflightSyscalls('arm64').values()].some((e) => e.sc === SC.renameat)).toBe(false);
  });
});
