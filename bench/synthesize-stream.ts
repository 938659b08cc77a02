/**
 * Grows a recorded probe stream to N lines by repetition. Each repetition gets its own pids
 * (every pid/tid field is mapped to a dense id, then offset per repetition), so the model
 * sees N/len fresh process trees, as an agent would over time, instead of records about
 * pids that already exited.
 */
import { FIELDS, type RecordTag } from '../src/events/schema.js';

const PID_FIELDS = new Set(['rootPid', 'parentPid', 'parentTid', 'childTid', 'pid', 'oldPid', 'ppid', 'tid']);
/** The parser rejects pids above the kernel's pid_max limit. */
const PID_LIMIT = 4_194_304;

/** Column indexes (after splitting on TAB, tag at 0) holding a pid, per tag. */
const PID_COLUMNS: Record<string, number[]> = Object.fromEntries(
  Object.entries(FIELDS).map(([tag, names]) => [tag, (names as readonly string[]).flatMap((n, i) => (PID_FIELDS.has(n) ? [i + 1] : []))]),
);

export interface SynthesizedStream {
  lines: string[];
  repetitions: number;
  distinctPids: number;
}

export function synthesizeStream(capture: string[], targetLines: number): SynthesizedStream {
  const dense = new Map<string, number>();
  // Split once; rewrite only pid columns per repetition.
  const parsed = capture.map((line) => {
    const tab = line.indexOf('\t');
    const cols = tab === -1 ? undefined : PID_COLUMNS[line.slice(0, tab) as RecordTag];
    if (!cols) return { line, fields: undefined, cols: undefined };
    const fields = line.split('\t');
    for (const c of cols) {
      const v = fields[c];
      if (v !== undefined && v !== '0' && !dense.has(v)) dense.set(v, dense.size + 1);
    }
    return { line, fields, cols };
  });
  const span = dense.size + 1;
  const maxReps = Math.max(1, Math.floor((PID_LIMIT - 1) / span));
  const out: string[] = [];
  let rep = 0;
  while (out.length < targetLines && capture.length > 0) {
    const offset = (rep % maxReps) * span;
    for (const p of parsed) {
      if (!p.fields || !p.cols) { out.push(p.line); continue; }
      const f = p.fields.slice();
      for (const c of p.cols) {
        const d = dense.get(f[c]!);
        if (d !== undefined) f[c] = String(d + offset);
      }
      out.push(f.join('\t'));
      if (out.length >= targetLines) break;
    }
    rep++;
  }
  return { lines: out, repetitions: rep, distinctPids: dense.size };
}
