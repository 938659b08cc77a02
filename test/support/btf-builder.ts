/** Building BTF blobs for tests: the types a test needs, in the kernel's encoding. */
import { encodeBtf } from '../../src/probe-runner/kernel-layout.js';

/** A minimal BTF encoder for the tests (little-endian, version 1). */
export class BtfBuilder {
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
    return encodeBtf(Buffer.concat(this.types), this.strings);
  }
}
