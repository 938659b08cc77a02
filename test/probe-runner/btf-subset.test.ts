/**
 * The BTF subset bpftrace compiles gostall's probe against: the type names a tracepoint's
 * format declares, and a blob holding those types and what they are made of, nothing else.
 * (That bpftrace emits the same program with it: btf-subset.kernel.test.ts.)
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { btfSubset, formatTypeNames, needsKernelTypes, tracepointTypeNames } from '../../src/probe-runner/btf-subset.js';
import { linuxProbeScript } from '../../src/paths.js';
import { probeProgram } from '../../src/probe-runner/probe-text.js';
import { BtfTypes, KIND } from '../../src/probe-runner/kernel-layout.js';
import { BtfBuilder } from '../support/btf-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-btf-subset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tracepoint format as the kernel prints it (sock:inet_sock_set_state, cut down, with one made-up field). */
const FORMAT = `name: inet_sock_set_state
ID: 1525
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__data_loc char[] comm;\toffset:40;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:44;\tsize:4;\tsigned:1;
\tfield:struct sockaddr * uservaddr;\toffset:48;\tsize:8;\tsigned:0;

print fmt: "sport=%hu", REC->sport
`;

describe('the type names of a tracepoint', () => {
  it('are the names in its fields\' types: not the fields\' own names, not C\'s words', () => {
    expect([...formatTypeNames(FORMAT)].sort()).toEqual(['__u16', '__u8', 'pid_t', 'sockaddr']);
  });

  it('are read from the first tracefs mount that has the tracepoint; one it lacks adds none', () => {
    const a = join(dir, 'tracefs-a');
    const b = join(dir, 'tracefs-b');
    mkdirSync(join(b, 'events', 'sock', 'inet_sock_set_state'), { recursive: true });
    writeFileSync(join(b, 'events', 'sock', 'inet_sock_set_state', 'format'), FORMAT);
    mkdirSync(join(a, 'events', 'sched', 'sched_process_fork'), { recursive: true });
    writeFileSync(join(a, 'events', 'sched', 'sched_process_fork', 'format'), '\tfield:pid_t parent_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:uid_t uid;\n');
    const names = tracepointTypeNames(['sock:inet_sock_set_state', 'sched:sched_process_fork', 'oom:no_such_event'], [a, b]);
    expect([...names].sort()).toEqual(['__u16', '__u8', 'pid_t', 'sockaddr', 'uid_t']);
  });
});

/** Types like the kernel's: typedef chains, a struct used by value and one only through a pointer, and unrelated ones. */
function kernelLike(): Buffer {
  const b = new BtfBuilder();
  const int = b.int('int', 4);
  const uchar = b.int('unsigned char', 1);
  b.typedef('pid_t', b.typedef('__kernel_pid_t', int));
  b.typedef('__u8', uchar);
  const ops = b.struct('file_operations', 256, [['owner', b.ptr(0), 0]]);
  const family = b.typedef('sa_family_t', b.int('short unsigned int', 2));
  const inner = b.struct('sockaddr_inner', 14, [['data', b.array(uchar, int, 14), 0]]);
  const other = b.struct('net_device', 2048, [['ops', b.ptr(ops), 0], ['mtu', int, 64]]);
  b.struct('sockaddr', 24, [['sa_family', family, 0], ['sa_data', inner, 16], ['dev', b.ptr(other), 128]]);
  b.struct('task_struct', 9000, [['pid', int, 0], ['files', b.ptr(ops), 64]]);
  return b.build();
}

describe('the BTF subset', () => {
  it('holds the named types, whole, and what they are made of; a struct only pointed to is declared, not defined', () => {
    const subset = new BtfTypes(btfSubset(new BtfTypes(kernelLike()), ['pid_t', '__u8', 'sockaddr'])!);
    const named = (n: string) => subset.typesNamed([n], new Set(Object.values(KIND)));
    // pid_t resolves through its typedef chain to the 4-byte int
    const [pid] = named('pid_t');
    expect(subset.sizeOf(pid!.id)).toBe(4);
    expect(named('__kernel_pid_t')).toHaveLength(1);
    // sockaddr is whole, with its members at their offsets and sizes
    expect(subset.fieldOffset('sockaddr', 'sa_data')).toEqual({ offset: 2, size: 14 });
    expect(subset.fieldOffset('sockaddr', 'sa_family')).toEqual({ offset: 0, size: 2 });
    expect(subset.sizeOf(subset.structId('sockaddr'))).toBe(24);
    // net_device, reached only through a pointer, is a forward declaration; what it points to is not there at all
    expect(named('net_device').map((t) => subset.kindOf(t.id))).toEqual([KIND.FWD]);
    expect(named('file_operations')).toEqual([]);
    expect(named('task_struct')).toEqual([]);
    // pid_t, __kernel_pid_t, int, __u8, unsigned char, sockaddr, sa_family_t, its short, sockaddr_inner, its array, the pointer, net_device's declaration
    expect(subset.count - 1).toBe(12);
  });

  it('is nothing when none of the names is a type of the kernel\'s', () => {
    expect(btfSubset(new BtfTypes(kernelLike()), ['no_such_type', 'sport'])).toBeUndefined();
  });
});

describe('which programs compile against the subset', () => {
  it('gostall\'s probe, every set and variant: it reads task fields at offsets, never through BTF', () => {
    const source = readFileSync(linuxProbeScript(), 'latin1');
    for (const set of ['run', 'agent'] as const) {
      for (const variant of [{}, { pidNamespace: true, stderr: true, renameHook: true }]) {
        expect(needsKernelTypes(probeProgram(source, set, 'x64', variant)), `${set} ${JSON.stringify(variant)}`).toBe(false);
      }
    }
  });

  it('not one that names a struct, reads through curtask-> or attaches to a BTF-typed probe (comments aside)', () => {
    expect(needsKernelTypes('tracepoint:sched:sched_switch { $rq = curtask->sched_info.run_delay; }')).toBe(true);
    expect(needsKernelTypes('BEGIN { $r = (struct pt_regs *)0; }')).toBe(true);
    expect(needsKernelTypes('kfunc:vfs_read { @[comm] = count(); }')).toBe(true);
    expect(needsKernelTypes('/* struct pid: see curtask->thread_pid */ BEGIN { printf("%d\\n", pid); } // struct x')).toBe(false);
  });
});
