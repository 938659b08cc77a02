/**
 * The go command's own phases from its -debug-trace events (../events/go-debug-trace.ts):
 * begin/end pairs matched per worker, then the ones a person reads a build by — the command
 * itself, package loading, the builder, and every action a worker executed (cache hits
 * included: an action that found its result in GOCACHE runs no compile, so only the go
 * command's trace shows it), and when each action became ready (its last dependency done),
 * so the wait for a free worker slot shows. The hundreds of per-import loading steps are
 * folded into a count. Bounded: at most MAX_PHASES are kept, the rest counted.
 */
import type { GoTraceEvent } from '../events/go-debug-trace.js';

const MAX_PHASES = 20_000;
/** Phases kept at any depth; other nested ones (modload.loadImport, load.loadPackageData) are folded. */
const KEPT = /^(load\.PackagesAndErrors|exec\.Builder\.Do |Executing action \()/;
const ACTION = /^Executing action \((\S+) (.+)\)$/;

export interface GoPhase {
  /** the go command's own name for it */
  name: string;
  startEpochNs: number;
  endEpochNs: number;
  /** 0: the go command's main goroutine; 1..-p: the worker that ran an action */
  worker: number;
  /** "Executing action (build net/http)": the action's mode and what it acted on */
  action?: { mode: string; target: string };
  /**
   * actions with dependencies: when the last of them finished (the action could start from
   * then on); the time until it started is the wait for a free worker (-p) slot
   */
  readyEpochNs?: number;
}

export interface GoPhases {
  phases: GoPhase[];
  /** nested loading steps counted instead of kept, and phases beyond the bound */
  folded: number;
  /** begins without an end (a build that was killed) or ends without a begin */
  unmatched: number;
}

export function goPhasesOf(events: GoTraceEvent[]): GoPhases {
  const open = new Map<number, { name: string; startEpochNs: number }[]>();
  const phases: GoPhase[] = [];
  let folded = 0, unmatched = 0;
  // "A -> B" flows start when A finished: B was ready once its last dependency had
  const readyAt = new Map<string, number>();
  for (const e of events) {
    if (e.ph !== 's') continue;
    const arrow = e.name.lastIndexOf(' -> ');
    if (arrow < 0) continue;
    const to = e.name.slice(arrow + 4);
    readyAt.set(to, Math.max(readyAt.get(to) ?? 0, Math.round(e.tsMicros * 1000)));
  }
  for (const e of events) {
    if (e.ph === 's') continue;
    const stack = open.get(e.tid) ?? [];
    open.set(e.tid, stack);
    const atNs = Math.round(e.tsMicros * 1000);
    if (e.ph === 'B') { stack.push({ name: e.name, startEpochNs: atNs }); continue; }
    // an end closes the innermost open phase of that name on its worker
    let i = stack.length - 1;
    while (i >= 0 && stack[i]!.name !== e.name) i--;
    if (i < 0) { unmatched++; continue; }
    const [begun] = stack.splice(i, 1);
    const depth = i;
    if (!(depth === 0 && e.tid === 0) && !KEPT.test(e.name)) { folded++; continue; }
    if (phases.length >= MAX_PHASES) { folded++; continue; }
    const m = ACTION.exec(e.name);
    phases.push({
      name: e.name, startEpochNs: begun!.startEpochNs, endEpochNs: Math.max(begun!.startEpochNs, atNs), worker: e.tid,
      ...(m ? { action: { mode: m[1]!, target: m[2]! } } : {}),
      ...(m && readyAt.has(e.name) ? { readyEpochNs: readyAt.get(e.name)! } : {}),
    });
  }
  for (const stack of open.values()) unmatched += stack.length;
  phases.sort((a, b) => a.startEpochNs - b.startEpochNs);
  return { phases, folded, unmatched };
}
