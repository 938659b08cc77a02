/**
 * A small BTF file for bpftrace to compile gostall's probe with (BPFTRACE_BTF): only the
 * types named in the fields of the tracepoints the program attaches to (pid_t, uid_t,
 * __u16, …) and what they are made of.
 *
 * Why: bpftrace 0.17 loads the kernel's BTF and every module's, and looks names up in it by
 * linear scans (libbpf's btf__find_by_name, a strcmp per type over ~100,000 types): about
 * a third of the compile of run's program (~0.37 s), which every standalone `gostall run`
 * pays before its command starts. What the program needs from BTF is only the typedefs of
 * its tracepoints' fields, which bpftrace declares from the tracefs format files: the probe
 * reads task fields at offsets found by ./kernel-layout, never through BTF. With the subset
 * the compile emits the same program byte for byte (test/probe-runner/btf-subset.kernel.test.ts)
 * in about two thirds of the time.
 *
 * A struct or union reached only through a pointer is written as a forward declaration:
 * a pointer's target need not be complete in C, and following pointers would pull in most
 * of the kernel's types. The BTF format: https://docs.kernel.org/bpf/btf.html
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tracepointsIn } from './event-list.js';
import { BtfTypes, encodeBtf, KIND } from './kernel-layout.js';

/** Words of a field declaration that are C's own, not type names to look up. */
const C_WORDS = new Set(['struct', 'union', 'enum', 'const', 'volatile', 'restrict', 'unsigned', 'signed',
  'char', 'short', 'int', 'long', 'void', 'float', 'double', '_Bool', '__data_loc', '__rel_loc']);

/**
 * The type names in a tracepoint's format file: the identifiers of each `field:DECL;` but
 * the field's own name (the last one) and C's words.
 */
export function formatTypeNames(format: string): Set<string> {
  const names = new Set<string>();
  for (const m of format.matchAll(/\bfield:([^;]*);/g)) {
    const words = m[1]!.replace(/\[[^\]]*\]/g, ' ').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
    for (const w of words.slice(0, -1)) if (!C_WORDS.has(w)) names.add(w);
  }
  return names;
}

/** The type names used by these tracepoints (`category:name`), from the first tracefs mount that has each. */
export function tracepointTypeNames(tracepoints: Iterable<string>, tracefsDirs: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const tp of tracepoints) {
    const [category, event] = tp.split(':') as [string, string];
    for (const dir of tracefsDirs) {
      let format: string;
      try { format = readFileSync(join(dir, 'events', category, event, 'format'), 'latin1'); } catch { continue; }
      for (const n of formatTypeNames(format)) names.add(n);
      break;
    }
  }
  return names;
}

/**
 * Whether a program reads kernel types bpftrace must find in BTF itself: a struct named in
 * its code (`(struct pt_regs *)`), a field through `curtask->`, or a probe typed by BTF
 * (kfunc/fentry, iter). gostall's own probe does none of these (it reads fields at offsets,
 * ./kernel-layout), so it compiles against the subset; such a program (an older probe, a
 * bench's "before") is compiled against the kernel's whole BTF instead.
 */
export function needsKernelTypes(program: string): boolean {
  const code = program.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  return /\bstruct\s+[A-Za-z_]|\bcurtask\s*->|\b(?:kfunc|kretfunc|fentry|fexit|iter):/.test(code);
}

/** The type names used by the tracepoints a probe program attaches to. */
export function programTypeNames(program: string, tracefsDirs: readonly string[]): Set<string> {
  return tracepointTypeNames(tracepointsIn(program), tracefsDirs);
}

const NAMED_KINDS: ReadonlySet<number> = new Set([KIND.TYPEDEF, KIND.STRUCT, KIND.UNION, KIND.ENUM, KIND.ENUM64]);
/** Kinds whose third word is the id of one other type. */
const REFERS_ONE: ReadonlySet<number> = new Set([KIND.PTR, KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG]);

/**
 * Where a type's bytes (its header and kind-specific data) hold other types' ids, and
 * whether each is reached through a pointer, and string offsets. Read to walk the types,
 * rewritten to encode them.
 */
function slotsOf(raw: Buffer): { types: { at: number; viaPointer: boolean }[]; strings: number[] } {
  const info = raw.readUInt32LE(4);
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const each = (stride: number, offset: number) => Array.from({ length: vlen }, (_, i) => 12 + stride * i + offset);
  if (REFERS_ONE.has(kind)) return { types: [{ at: 8, viaPointer: kind === KIND.PTR }], strings: [0] };
  switch (kind) {
    case KIND.ARRAY: return { types: [{ at: 12, viaPointer: false }, { at: 16, viaPointer: false }], strings: [0] };
    case KIND.STRUCT: case KIND.UNION:
      return { types: each(12, 4).map((at) => ({ at, viaPointer: false })), strings: [0, ...each(12, 0)] };
    case KIND.ENUM: return { types: [], strings: [0, ...each(8, 0)] };
    case KIND.ENUM64: return { types: [], strings: [0, ...each(12, 0)] };
    case KIND.FUNC_PROTO:
      return { types: [8, ...each(8, 4)].map((at) => ({ at, viaPointer: true })), strings: [0, ...each(8, 0)] };
    default: return { types: [], strings: [0] };
  }
}

/** One type of the subset: a type of the kernel's, whole or as a forward declaration. */
interface Kept { id: number; forward: boolean }

/**
 * The BTF blob with the named types (typedefs, structs, unions, enums) and everything they
 * are made of; undefined when none of the names is in the kernel's BTF. (A struct behind a
 * pointer to a typedef of it is kept whole: only a pointer straight to it is declared.)
 */
export function btfSubset(types: BtfTypes, names: Iterable<string>): Buffer | undefined {
  const roots = types.typesNamed(names, NAMED_KINDS).map((t) => t.id);
  if (roots.length === 0) return undefined;
  const forward = (id: number, viaPointer: boolean) => viaPointer && (types.kindOf(id) === KIND.STRUCT || types.kindOf(id) === KIND.UNION);
  const keyOf = (id: number, asForward: boolean) => `${id}${asForward ? 'f' : ''}`;
  // new ids in the order types are found; a type kept whole and as a forward gets one of each
  const newId = new Map<string, number>();
  const kept: Kept[] = [];
  const pending: number[] = [];
  const keep = (id: number, viaPointer: boolean): void => {
    if (id === 0) return;
    const k = { id, forward: forward(id, viaPointer) };
    const key = keyOf(id, k.forward);
    if (newId.has(key)) return;
    newId.set(key, kept.length + 1);
    kept.push(k);
    if (!k.forward) pending.push(id);
  };
  for (const id of roots) keep(id, false);
  while (pending.length > 0) {
    const raw = types.rawType(pending.pop()!);
    for (const slot of slotsOf(raw).types) keep(raw.readUInt32LE(slot.at), slot.viaPointer);
  }
  const refId = (id: number, viaPointer: boolean): number => {
    if (id === 0) return 0;
    const asForward = forward(id, viaPointer);
    // a struct kept whole for another reference serves its pointers too
    return (asForward ? newId.get(keyOf(id, false)) : undefined) ?? newId.get(keyOf(id, asForward))!;
  };
  return encode(types, kept, refId);
}

/** The kept types as a BTF blob: ids and string offsets rewritten, a string table of their own. */
function encode(types: BtfTypes, kept: Kept[], refId: (id: number, viaPointer: boolean) => number): Buffer {
  const strings: Buffer[] = [Buffer.from([0])];
  let stringBytes = 1;
  const stringOffset = new Map<number, number>([[0, 0]]);
  const str = (off: number): number => {
    let at = stringOffset.get(off);
    if (at === undefined) {
      const b = Buffer.from(`${types.stringAt(off)}\0`, 'latin1');
      at = stringBytes;
      stringOffset.set(off, at);
      strings.push(b);
      stringBytes += b.length;
    }
    return at;
  };
  const out = kept.map(({ id, forward }) => {
    const t = types.rawType(id);
    if (forward) {
      const fwd = Buffer.alloc(12);
      fwd.writeUInt32LE(str(t.readUInt32LE(0)), 0);
      fwd.writeUInt32LE(((types.kindOf(id) === KIND.UNION ? 1 : 0) << 31 | KIND.FWD << 24) >>> 0, 4);
      return fwd;
    }
    const slots = slotsOf(t);
    for (const at of slots.strings) t.writeUInt32LE(str(t.readUInt32LE(at)), at);
    for (const { at, viaPointer } of slots.types) t.writeUInt32LE(refId(t.readUInt32LE(at), viaPointer), at);
    return t;
  });
  return encodeBtf(Buffer.concat(out), Buffer.concat(strings));
}
