/**
 * The go command's own trace (`go build -debug-trace=FILE`, Go ≥ 1.15): a JSON array of
 * Chrome trace events — "B"/"E" pairs for its phases (loading packages, the builder, each
 * action a worker executes) and "s"/"f" flow events from an action to the one that depended
 * on it (kept: "s", when the dependency finished; "f" repeats the dependent's start), with timestamps in
 * microseconds of Unix time. Read from a file another user's process wrote, so it is
 * validated like probe output: bounded count and sizes, the known shapes only; anything else
 * makes the whole file unreadable rather than half-trusted.
 */
// zod's tree-shakable flavour: this module is loaded before `gostall run` releases its
// command (the context collection's graph), where the classic build cost ~15 ms
import * as z from 'zod/mini';

/** More events than a build of thousands of packages writes; beyond it the file is not read. */
export const MAX_DEBUG_TRACE_EVENTS = 500_000;

export interface GoTraceEvent {
  name: string;
  /** B (begin) or E (end) of a phase; s: a flow starts ("A -> B": A finished, B may start) */
  ph: 'B' | 'E' | 's';
  /** Unix epoch, microseconds (fractional) */
  tsMicros: number;
  /** the go command's worker: 0 for the main goroutine, 1..-p for action workers */
  tid: number;
}

// (zod 4's number() takes finite numbers only)
const EVENT = z.looseObject({
  name: z.string().check(z.maxLength(4096)),
  ph: z.string().check(z.maxLength(2)),
  ts: z.number().check(z.minimum(0)),
  tid: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(1_000_000))),
});

/** The phase events of a -debug-trace file's text, or undefined when it is not one. */
export function parseGoDebugTrace(text: string): GoTraceEvent[] | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // the go command writes "]" only when it exits cleanly: a killed build leaves the array open
    try { raw = JSON.parse(`${text.trimEnd().replace(/,$/, '')}\n]`); } catch { return undefined; }
  }
  if (!Array.isArray(raw) || raw.length > MAX_DEBUG_TRACE_EVENTS) return undefined;
  const out: GoTraceEvent[] = [];
  for (const item of raw) {
    const e = EVENT.safeParse(item);
    if (!e.success) return undefined;
    if (e.data.ph === 'B' || e.data.ph === 'E' || e.data.ph === 's') out.push({ name: e.data.name, ph: e.data.ph, tsMicros: e.data.ts, tid: e.data.tid ?? 0 });
  }
  return out;
}
