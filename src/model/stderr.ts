/**
 * What a traced process wrote to stderr first (W records): up to four writes, up to 200
 * bytes of each, as the probe captured them. Kept as bytes; read as text through
 * stderrText, which makes hostile output harmless: invalid UTF-8 stays visible as \xNN,
 * terminal escape sequences and other control characters are dropped, credentials in URLs
 * are removed. Rules and spans only ever see that text.
 */
import { STDERR_BYTES_PER_WRITE, STDERR_WRITES_PER_PROCESS } from '../events/schema.js';
import type { StderrEvent } from '../events/types.js';
import { bytesToText } from '../events/unescape.js';
import { redactUrlsInText } from './redact.js';

export interface StderrCapture {
  /** per write (by n): its captured bytes, chunks placed at their offsets */
  writes: (Buffer | undefined)[];
  /** per write: whether it was longer than what was captured of it */
  cut: boolean[];
}

export function createStderrCapture(): StderrCapture {
  return { writes: [], cut: [] };
}

/** Place one W record's chunk (bounded by the schema's limits, whatever the record says). */
export function addStderrChunk(c: StderrCapture, e: StderrEvent): void {
  if (e.n >= STDERR_WRITES_PER_PROCESS || e.offset >= STDERR_BYTES_PER_WRITE) return;
  const size = Math.min(e.len, STDERR_BYTES_PER_WRITE);
  const buf = c.writes[e.n] ?? Buffer.alloc(size);
  if (buf.length !== size) return; // two records disagree on the write's length: keep the first
  e.bytes.copy(buf, e.offset, 0, Math.max(0, size - e.offset));
  c.writes[e.n] = buf;
  c.cut[e.n] = e.len > STDERR_BYTES_PER_WRITE;
}

/** Ends a write that was longer than what the probe read of it, so the next one does not run into it. */
const CUT_MARK = Buffer.from('…\n');

/** CSI/OSC and other ESC sequences (colour, cursor moves, window titles), then lone control characters. */
const ESCAPE_SEQUENCES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])/g;
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/g;

/** The captured stderr as safe text (undefined when nothing was written to fd 2). */
export function stderrText(c: StderrCapture): string | undefined {
  const parts: Buffer[] = [];
  c.writes.forEach((w, n) => {
    if (w === undefined) return;
    parts.push(w);
    if (c.cut[n]) parts.push(CUT_MARK);
  });
  if (parts.length === 0) return undefined;
  const text = bytesToText(Buffer.concat(parts))
    .replace(ESCAPE_SEQUENCES, '')
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL, '');
  return redactUrlsInText(text);
}
