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
import { BtfTypes, KIND } from './kernel-layout.js';

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
/** Kinds that pass "reached through a pointer" on to what they name. */
const TRANSPARENT: ReadonlySet<number> = new Set([KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG]);

/** One type of the subset: a type of the kernel's, whole or as a forward declaration. */
interface Kept { id: number; forward: boolean }

/**
 * The BTF blob with the named types (typedefs, structs, unions, enums) and everything they
 * are made of; undefined when none of the names is in the kernel's BTF.
 */
export function btfSubset(types: BtfTypes, names: Iterable<string>): Buffer | undefined {
  const roots = types.typesNamed(names, NAMED_KINDS).map((t) => t.id);
  if (roots.length === 0) return undefined;

  // new ids in the order types are found; a type kept whole and as a forward gets one of each
  const newId = new Map<string, number>();
  const kept: Kept[] = [];
  const keyOf = (id: number, forward: boolean) => `${id}${forward ? 'f' : ''}`;
  const pending: Kept[] = [];
  const keep = (id: number, viaPointer: boolean): void => {
    if (id === 0) return;
    const kind = types.kindOf(id);
    const forward = viaPointer && (kind === KIND.STRUCT || kind === KIND.UNION);
    const key = keyOf(id, forward);
    if (newId.has(key)) return;
    newId.set(key, kept.length + 1);
    const k = { id, forward };
    kept.push(k);
    if (!forward) pending.push(k);
  };
  for (const id of roots) keep(id, false);
  while (pending.length > 0) {
    const { id } = pending.pop()!;
    for (const ref of referencesOf(types, id)) keep(ref.id, ref.viaPointer);
  }
  const refId = (id: number, viaPointer: boolean): number => {
    if (id === 0) return 0;
    const kind = types.kindOf(id);
    const forward = viaPointer && (kind === KIND.STRUCT || kind === KIND.UNION);
    // a struct kept whole for another reference serves its pointers too
    return (forward ? newId.get(keyOf(id, false)) : undefined) ?? newId.get(keyOf(id, forward))!;
  };
  return encode(types, kept, refId);
}

/** The types a type refers to, and whether each is reached through a pointer. */
function referencesOf(types: BtfTypes, id: number): { id: number; viaPointer: boolean }[] {
  const raw = types.rawType(id);
  const kind = types.kindOf(id);
  const vlen = raw.readUInt32LE(4) & 0xffff;
  if (REFERS_ONE.has(kind)) return [{ id: raw.readUInt32LE(8), viaPointer: kind === KIND.PTR }];
  if (kind === KIND.ARRAY) return [{ id: raw.readUInt32LE(12), viaPointer: false }, { id: raw.readUInt32LE(16), viaPointer: false }];
  if (kind === KIND.STRUCT || kind === KIND.UNION) {
    return Array.from({ length: vlen }, (_, i) => ({ id: raw.readUInt32LE(12 + 12 * i + 4), viaPointer: false }));
  }
  if (kind === KIND.FUNC_PROTO) {
    return [{ id: raw.readUInt32LE(8), viaPointer: true },
      ...Array.from({ length: vlen }, (_, i) => ({ id: raw.readUInt32LE(12 + 8 * i + 4), viaPointer: true }))];
  }
  return [];
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
    const kind = types.kindOf(id);
    if (forward) {
      const fwd = Buffer.alloc(12);
      fwd.writeUInt32LE(str(types.nameOffsetOf(id)), 0);
      fwd.writeUInt32LE(((kind === KIND.UNION ? 1 : 0) << 31 | KIND.FWD << 24) >>> 0, 4);
      return fwd;
    }
    const t = types.rawType(id);
    const vlen = t.readUInt32LE(4) & 0xffff;
    const ref = (at: number, viaPointer: boolean) => t.writeUInt32LE(refId(t.readUInt32LE(at), viaPointer), at);
    t.writeUInt32LE(str(t.readUInt32LE(0)), 0);
    if (REFERS_ONE.has(kind)) ref(8, kind === KIND.PTR);
    else if (kind === KIND.ARRAY) { ref(12, false); ref(16, false); }
    else if (kind === KIND.STRUCT || kind === KIND.UNION) {
      for (let i = 0; i < vlen; i++) { t.writeUInt32LE(str(t.readUInt32LE(12 + 12 * i)), 12 + 12 * i); ref(12 + 12 * i + 4, false); }
    } else if (kind === KIND.ENUM) {
      for (let i = 0; i < vlen; i++) t.writeUInt32LE(str(t.readUInt32LE(12 + 8 * i)), 12 + 8 * i);
    } else if (kind === KIND.ENUM64) {
      for (let i = 0; i < vlen; i++) t.writeUInt32LE(str(t.readUInt32LE(12 + 12 * i)), 12 + 12 * i);
    } else if (kind === KIND.FUNC_PROTO) {
      ref(8, true);
      for (let i = 0; i < vlen; i++) { t.writeUInt32LE(str(t.readUInt32LE(12 + 8 * i)), 12 + 8 * i); ref(12 + 8 * i + 4, true); }
    }
    return t;
  });
  const typeSection = Buffer.concat(out);
  const stringSection = Buffer.concat(strings);
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0xeb9f, 0);
  header.writeUInt8(1, 2); // version
  header.writeUInt32LE(24, 4); // header length
  header.writeUInt32LE(0, 8); // types at 0 after the header
  header.writeUInt32LE(typeSection.length, 12);
  header.writeUInt32LE(typeSection.length, 16); // strings right after them
  header.writeUInt32LE(stringSection.length, 20);
  return Buffer.concat([header, typeSection, stringSection]);
}
