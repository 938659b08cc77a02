/**
 * The task field offsets the probe reads, found in BTF: a hand-built BTF blob with the
 * shapes the kernel uses (typedefs, nested structs, anonymous unions, bitfields), and what a
 * user sees when a kernel lays a field out differently or the BTF is damaged. The real
 * kernel's values are checked against bpftool in kernel-layout.kernel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BtfTypes, LAYOUT_FIELDS, layoutParams } from '../../src/probe-runner/kernel-layout.js';

/** A minimal BTF encoder for the tests (little-endian, version 1). */
class BtfBuilder {
  private strings = Buffer.from([0]);
  private types: Buffer[] = [];
  private nextId = 1;

  private str(s: string): number {
    if (s === '') return 0;
    const off = this.strings.length;
    this.strings = Buffer.concat([this.strings, Buffer.from(`${s}\0`, 'latin1')]);
    return off;
  }

  private add(name: string, kind: number, vlen: number, kindFlag: boolean, sizeOrType: number, extra: Buffer = Buffer.alloc(0)): number {
    const h = Buffer.alloc(12);
    h.writeUInt32LE(this.str(name), 0);
    h.writeUInt32LE(((kindFlag ? 1 : 0) << 31 | kind << 24 | vlen) >>> 0, 4);
    h.writeUInt32LE(sizeOrType, 8);
    this.types.push(h, extra);
    return this.nextId++;
  }

  int(name: string, bytes: number): number {
    const e = Buffer.alloc(4);
    e.writeUInt32LE(bytes * 8, 0);
    return this.add(name, 1, 0, false, bytes, e);
  }
  ptr(to: number): number { return this.add('', 2, 0, false, to); }
  typedef(name: string, to: number): number { return this.add(name, 8, 0, false, to); }
  fwd(name: string): number { return this.add(name, 7, 0, false, 0); }
  array(elem: number, index: number, nelems: number): number {
    const e = Buffer.alloc(12);
    e.writeUInt32LE(elem, 0);
    e.writeUInt32LE(index, 4);
    e.writeUInt32LE(nelems, 8);
    return this.add('', 3, 0, false, 0, e);
  }
  /** members: [name, type, bit offset, bitfield size (0 = none)] */
  struct(name: string, size: number, members: [string, number, number, number?][], kind = 4): number {
    const kindFlag = members.some((m) => (m[3] ?? 0) > 0);
    const e = Buffer.alloc(12 * members.length);
    members.forEach(([n, t, bits, bf], i) => {
      e.writeUInt32LE(this.str(n), 12 * i);
      e.writeUInt32LE(t, 12 * i + 4);
      e.writeUInt32LE(kindFlag ? (((bf ?? 0) << 24) | bits) >>> 0 : bits, 12 * i + 8);
    });
    return this.add(name, kind, members.length, kindFlag, size, e);
  }

  build(): Buffer {
    const types = Buffer.concat(this.types);
    const h = Buffer.alloc(24);
    h.writeUInt16LE(0xeb9f, 0);
    h.writeUInt8(1, 2);
    h.writeUInt32LE(24, 4);
    h.writeUInt32LE(0, 8);
    h.writeUInt32LE(types.length, 12);
    h.writeUInt32LE(types.length, 16);
    h.writeUInt32LE(this.strings.length, 20);
    return Buffer.concat([h, types, this.strings]);
  }
}

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
  const se = b.struct('sched_entity', 256, [['load', long, 0], ['sum_exec_runtime', u64, 64 * 8]]);
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
      'upid.size': 16, 'upid.nr': 0, 'upid.ns': 8, 'pid_namespace.inum': 136,
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
});
