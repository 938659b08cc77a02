/**
 * Lines to validated records, the same for every command: the probe prints only printable
 * ASCII and TAB (%r escapes everything else), so any other byte marks a damaged or foreign
 * line, refused before it reaches a parser; the rest is parsed against the record schema.
 * Refused lines are counted by reason (a bounded set of reasons).
 */
import { parseLine } from '../events/parse.js';
import type { ProbeEvent } from '../events/types.js';

const MAX_REASONS = 32;
/** Any byte the probe never prints (it escapes everything but printable ASCII and TAB). */
export const NOT_PRINTABLE = /[^\t\x20-\x7e]/;

export interface RecordCounts {
  lines: number;
  malformed: number;
  /** malformed lines by reason (at most MAX_REASONS reasons, the rest under "other") */
  malformedReasons: Map<string, number>;
}

export interface RecordReader {
  /** One line of probe output (stdout), without its newline. */
  line(text: string): void;
  /** Count a line refused before it was read whole (e.g. too long). */
  refuse(reason: string): void;
}

export function createRecordReader(counts: RecordCounts, onEvent: (e: ProbeEvent) => void): RecordReader {
  function refuse(reason: string): void {
    counts.malformed++;
    const key = counts.malformedReasons.has(reason) || counts.malformedReasons.size < MAX_REASONS ? reason : 'other';
    counts.malformedReasons.set(key, (counts.malformedReasons.get(key) ?? 0) + 1);
  }
  return {
    refuse,
    line(text) {
      counts.lines++;
      if (NOT_PRINTABLE.test(text)) {
        refuse('non-ASCII or control bytes');
        return;
      }
      const r = parseLine(text);
      if (r.ok === true) onEvent(r.event);
      else if (r.ok === false) refuse(r.reason);
    },
  };
}
