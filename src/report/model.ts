/**
 * Spans read from a file → traces of gostall's shape: process spans (they carry
 * `process.pid`) parented like the process tree, each with its evidence spans (slow
 * syscalls, off-CPU waits, TCP connects, stall episodes, activity windows). Times become
 * nanoseconds relative to the trace's first span (exact: computed from bigint epochs).
 */
import type { AttrValue, ReportSpan } from './read.js';

export type EvidenceKind = 'syscall' | 'offcpu' | 'connect' | 'episode' | 'window' | 'other';

export interface ReportEvidence {
  span: ReportSpan;
  kind: EvidenceKind;
  startNs: number;
  endNs: number;
}

export interface ReportProcess {
  span: ReportSpan;
  parent: ReportProcess | undefined;
  children: ReportProcess[];
  depth: number;
  startNs: number;
  endNs: number;
  evidence: ReportEvidence[];
}

export interface ReportCause {
  id: string;
  process: ReportProcess;
  evidence: string;
  hint: string;
  /** 1-based rank in the trace (from the cause events; else from the root's gostall.causes) */
  rank: number;
}

export interface ReportTrace {
  traceId: string;
  /** epoch ns of relative time 0 */
  epochNs: bigint;
  root: ReportProcess;
  /** every process, depth first, children by start time */
  processes: ReportProcess[];
  causes: ReportCause[];
  spanCount: number;
  /** spans that are neither processes nor under one (kept in the count only) */
  strays: number;
}

export function num(v: AttrValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
export function text(v: AttrValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Group spans into traces; traces in order of first appearance. */
export function buildTraces(spans: ReportSpan[]): ReportTrace[] {
  const byTrace = new Map<string, ReportSpan[]>();
  for (const s of spans) {
    const list = byTrace.get(s.traceId);
    if (list) list.push(s); else byTrace.set(s.traceId, [s]);
  }
  const out: ReportTrace[] = [];
  for (const [traceId, list] of byTrace) {
    const t = buildTrace(traceId, list);
    if (t) out.push(t);
  }
  return out;
}

function evidenceKind(s: ReportSpan): EvidenceKind {
  const a = s.attributes;
  if (a.has('gostall.episode.id') || a.has('gostall.episode.kind')) return 'episode';
  if (a.has('gostall.offcpu.state')) return 'offcpu';
  if (a.has('server.address') || s.name === 'tcp connect') return 'connect';
  if (a.has('gostall.syscall.latency_ns')) return 'syscall';
  if ([...a.keys()].some((k) => k.startsWith('gostall.window.'))) return 'window';
  return 'other';
}

function buildTrace(traceId: string, spans: ReportSpan[]): ReportTrace | undefined {
  let epochNs = spans[0]!.startNs;
  for (const s of spans) if (s.startNs < epochNs) epochNs = s.startNs;
  const rel = (t: bigint): number => Number(t - epochNs);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const procOf = new Map<string, ReportProcess>();
  for (const s of spans) {
    if (!s.attributes.has('process.pid')) continue;
    procOf.set(s.spanId, { span: s, parent: undefined, children: [], depth: 0, startNs: rel(s.startNs), endNs: rel(s.endNs), evidence: [] });
  }
  if (procOf.size === 0) return undefined;
  const tops: ReportProcess[] = [];
  for (const p of procOf.values()) {
    const parent = nearestProcess(p.span.parentSpanId, byId, procOf);
    if (parent && parent !== p) { p.parent = parent; parent.children.push(p); } else tops.push(p);
  }
  let strays = 0;
  for (const s of spans) {
    if (procOf.has(s.spanId)) continue;
    const owner = nearestProcess(s.parentSpanId, byId, procOf);
    if (!owner) { strays++; continue; }
    owner.evidence.push({ span: s, kind: evidenceKind(s), startNs: rel(s.startNs), endNs: rel(s.endNs) });
  }
  tops.sort((a, b) => a.startNs - b.startNs);
  // The root: the process span without a parent; several (a partial file) hang under the first.
  const root = tops[0]!;
  for (const extra of tops.slice(1)) { extra.parent = root; root.children.push(extra); }
  const processes = depthFirst(root);
  return { traceId, epochNs, root, processes, causes: causesOf(root, processes), spanCount: spans.length, strays };
}

/** The process span at or above this span id (ancestor chain bounded: ids may form cycles). */
function nearestProcess(id: string, byId: Map<string, ReportSpan>, procOf: Map<string, ReportProcess>): ReportProcess | undefined {
  for (let i = 0; i < 64 && id !== ''; i++) {
    const p = procOf.get(id);
    if (p) return p;
    id = byId.get(id)?.parentSpanId ?? '';
  }
  return undefined;
}

function depthFirst(root: ReportProcess): ReportProcess[] {
  const out: ReportProcess[] = [];
  const stack: ReportProcess[] = [root];
  const seen = new Set<ReportProcess>();
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    p.depth = p.parent ? p.parent.depth + 1 : 0;
    out.push(p);
    p.children.sort((a, b) => a.startNs - b.startNs);
    p.evidence.sort((a, b) => a.startNs - b.startNs);
    for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i]!);
  }
  return out;
}

/**
 * Every cause with its evidence and fix: from the `gostall.cause` events (all of them, ranked),
 * else (traces of older versions) the strongest cause each span carries, ranked by the root's list.
 */
function causesOf(root: ReportProcess, processes: ReportProcess[]): ReportCause[] {
  const out: ReportCause[] = [];
  for (const p of processes) {
    for (const e of p.span.events) {
      if (e.name !== 'gostall.cause') continue;
      const id = text(e.attributes.get('gostall.cause'));
      if (id === undefined) continue;
      out.push({
        id, process: p, evidence: text(e.attributes.get('gostall.cause.evidence')) ?? '', hint: text(e.attributes.get('gostall.cause.hint')) ?? '',
        rank: num(e.attributes.get('gostall.cause.rank')) ?? Number.MAX_SAFE_INTEGER,
      });
    }
  }
  if (out.length === 0) {
    const ranked = root.span.attributes.get('gostall.causes');
    const order = Array.isArray(ranked) ? ranked.filter((x): x is string => typeof x === 'string') : [];
    for (const p of processes) {
      const id = text(p.span.attributes.get('gostall.cause'));
      if (id === undefined) continue;
      const i = order.indexOf(id);
      out.push({
        id, process: p, evidence: text(p.span.attributes.get('gostall.cause.evidence')) ?? '', hint: text(p.span.attributes.get('gostall.cause.hint')) ?? '',
        rank: i === -1 ? Number.MAX_SAFE_INTEGER : i + 1,
      });
    }
  }
  return out.sort((a, b) => a.rank - b.rank);
}
