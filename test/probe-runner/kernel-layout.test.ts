/**
 * The task field offsets the probe reads, found in BTF: a hand-built BTF blob with the
 * shapes the kernel uses (typedefs, nested structs, anonymous unions, bitfields), and what a
 * user sees when a kernel lays a field out differently or the BTF is damaged. The real
 * kernel's values are checked against bpftool in kernel-layout.kernel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BtfTypes, LAYOUT_FIELDS, layoutParams } from '../../src/probe-runner/kernel-layout.js';
import { BtfBuilder } from '../support/btf-builder.js';

/** A kernel-like set of the structs the probe reads; `change` alters one before it is added. */
function kernelBtf(opts: { exitCodeBytes?: number; noNivcsw?: boolean; runDelayBitfield?: boolean } = {}): Buffer {
  const b = new BtfBuilder();
  const u64 = b.typedef('u64', b.int('unsigned long long', 8));
  const int = b.int('int', 4);
  const pid = b.typedef('pid_t', int);
  const long = b.int('long unsigned int', 8);
  b.fwd('task_struct');
  const atomic = b.typedef('atomic_t', b.struct('', 4, [['counter', int, 0]]));
  const signal = b.struct('signal_struct', 64, [['nr_threads', int, 0], ['live', atomic, 32]]);
  const mm = b.struct('mm_struct', 512, [['arg_start', long, 488 * 8], ['arg_end', long, 496 * 8]]);
  const se = b.struct('sched_entity', 256, [['load', long, 0], ['exec_start', u64, 56 * 8], ['sum_exec_runtime', u64, 64 * 8]]);
  const sched = b.struct('sched_info', 32, [['pcount', long, 0], ['run_delay', u64, 64, opts.runDelayBitfield ? 64 : 0]]);
  const ioac = b.struct('task_io_accounting', 48, [['rchar', u64, 0], ['syscr', u64, 128]]);
  const exitCode = opts.exitCodeBytes === 8 ? long : int;
  // nvcsw and nivcsw sit inside an anonymous struct inside an anonymous union, as
  // randomized-layout kernels group fields
  const anonStruct = b.struct('', 16, [['nvcsw', long, 0], ...(opts.noNivcsw ? [] : [['nivcsw', long, 64] as [string, number, number]])]);
  const anonUnion = b.struct('', 16, [['', anonStruct, 0]], 5);
  const nsCommon = b.struct('ns_common', 24, [['stashed', long, 0], ['inum', b.int('unsigned int', 4), 16 * 8]]);
  const pidNs = b.struct('pid_namespace', 160, [['idr', long, 0], ['ns', nsCommon, 120 * 8]]);
  const upid = b.struct('upid', 16, [['nr', int, 0], ['ns', b.ptr(pidNs), 64]]);
  const pidStruct = b.struct('pid', 144, [['count', int, 0], ['level', b.int('unsigned int', 4), 32], ['numbers', b.array(upid, int, 0), 144 * 8]]);
  const task = b.struct('task_struct', 3000, [
    ['thread_pid', b.ptr(pidStruct), 1368 * 8], ['group_leader', b.ptr(0), 1328 * 8],
    ['stack', b.ptr(0), 32 * 8], ['se', se, 100 * 8], ['sched_info', sched, 1000 * 8], ['mm', b.ptr(mm), 1100 * 8],
    ['exit_code', exitCode, 1164 * 8], ['tgid', pid, 1268 * 8], ['real_parent', b.ptr(0), 1280 * 8],
    ['', anonUnion, 1500 * 8], ['signal', b.ptr(signal), 1800 * 8], ['ioac', ioac, 2100 * 8],
  ]);
  void task;
  b.struct('pt_regs', 168, [['di', long, 112 * 8], ['orig_ax', long, 120 * 8]]);
  return b.build();
}

const byName = (params: string[]) => Object.fromEntries(LAYOUT_FIELDS.map((f, i) => [f.name, Number(params[i])]));

describe('task field offsets from BTF', () => {
  it('follows typedefs, nested structs and anonymous unions to each field the probe reads', () => {
    const p = byName(layoutParams(kernelBtf(), 'x64'));
    expect(p).toEqual({
      'task.real_parent': 1280, 'task.tgid': 1268, 'task.mm': 1100, 'mm.arg_start': 488, 'mm.arg_end': 496,
      'task.sum_exec_runtime': 164, 'task.run_delay': 1008, 'task.nvcsw': 1500, 'task.nivcsw': 1508,
      'task.signal': 1800, 'signal.live': 4, 'task.exit_code': 1164, 'task.syscr': 2116,
      'task.stack': 32, 'pt_regs.orig_ax': 120, 'pt_regs.di': 112, 'pt_regs.size': 168,
      'task.thread_pid': 1368, 'task.group_leader': 1328, 'pid.level': 4, 'pid.numbers': 144,
      'upid.size': 16, 'upid.nr': 0, 'upid.ns': 8, 'pid_namespace.inum': 136, 'task.exec_start': 156,
    });
  });

  it('leaves the x86_64-only offsets at 0 on other architectures (their sections are not loaded)', () => {
    const p = byName(layoutParams(kernelBtf(), 'arm64'));
    expect([p['task.stack'], p['pt_regs.orig_ax'], p['pt_regs.di'], p['pt_regs.size']]).toEqual([0, 0, 0, 0]);
    expect(p['task.exit_code']).toBe(1164);
  });

  it('names the field when the kernel lays it out differently, instead of feeding the probe wrong numbers', () => {
    expect(() => layoutParams(kernelBtf({ exitCodeBytes: 8 }), 'x64')).toThrow("the kernel's task_struct.exit_code is 8 bytes; gostall's probe reads 4");
    expect(() => layoutParams(kernelBtf({ noNivcsw: true }), 'x64')).toThrow("the kernel's struct task_struct has no nivcsw");
    expect(() => layoutParams(kernelBtf({ runDelayBitfield: true }), 'x64')).toThrow("the kernel's task_struct.sched_info.run_delay is a bitfield");
  });

  it('refuses damaged BTF with a clear error', () => {
    const good = kernelBtf();
    const badMagic = Buffer.from(good);
    badMagic.writeUInt16LE(0x1234, 0);
    expect(() => layoutParams(badMagic)).toThrow(/bad magic/);
    expect(() => layoutParams(good.subarray(0, good.length - 40))).toThrow(/truncated BTF/);
    const unknownKind = Buffer.from(good);
    unknownKind.writeUInt32LE(31 << 24, 24 + 4);
    expect(() => layoutParams(unknownKind)).toThrow(/unknown BTF type kind 31/);
    expect(() => new BtfTypes(Buffer.alloc(10))).toThrow(/bad magic/);
  });

  it('takes the complete struct, not a forward declaration of the same name', () => {
    const types = new BtfTypes(kernelBtf());
    expect(types.fieldOffset('task_struct', 'tgid')).toEqual({ offset: 1268, size: 4 });
  });

  it('reads the same wherever the blob lies in memory, and finds names given up front as it would later', () => {
    const blob = kernelBtf();
    // a blob at an odd address is read byte by byte, one at a multiple of 4 as 32-bit words
    const odd = Buffer.alloc(blob.length + 1).fill(0xff);
    blob.copy(odd, 1);
    const aligned = new Uint8Array(new ArrayBuffer(blob.length));
    aligned.set(blob);
    const expected = layoutParams(blob, 'x64');
    expect(layoutParams(odd.subarray(1), 'x64')).toEqual(expected);
    expect(layoutParams(Buffer.from(aligned.buffer), 'x64')).toEqual(expected);
    const prefetched = new BtfTypes(Buffer.from(aligned.buffer), ['pid_t', 'task_struct', 'no_such_type']);
    const later = new BtfTypes(Buffer.from(aligned.buffer));
    const kinds = new Set([7, 8, 4]); // FWD, TYPEDEF, STRUCT
    expect(prefetched.typesNamed(['pid_t', 'task_struct', 'no_such_type'], kinds)).toEqual(later.typesNamed(['task_struct', 'pid_t'], kinds));
    expect(later.typesNamed(['task_struct'], kinds).map((t) => later.kindOf(t.id))).toEqual([7, 4]);
    expect(layoutParams(prefetched, 'x64')).toEqual(expected);
  });

  it('finds a name stored first among the strings, and only whole names (pid, not the end of upid)', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4);
    b.struct('upid', 8, [['nr', int, 0]]);
    const pid = b.struct('pid', 8, [['level', int, 0]]);
    const types = new BtfTypes(b.build(), ['int']);
    expect(types.typesNamed(['int'], new Set([1])).map((t) => t.id)).toEqual([int]);
    expect(types.structId('pid')).toBe(pid);
  });
});
