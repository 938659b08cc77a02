/**
 * Where the kernel keeps the task fields the probe reads (exit code, CPU time, run-queue
 * delay, parent, argv bounds, …), read from the kernel's own BTF (/sys/kernel/btf/vmlinux)
 * and passed to the probe as numeric parameters.
 *
 * Why: bpftrace 0.17 resolving `curtask->field` through BTF costs about 0.6 s of its compile
 * (half of it) on every start, which every standalone `gostall run` paid before CMD could
 * start. Reading the same field at its offset (`*(uint64 *)((uint64)curtask + $N)`) is the
 * same load in the compiled program, and finding the offsets here takes a few milliseconds.
 *
 * Every offset is found by name and checked for the width the probe reads, so a kernel that
 * lays a field out differently fails here with a clear line instead of feeding the probe
 * wrong numbers. The BTF format: https://docs.kernel.org/bpf/btf.html
 */
import { readFileSync } from 'node:fs';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/**
 * One parameter: the byte offset of a dotted member path in a struct, checked to be as wide
 * as the probe reads it (0: a flexible array, where a list of entries begins); or, without a
 * path, the size of the struct.
 */
interface LayoutSpec { name: string; struct: string; path?: string; bytes?: 0 | 4 | 8; x64Only?: boolean }

/**
 * The probe's layout parameters, in parameter order ($72 onwards; probes/linux/gostall.bt,
 * "parameters"). x86_64-only entries are 0 on other architectures (their sections are cut).
 */
export const LAYOUT_FIELDS: readonly LayoutSpec[] = [
  { name: 'task.real_parent', struct: 'task_struct', path: 'real_parent', bytes: 8 },
  { name: 'task.tgid', struct: 'task_struct', path: 'tgid', bytes: 4 },
  { name: 'task.mm', struct: 'task_struct', path: 'mm', bytes: 8 },
  { name: 'mm.arg_start', struct: 'mm_struct', path: 'arg_start', bytes: 8 },
  { name: 'mm.arg_end', struct: 'mm_struct', path: 'arg_end', bytes: 8 },
  { name: 'task.sum_exec_runtime', struct: 'task_struct', path: 'se.sum_exec_runtime', bytes: 8 },
  { name: 'task.run_delay', struct: 'task_struct', path: 'sched_info.run_delay', bytes: 8 },
  { name: 'task.nvcsw', struct: 'task_struct', path: 'nvcsw', bytes: 8 },
  { name: 'task.nivcsw', struct: 'task_struct', path: 'nivcsw', bytes: 8 },
  { name: 'task.signal', struct: 'task_struct', path: 'signal', bytes: 8 },
  { name: 'signal.live', struct: 'signal_struct', path: 'live.counter', bytes: 4 },
  { name: 'task.exit_code', struct: 'task_struct', path: 'exit_code', bytes: 4 },
  { name: 'task.syscr', struct: 'task_struct', path: 'ioac.syscr', bytes: 8 },
  { name: 'task.stack', struct: 'task_struct', path: 'stack', bytes: 8, x64Only: true },
  { name: 'pt_regs.orig_ax', struct: 'pt_regs', path: 'orig_ax', bytes: 8, x64Only: true },
  { name: 'pt_regs.di', struct: 'pt_regs', path: 'di', bytes: 8, x64Only: true },
  { name: 'pt_regs.size', struct: 'pt_regs', x64Only: true },
  // a task's ids in each PID namespace ([pidns-only] sections): task->thread_pid is a struct
  // pid, whose numbers[] holds one struct upid per namespace level
  { name: 'task.thread_pid', struct: 'task_struct', path: 'thread_pid', bytes: 8 },
  { name: 'task.group_leader', struct: 'task_struct', path: 'group_leader', bytes: 8 },
  { name: 'pid.level', struct: 'pid', path: 'level', bytes: 4 },
  { name: 'pid.numbers', struct: 'pid', path: 'numbers', bytes: 0 },
  { name: 'upid.size', struct: 'upid' },
  { name: 'upid.nr', struct: 'upid', path: 'nr', bytes: 4 },
  { name: 'upid.ns', struct: 'upid', path: 'ns', bytes: 8 },
  { name: 'pid_namespace.inum', struct: 'pid_namespace', path: 'ns.inum', bytes: 4 },
  // the scheduler's clock when it last added to se.sum_exec_runtime (a run root's CPU at CMD's exec)
  { name: 'task.exec_start', struct: 'task_struct', path: 'se.exec_start', bytes: 8 },
];

const BTF_MAGIC = 0xeb9f;
export const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19 } as const;

/**
 * Bytes of kind-specific data after a type's 12-byte header: a fixed part, plus a part per
 * member (vlen). As tables, indexed by kind (255: unknown), because the index below steps
 * over every one of vmlinux's ~126,000 types at each tracer start.
 */
const EXTRA_FIXED = new Uint8Array(32).fill(255);
const EXTRA_PER_MEMBER = new Uint8Array(32);
for (const k of [KIND.INT, KIND.VAR, KIND.DECL_TAG]) EXTRA_FIXED[k] = 4;
EXTRA_FIXED[KIND.ARRAY] = 12;
for (const k of [KIND.STRUCT, KIND.UNION, KIND.DATASEC, KIND.ENUM64]) { EXTRA_FIXED[k] = 0; EXTRA_PER_MEMBER[k] = 12; }
for (const k of [KIND.ENUM, KIND.FUNC_PROTO]) { EXTRA_FIXED[k] = 0; EXTRA_PER_MEMBER[k] = 8; }
for (const k of [KIND.PTR, KIND.FWD, KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.FUNC, KIND.FLOAT, KIND.TYPE_TAG]) EXTRA_FIXED[k] = 0;

function extraBytes(kind: number, vlen: number): number {
  const fixed = EXTRA_FIXED[kind & 0x1f]!;
  if (fixed === 255) throw new Error(`unknown BTF type kind ${kind}`);
  return fixed + EXTRA_PER_MEMBER[kind & 0x1f]! * vlen;
}

/** A BTF blob (version 1, little-endian) from its type and string sections, in the layout BtfTypes reads. */
export function encodeBtf(typeSection: Buffer, stringSection: Buffer): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt16LE(BTF_MAGIC, 0);
  header.writeUInt8(1, 2); // version
  header.writeUInt32LE(24, 4); // header length
  header.writeUInt32LE(0, 8); // types right after the header
  header.writeUInt32LE(typeSection.length, 12);
  header.writeUInt32LE(typeSection.length, 16); // strings right after the types
  header.writeUInt32LE(stringSection.length, 20);
  return Buffer.concat([header, typeSection, stringSection]);
}

const STRUCT_KIND: ReadonlySet<number> = new Set([KIND.STRUCT]);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names being looked up, by where the string section stores them, and the range of those offsets (none: Infinity, -Infinity). */
interface WantedNames { byOffset: Map<number, string>; lowest: number; highest: number }

/** The types of one BTF blob, indexed by id, read lazily. */
export class BtfTypes {
  /** where each type begins, by id (index 0, void, unused); filled up to `count` */
  private readonly starts: Uint32Array;
  private readonly typeCount: number;
  /** the blob as 32-bit words, when it is 4-byte aligned in memory (reads of the whole type list are ~4x faster so) */
  private readonly words: Uint32Array | undefined;
  private readonly typeBase: number;
  private readonly strBase: number;
  private readonly strEnd: number;

  /** the names looked up so far, each with the ids of the types (of any kind) it names */
  private readonly named = new Map<string, number[]>();

  /**
   * `find`: names to look up while the types are indexed (one pass over ~100,000 types
   * instead of one more for each later lookup).
   */
  constructor(private readonly buf: Buffer, find: Iterable<string> = []) {
    if (buf.length < 24 || buf.readUInt16LE(0) !== BTF_MAGIC) throw new Error('not little-endian BTF (bad magic)');
    const hdrLen = buf.readUInt32LE(4);
    const typeOff = buf.readUInt32LE(8);
    const typeLen = buf.readUInt32LE(12);
    const strOff = buf.readUInt32LE(16);
    const strLen = buf.readUInt32LE(20);
    this.typeBase = hdrLen + typeOff;
    this.strBase = hdrLen + strOff;
    this.strEnd = this.strBase + strLen;
    const typeEnd = this.typeBase + typeLen;
    if (typeEnd > buf.length || this.strEnd > buf.length) throw new Error('truncated BTF');
    this.words = buf.byteOffset % 4 === 0 && this.typeBase % 4 === 0 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2) : undefined;
    // every type takes at least 12 bytes: an upper bound on their number
    const starts = new Uint32Array(Math.floor(typeLen / 12) + 1);
    // what the names are stored as: their offsets in the string section
    const wanted = this.startLookUp(find);
    // This loop runs over every type at each tracer start (~126,000 in vmlinux): noteNamed()
    // looks in the name map only for offsets in the range of the names wanted, and
    // extraBytes() reads tables (with both, ~6 ms instead of ~15).
    let n = 1;
    for (let at = this.typeBase; at < typeEnd;) {
      if (at + 12 > typeEnd) throw new Error('truncated BTF type');
      const info = this.word(at + 4);
      this.noteNamed(n, at, wanted);
      starts[n++] = at;
      at += 12 + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
    }
    this.starts = starts;
    this.typeCount = n;
  }

  private word(at: number): number {
    return this.words ? this.words[at >>> 2]! : this.buf.readUInt32LE(at);
  }

  /**
   * Names not looked up yet, by where they are stored in the string section (C identifiers
   * only: nothing else names a type), each entered with no types yet. One regular expression
   * over the section: ~4 ms for vmlinux's 2.3 MB, where comparing each type's name in a loop
   * took ~30 ms.
   */
  private startLookUp(names: Iterable<string>): WantedNames {
    const idents = [...new Set(names)].filter((n) => IDENTIFIER.test(n) && !this.named.has(n));
    const out = new Map<number, string>();
    for (const name of idents) this.named.set(name, []);
    if (idents.length === 0) return { byOffset: out, lowest: Infinity, highest: -Infinity };
    // each name whole, between NULs: a NUL put in front stands for the one before the first
    // string, and shifts every match's index to the offset of the name itself. (A lookbehind
    // for the NUL instead took ~13 ms, not ~4.)
    const strings = '\0' + this.buf.toString('latin1', this.strBase, this.strEnd);
    const re = new RegExp(`\0(?:${idents.join('|')})(?=\0)`, 'g');
    for (const m of strings.matchAll(re)) out.set(m.index!, m[0].slice(1));
    // (no match: Math.min() is Infinity and Math.max() -Infinity, a range nothing falls in)
    return { byOffset: out, lowest: Math.min(...out.keys()), highest: Math.max(...out.keys()) };
  }

  /** Enters the type at this position under its name, when that is one being looked up. */
  private noteNamed(id: number, at: number, wanted: WantedNames): void {
    const off = this.word(at);
    if (off < wanted.lowest || off > wanted.highest) return;
    const name = wanted.byOffset.get(off);
    if (name !== undefined) this.named.get(name)!.push(id);
  }

  /** Looks these names up: one pass over the types for those not looked up before. */
  lookUp(names: Iterable<string>): void {
    const wanted = this.startLookUp(names);
    if (wanted.byOffset.size > 0) for (let id = 1; id < this.typeCount; id++) this.noteNamed(id, this.starts[id]!, wanted);
  }

  /** The types of these kinds with one of these names, in id order, with the name each has. */
  typesNamed(names: Iterable<string>, kinds: ReadonlySet<number>): { id: number; name: string }[] {
    const unique = [...new Set(names)];
    this.lookUp(unique);
    return unique.flatMap((name) => (this.named.get(name) ?? []).map((id) => ({ id, name })))
      .filter((t) => kinds.has(this.kindOf(t.id))).sort((a, b) => a.id - b.id);
  }

  /** Type ids run from 1 to count - 1 (0 is void). */
  get count(): number { return this.typeCount; }

  /** A type's kind (KIND). */
  kindOf(id: number): number { return this.header(id).kind; }

  /** A copy of a type's bytes: its 12-byte header and kind-specific data. */
  rawType(id: number): Buffer {
    const h = this.header(id);
    return Buffer.from(this.buf.subarray(h.at, h.at + 12 + extraBytes(h.kind, h.vlen)));
  }

  /** The string at an offset of the string section. */
  stringAt(off: number): string { return this.str(off); }

  private str(off: number): string {
    const start = this.strBase + off;
    if (start >= this.strEnd) throw new Error('BTF string offset out of range');
    const end = this.buf.indexOf(0, start);
    return this.buf.toString('latin1', start, end < 0 || end > this.strEnd ? this.strEnd : end);
  }

  private header(id: number): { at: number; kind: number; vlen: number; kindFlag: boolean; sizeOrType: number } {
    const at = id > 0 && id < this.typeCount ? this.starts[id] : undefined;
    if (at === undefined) throw new Error(`BTF type id ${id} out of range`);
    const info = this.buf.readUInt32LE(at + 4);
    return { at, kind: (info >>> 24) & 0x1f, vlen: info & 0xffff, kindFlag: (info >>> 31) === 1, sizeOrType: this.buf.readUInt32LE(at + 8) };
  }

  /** The type behind typedefs and qualifiers. */
  resolve(id: number): number {
    for (let hops = 0; hops < 32; hops++) {
      const h = this.header(id);
      if (h.kind !== KIND.TYPEDEF && h.kind !== KIND.VOLATILE && h.kind !== KIND.CONST && h.kind !== KIND.RESTRICT && h.kind !== KIND.TYPE_TAG) return id;
      id = h.sizeOrType;
    }
    throw new Error('BTF typedef chain too long');
  }

  /** Size in bytes of a (resolved) type: structs, unions, ints, enums, pointers (8 on a 64-bit kernel), arrays. */
  sizeOf(id: number, depth = 0): number {
    const h = this.header(this.resolve(id));
    if (h.kind === KIND.PTR) return 8;
    if (h.kind === KIND.ARRAY && depth < 8) return this.buf.readUInt32LE(h.at + 20) * this.sizeOf(this.buf.readUInt32LE(h.at + 12), depth + 1);
    if (h.kind === KIND.STRUCT || h.kind === KIND.UNION || h.kind === KIND.INT || h.kind === KIND.ENUM || h.kind === KIND.ENUM64) return h.sizeOrType;
    throw new Error(`BTF type ${id} (kind ${h.kind}) has no size here`);
  }

  /** The first complete struct of that name (vmlinux BTF is deduplicated: there is one). */
  structId(name: string): number {
    const [found] = this.typesNamed([name], STRUCT_KIND);
    if (!found) throw new Error(`the kernel's BTF has no struct ${name}`);
    return found.id;
  }

  /** Whether the string at this offset of the string section is `name`, compared in place (no string made). */
  private nameIs(off: number, name: string): boolean {
    const at = this.strBase + off;
    if (at + name.length >= this.strEnd) return false;
    for (let i = 0; i < name.length; i++) if (this.buf[at + i] !== name.charCodeAt(i)) return false;
    return this.buf[at + name.length] === 0;
  }

  /**
   * A named member of a struct or union, looking inside anonymous members: its bit offset and
   * type. Names are compared in place: task_struct alone has ~270 members, and making a
   * string of each for every field looked up took most of the layout's ~7 ms.
   */
  private member(id: number, name: string, depth = 0): { bitOffset: number; type: number; bitfield: boolean } | undefined {
    const h = this.header(id);
    if (h.kind !== KIND.STRUCT && h.kind !== KIND.UNION) throw new Error(`BTF type ${id} is not a struct or union`);
    if (depth > 8) return undefined;
    for (let i = 0; i < h.vlen; i++) {
      const m = h.at + 12 + 12 * i;
      const nameOff = this.buf.readUInt32LE(m);
      const type = this.buf.readUInt32LE(m + 4);
      const raw = this.buf.readUInt32LE(m + 8);
      // with kind_flag, the offset word holds the bitfield size in its top byte
      const bitOffset = h.kindFlag ? raw & 0xffffff : raw;
      if (this.nameIs(nameOff, name)) return { bitOffset, type, bitfield: h.kindFlag && raw >>> 24 !== 0 };
      if (this.nameIs(nameOff, '')) {
        const inner = this.resolve(type);
        const k = this.header(inner).kind;
        if (k !== KIND.STRUCT && k !== KIND.UNION) continue;
        const found = this.member(inner, name, depth + 1);
        if (found) return { ...found, bitOffset: bitOffset + found.bitOffset };
      }
    }
    return undefined;
  }

  /** Byte offset and size of a dotted member path (`se.sum_exec_runtime`) in a struct. */
  fieldOffset(structName: string, path: string): { offset: number; size: number } {
    let id = this.structId(structName);
    let bits = 0;
    let type = id;
    for (const part of path.split('.')) {
      const m = this.member(id, part);
      if (!m) throw new Error(`the kernel's struct ${structName} has no ${path}`);
      if (m.bitfield) throw new Error(`the kernel's ${structName}.${path} is a bitfield`);
      bits += m.bitOffset;
      type = this.resolve(m.type);
      id = type;
    }
    if (bits % 8 !== 0) throw new Error(`the kernel's ${structName}.${path} is not byte-aligned`);
    return { offset: bits / 8, size: this.sizeOf(type) };
  }
}

/** The structs the layout parameters are found in. */
export function layoutStructs(arch: string = process.arch): string[] {
  return [...new Set(LAYOUT_FIELDS.filter((f) => !f.x64Only || arch === 'x64').map((f) => f.struct))];
}

/** Offsets are small: anything larger means a misread, not a layout. */
const MAX_OFFSET = 1 << 16;

/**
 * The layout parameters ($72 onwards), as decimal strings, from a BTF blob. Throws, naming the
 * field, when a field is missing or not the width the probe reads.
 */
export function layoutParams(btf: Buffer | BtfTypes, arch: string = process.arch): string[] {
  const types = btf instanceof BtfTypes ? btf : new BtfTypes(btf);
  types.lookUp(layoutStructs(arch));
  return LAYOUT_FIELDS.map((f) => {
    if (f.x64Only && arch !== 'x64') return '0';
    let value: number;
    if (f.path === undefined) {
      value = types.sizeOf(types.structId(f.struct));
      if (value >= MAX_OFFSET) throw new Error(`implausible size ${value} of the kernel's struct ${f.struct}`);
    } else {
      const { offset, size } = types.fieldOffset(f.struct, f.path);
      if (size !== f.bytes) throw new Error(`the kernel's ${f.struct}.${f.path} is ${size} bytes; gostall's probe reads ${f.bytes}`);
      if (offset >= MAX_OFFSET) throw new Error(`the kernel's ${f.struct}.${f.path} is at an implausible offset ${offset}`);
      value = offset;
    }
    return String(value);
  });
}

const cached = new Map<string, string[]>();

/** The kernel's BTF, parsed, with these names looked up on the way (~5 MB; not kept: callers hold it for one tracer start at most). */
export function readKernelBtf(path = VMLINUX_BTF, find: Iterable<string> = []): BtfTypes {
  let btf: Buffer;
  try { btf = readFileSync(path); } catch (err) {
    throw new Error(`cannot read the kernel's BTF (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return new BtfTypes(btf, find);
}

/**
 * This kernel's layout parameters (worked out once per process: the running kernel's BTF
 * cannot change). `btf` gives the parsed BTF when the caller has it already.
 */
export function kernelLayoutParams(arch: string = process.arch, path = VMLINUX_BTF, btf: () => BtfTypes = () => readKernelBtf(path)): string[] {
  const key = `${arch}\0${path}`;
  let params = cached.get(key);
  if (!params) {
    params = layoutParams(btf(), arch);
    cached.set(key, params);
  }
  return params;
}
