/** What a synthetic process wrote to stderr, as the probe's W records would have given it. */
import type { ProcessNode } from '../../src/model/process.js';
import { addStderrChunk } from '../../src/model/stderr.js';

/** Append one write to fd 2 (split into the probe's 128-byte chunks, cut at 200 bytes). */
export function stderrWrite(p: ProcessNode, text: string | Buffer): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const n = p.stderr.writes.length;
  for (const offset of [0, 128]) {
    if (offset > 0 && bytes.length <= offset) break;
    const chunk = bytes.subarray(offset, Math.min(bytes.length, offset === 0 ? 128 : 200));
    addStderrChunk(p.stderr, { kind: 'stderr', ts: p.startNs, pid: p.pid, tid: p.pid, n, len: bytes.length, offset, bytes: chunk });
  }
}
