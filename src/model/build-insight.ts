/**
 * What a traced Go build did, action by action: the compile/asm/cgo/vet/link processes with
 * the package each built, and the VCS stamping commands. The terminal summary and the report
 * print it as the build section: the slowest packages, how many compiles ran at once and for
 * how long, how long they waited for a CPU, how long stamping took. Works on plain timings, so `report` can rebuild it from span attributes.
 */
import { goActionOf, packageLabel } from './go-action.js';
import { vcsStampingTool } from './go-vcs.js';
import type { ProcessNode } from './process.js';
import { walk } from './tree.js';

export interface BuildActionTiming {
  /** go.action: compile, asm, cgo, vet, link or vcs_stamping */
  kind: string;
  /** go.package (or the VCS command for stamping) */
  label: string | undefined;
  startNs: number;
  endNs: number;
  /** time the action's process was runnable but waited for a CPU (run-queue delay) */
  runqNs: number;
}

export interface BuildInsight {
  actions: number;
  compiles: number;
  /** wall time of all compiles, summed */
  compileNs: number;
  /** slowest package actions, slowest first */
  slowest: BuildActionTiming[];
  /** most compiles running at the same moment */
  maxParallelCompiles: number;
  /** parallelism over time: [k] = wall ns during which exactly k compiles ran, from the first compile's start to the last one's end */
  compilesRunningNs: number[];
  /** time the compiles were runnable but waited for a CPU, summed: parallelism beyond the CPUs shows here */
  compileRunqNs: number;
  /** time the VCS stamping commands ran */
  stampingNs: number;
  stampingCommands: number;
}

/** The build actions of a process tree (processes still running end at endNs). */
export function buildActionsOf(root: ProcessNode, endNs: number): BuildActionTiming[] {
  const out: BuildActionTiming[] = [];
  for (const p of walk(root)) {
    const action = goActionOf(p);
    const vcs = action ? undefined : vcsStampingTool(p);
    if (!action && !vcs) continue;
    out.push({ kind: action ? action.kind : 'vcs_stamping', label: action ? packageLabel(p, action) : vcs, startNs: p.startNs, endNs: p.endNs ?? endNs, runqNs: p.sched.runqNs });
  }
  return out;
}

/** Most intervals open at once (an interval ending exactly when another starts does not overlap it). */
export function maxOverlap(intervals: { startNs: number; endNs: number }[]): number {
  const edges: [number, number][] = [];
  for (const i of intervals) edges.push([i.startNs, 1], [i.endNs, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0, max = 0;
  for (const [, d] of edges) { open += d; max = Math.max(max, open); }
  return max;
}

/**
 * How long exactly k intervals were open, for each k (index 0: gaps between the first start
 * and the last end): the shape of a build's parallelism, which a peak alone hides.
 */
export function timeByOverlap(intervals: { startNs: number; endNs: number }[]): number[] {
  const edges: [number, number][] = [];
  for (const i of intervals) edges.push([i.startNs, 1], [i.endNs, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: number[] = [];
  let open = 0;
  for (let i = 0; i < edges.length; i++) {
    open += edges[i]![1];
    const next = edges[i + 1];
    if (!next) break;
    const span = next[0] - edges[i]![0];
    if (span > 0) out[open] = (out[open] ?? 0) + span;
  }
  for (let k = 0; k < out.length; k++) out[k] ??= 0;
  return out;
}

/** The build section's numbers, or undefined when the tree ran no build action. */
export function summarizeBuild(actions: BuildActionTiming[], maxSlowest = 5): BuildInsight | undefined {
  if (actions.length === 0) return undefined;
  const dur = (a: BuildActionTiming): number => Math.max(0, a.endNs - a.startNs);
  const compiles = actions.filter((a) => a.kind === 'compile');
  const stamping = actions.filter((a) => a.kind === 'vcs_stamping');
  const packages = actions.filter((a) => a.kind !== 'vcs_stamping');
  return {
    actions: packages.length,
    compiles: compiles.length,
    compileNs: compiles.reduce((n, a) => n + dur(a), 0),
    slowest: [...packages].sort((a, b) => dur(b) - dur(a)).slice(0, maxSlowest),
    maxParallelCompiles: maxOverlap(compiles),
    compilesRunningNs: timeByOverlap(compiles),
    compileRunqNs: compiles.reduce((n, a) => n + a.runqNs, 0),
    stampingNs: stamping.reduce((n, a) => n + dur(a), 0),
    stampingCommands: stamping.length,
  };
}
