/** The terminal summary printed to stderr when a trace is finished. */
import { sumGoCache, type GoCacheTotals } from '../model/gocache.js';
import type { Cause } from '../diagnose/types.js';
import { decodeWaitStatus, displayName as defaultName, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { buildActionsOf, summarizeBuild, type BuildActionTiming, type BuildInsight } from '../model/build-insight.js';
import type { BuildParallelism } from '../diagnose/build-parallelism.js';
import { slowestOperations, type SlowOperation } from '../pipeline/slowest.js';
import { formatDuration } from '../vocabulary/units.js';
import { rebuildLines, rebuildSummaries, type RebuildSummary } from './rebuild-summary.js';
import type { PublishedTrace } from '../pipeline/types.js';

export interface SummaryInput {
  root: ProcessNode;
  traceId: string;
  endNs: number;
  causes: Cause[];
  lostEvents: number;
  malformedRecords: number;
  spanCount: number;
  destinations: string[];
  exportProblems: string[];
  /** problems with the trace itself (the tracer stopped early, …), shown as warnings */
  traceProblems?: string[];
  maxSlowest?: number;
  /** a process's name (default: displayName); `report` passes the span names it read */
  nameOf?: (p: ProcessNode) => string;
  /** the slowest operations, when known already (`report` reads them from the root span) */
  slowest?: SlowOperation[];
  /** the Go build actions, when known already (`report` reads them from the spans' go.* attributes) */
  buildActions?: BuildActionTiming[];
  /** the build cache's lookups, when known already (`report` reads them from the root span) */
  goCache?: GoCacheTotals;
  /** a Go build's parallelism against its CPUs (the pipeline's verdict, or `report`'s reading of it) */
  parallelism?: BuildParallelism;
  /** why each building go command rebuilt, when a build history was compared (./rebuild-summary) */
  rebuilds?: RebuildSummary[];
}

export { SLOWEST_DEFAULT, slowestOperations, type SlowOperation } from '../pipeline/slowest.js';
export { formatDuration } from '../vocabulary/units.js';
export { rebuildSummaries, type RebuildSummary } from './rebuild-summary.js';

/**
 * The summary of a `gostall run` trace from what its pipeline published: run itself
 * (src/cli/run-finish.ts) and an agent building a run's trace (src/agent/run-session.ts)
 * print the same words.
 */
export function renderRunSummary(x: {
  published: PublishedTrace; endNs: number; stats: { lostEvents: number; malformed: number; orphanRecords: number };
  destinations: string[]; exportProblems: string[]; traceProblems: string[];
}): string {
  const { root, traceId, causes, spanCount, parallelism, rebuilds } = x.published;
  const orphans = x.stats.orphanRecords > 0 ? [`${x.stats.orphanRecords} probe records named processes outside this trace and were left out`] : [];
  return renderSummary({
    root, traceId, endNs: x.endNs, causes, parallelism, rebuilds: rebuildSummaries(rebuilds),
    lostEvents: x.stats.lostEvents, malformedRecords: x.stats.malformed,
    spanCount, destinations: x.destinations, exportProblems: x.exportProblems, traceProblems: [...x.traceProblems, ...orphans],
  });
}

export function renderSummary(x: SummaryInput): string {
  const displayName = x.nameOf ?? defaultName;
  const lines: string[] = [];
  const procs = [...walk(x.root)];
  const wall = (x.root.endNs ?? x.endNs) - x.root.startNs;
  let on = 0, s = 0, d = 0, rq = 0;
  for (const p of procs) { on += p.sched.onCpuNs; s += p.sched.offSNs; d += p.sched.offDNs; rq += p.sched.runqNs; }
  const st = x.root.status !== undefined ? decodeWaitStatus(x.root.status) : undefined;
  const how = st === undefined ? 'was still running' : st.signal !== undefined ? `was killed by signal ${st.signal}` : `exited ${st.code}`;
  const running = procs.filter((p) => p.status === undefined && p !== x.root).length;
  const stillRunning = running > 0 ? ` (${running} still running when tracing stopped)` : '';
  lines.push(`gostall: ${displayName(x.root)} ${how} after ${formatDuration(wall)} — ${procs.length} process${procs.length === 1 ? '' : 'es'}${stillRunning}, trace ${x.traceId}`);
  lines.push(`  time summed over all processes and threads: running ${formatDuration(on)} · waiting for a free CPU ${formatDuration(rq)} · ` +
    `sleeping (I/O, network, children, idle threads) ${formatDuration(s)} · uninterruptible waits, usually disk (D) ${formatDuration(d)}`);

  const top = x.slowest ?? slowestOperations(x.root, x.maxSlowest, displayName);
  if (top.length > 0) {
    lines.push('  slowest operations:');
    for (const e of top) lines.push(`    ${formatDuration(e.ns).padStart(9)}  ${e.text}`);
  }

  const build = summarizeBuild(x.buildActions ?? buildActionsOf(x.root, x.endNs));
  if (build) lines.push(...buildSection(build, x.parallelism));
  const cache = x.goCache ?? sumGoCache((function* () { for (const p of procs) yield p.gocache; })());
  if (cache) lines.push(goCacheLine(cache));
  lines.push(...rebuildLines(x.rebuilds ?? []));

  if (x.causes.length === 0) {
    lines.push('  no cause found: nothing in this run points at a known reason for slowness or failure ' +
      '(slow or shared filesystems, slow disks, oversized directory walks, permissions, limits, CPU quotas, network, missing tools, memory)');
  } else {
    lines.push(`  why (the cause that explains the most time first):`);
    const seen = new Set<string>();
    let n = 0;
    for (const c of x.causes) {
      const key = `${c.id}|${c.process.pid}|${c.evidence}`;
      if (seen.has(key)) continue;
      seen.add(key);
      lines.push(`    ${++n}. ${c.id} — ${displayName(c.process)} (pid ${c.process.pid})`);
      lines.push(`       ${c.evidence}`);
      lines.push(`       fix: ${c.hint}`);
    }
  }
  const integrity: string[] = [];
  if (x.lostEvents > 0) {
    integrity.push(`${x.lostEvents} probe events were lost (the kernel's buffer overflowed), so counts, times and evidence ` +
      `are lower bounds; a larger buffer helps: BPFTRACE_PERF_RB_PAGES=4096`);
  }
  if (x.malformedRecords > 0) integrity.push(`${x.malformedRecords} malformed probe records skipped`);
  integrity.push(...(x.traceProblems ?? []));
  for (const w of integrity) lines.push(`  warning: ${w}`);
  for (const d of x.destinations) lines.push(`  ${x.spanCount} spans ${d}`);
  for (const p of x.exportProblems) lines.push(`  warning: ${p}`);
  // Each line may hold paths, command lines and Go's own words from the traced tree.
  return `${lines.map(terminalSafe).join('\n')}\n`;
}

/**
 * Text from a trace made safe for a terminal: control characters (an ESC sequence could rewrite
 * the screen or the window title), newlines (a path could forge a line of the summary) and bidi
 * overrides are shown as \u escapes. Callers pass one line at a time.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** "Go build cache: 48 hits, 2 misses (96% hits) · 12 entries written" (issue 13; from the go command's opens of GOCACHE). */
export function goCacheLine(c: GoCacheTotals): string {
  const ratio = c.hitRatio === undefined ? 'nothing looked up' : `${Math.round(c.hitRatio * 100)}% hits`;
  const written = c.writes > 0 ? ` · ${c.writes} entr${c.writes === 1 ? 'y' : 'ies'} written` : '';
  return `  Go build cache: ${c.hits} hit${c.hits === 1 ? '' : 's'}, ${c.misses} miss${c.misses === 1 ? '' : 'es'} (${ratio})${written}`;
}

/** "parallelism: up to 8 compiles at once (-p 8) on 0.5 CPUs (cpu quota): more than the CPUs can run · compiles waited 3.10 s for a CPU" */
function parallelismLine(v: BuildParallelism, runqNs: number): string {
  const limit = v.limit !== undefined ? ` (${v.limitSource === '-p' ? '-p ' : 'GOMAXPROCS '}${v.limit})` : '';
  const cpus = `${Number(v.cpusAvailable.toFixed(2))} CPU${v.cpusAvailable === 1 ? '' : 's'}${v.cpusSource === 'cpu quota' ? ' (cpu quota)' : ''}`;
  const verdict = v.verdict === 'above_cpus' ? ': more than the CPUs can run' : '';
  return `  parallelism: up to ${v.maxParallelCompiles} compile${v.maxParallelCompiles === 1 ? '' : 's'} at once${limit} on ${cpus}${verdict} · compiles waited ${formatDuration(runqNs)} for a CPU`;
}

/** "Go build actions: 12 actions, 9 compiles (4.10 s summed, at most 2 at once) · VCS stamping 12 ms (2 commands)" and the slowest packages. */
function buildSection(b: BuildInsight, parallelism: BuildParallelism | undefined): string[] {
  const parts = [`${b.actions} action${b.actions === 1 ? '' : 's'}`];
  if (b.compiles > 0) parts.push(`${b.compiles} compile${b.compiles === 1 ? '' : 's'} (${formatDuration(b.compileNs)} summed, at most ${b.maxParallelCompiles} at once)`);
  const stamping = b.stampingCommands > 0 ? ` · VCS stamping ${formatDuration(b.stampingNs)} (${b.stampingCommands} command${b.stampingCommands === 1 ? '' : 's'})` : '';
  const lines = [`  Go build actions: ${parts.join(', ')}${stamping}`];
  if (parallelism && b.compiles > 0) lines.push(parallelismLine(parallelism, b.compileRunqNs));
  if (b.slowest.length > 0) {
    lines.push('  slowest packages:');
    for (const a of b.slowest) lines.push(`    ${formatDuration(a.endNs - a.startNs).padStart(9)}  ${a.kind} ${a.label ?? '(package not known)'}`);
  }
  return lines;
}
