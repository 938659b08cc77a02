// The one line splitter for live bpftrace output and recordings: lines across chunk
// boundaries come out whole, a runaway line is reported once and skipped to its newline
// without being buffered, bytes stay visible to the validator, a CR before the newline goes.
import { describe, expect, it } from 'vitest';
import { createLineSplitter } from '../../src/probe-runner/line-splitter.js';

function split(chunks: Buffer[], maxBytes = 16): { lines: string[]; tooLong: number } {
  const lines: string[] = [];
  let tooLong = 0;
  const s = createLineSplitter(maxBytes, { line: (t) => lines.push(t), tooLong: () => { tooLong++; } });
  for (const c of chunks) s.push(c);
  s.end();
  return { lines, tooLong };
}

describe('the line splitter', () => {
  it('joins a line split across chunks and keeps a last line without newline', () => {
    expect(split([Buffer.from('R\t1\t2'), Buffer.from('\t3\nX\t'), Buffer.from('4\nlast')]).lines).toEqual(['R\t1\t2\t3', 'X\t4', 'last']);
  });

  it('skips a line longer than the limit, once, and reads the next one', () => {
    const huge = Buffer.alloc(1024 * 1024, 'A');
    const r = split([Buffer.from('ok\n'), huge, huge, Buffer.from('A\nnext\n')]);
    expect(r).toEqual({ lines: ['ok', 'next'], tooLong: 1 });
  });

  it('keeps bytes that are not UTF-8 as they are (Latin-1), and drops a CR before the newline', () => {
    const r = split([Buffer.from([0x53, 0x09, 0xff, 0xc3, 0x28, 0x0d, 0x0a])]);
    expect(r.lines).toEqual(['S\t\u00ff\u00c3(']);
  });
});
