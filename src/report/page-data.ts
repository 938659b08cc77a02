/**
 * What the HTML page draws, as compact JSON: per trace the processes (depth-first rows with
 * their time range and the gostall.* time split), evidence marks, causes and the summary text.
 * Everything here came from an untrusted file; the page only ever sets it as text.
 */
import type { AttrValue } from './read.js';
import { num, text, type ReportProcess, type ReportTrace } from './model.js';
import { summaryOfTrace } from './summary.js';
import { formatDuration } from '../export/summary.js';

export interface PageProcess {
  /** parent row index, -1 for the root */
  parent: number;
  depth: number;
  name: string;
  pid: number;
  start: number;
  end: number;
  /** on-CPU, waiting for a CPU, sleeping (S), uninterruptible (D): ns summed over threads */
  on: number; rq: number; s: number; d: number;
  cmd: string;
  exit: string;
  error: boolean;
  causes: string[];
  /** [key, value] pairs shown in the details panel */
  attrs: [string, string][];
}

export interface PageEvidence {
  proc: number;
  kind: string;
  name: string;
  start: number;
  end: number;
  /** the path, address or episode text the search and the tooltip show */
  detail: string;
  error: boolean;
}

export interface PageCause { id: string; proc: number; process: string; pid: number; evidence: string; hint: string }

export interface PageTrace {
  traceId: string;
  startEpochMs: number;
  duration: number;
  title: string;
  summary: string;
  processes: PageProcess[];
  evidence: PageEvidence[];
  causes: PageCause[];
}

export interface PageData { traces: PageTrace[]; problems: string[]; malformedLines: number }

function show(v: AttrValue): string {
  return Array.isArray(v) ? JSON.stringify(v) : String(v);
}

function exitText(p: ReportProcess): string {
  const a = p.span.attributes;
  if (a.get('gostall.process.still_running') === true) return 'still running when tracing stopped';
  const sig = num(a.get('gostall.process.signal'));
  if (sig !== undefined) return `killed by signal ${sig}`;
  const code = num(a.get('process.exit.code'));
  return code === undefined ? 'exit unknown' : `exited ${code}`;
}

function causeIds(p: ReportProcess): string[] {
  const ids = new Set<string>();
  const list = p.span.attributes.get('gostall.cause.ids');
  if (Array.isArray(list)) for (const x of list) if (typeof x === 'string') ids.add(x);
  const top = text(p.span.attributes.get('gostall.cause'));
  if (top !== undefined) ids.add(top);
  for (const e of p.span.events) {
    const id = e.name === 'gostall.cause' ? text(e.attributes.get('gostall.cause')) : undefined;
    if (id !== undefined) ids.add(id);
  }
  return [...ids];
}

function evidenceDetail(kind: string, a: Map<string, AttrValue>, durationNs: number): string {
  const dur = formatDuration(durationNs);
  if (kind === 'syscall') {
    const where = text(a.get('file.path')) ?? (num(a.get('gostall.syscall.fd')) !== undefined ? `fd ${num(a.get('gostall.syscall.fd'))}` : '');
    const err = text(a.get('error.type'));
    return `${where}${err !== undefined ? ` → ${err}` : ''} · ${dur}`;
  }
  if (kind === 'offcpu') return `${text(a.get('gostall.offcpu.state')) ?? ''} wait${a.has('gostall.offcpu.syscall') ? ` in ${show(a.get('gostall.offcpu.syscall')!)}` : ''} · ${dur}`;
  if (kind === 'connect') {
    const ok = a.get('gostall.connect.established') !== false;
    return `${show(a.get('server.address') ?? '?')}:${show(a.get('server.port') ?? '?')} ${ok ? '' : 'failed '}· ${dur}`;
  }
  if (kind === 'episode') return `${text(a.get('gostall.episode.evidence')) ?? text(a.get('gostall.episode.kind')) ?? ''} ${show(a.get('gostall.episode.paths') ?? '')} · ${dur}`;
  return dur;
}

export function pageTrace(t: ReportTrace): PageTrace {
  const index = new Map(t.processes.map((p, i) => [p, i]));
  const processes: PageProcess[] = [];
  const evidence: PageEvidence[] = [];
  for (const [i, p] of t.processes.entries()) {
    const a = p.span.attributes;
    const args = a.get('process.command_args');
    processes.push({
      parent: p.parent ? index.get(p.parent)! : -1, depth: p.depth, name: p.span.name, pid: num(a.get('process.pid')) ?? 0,
      start: p.startNs, end: p.endNs,
      on: num(a.get('gostall.cpu.on_ns')) ?? 0, rq: num(a.get('gostall.runq.delay_ns')) ?? 0,
      s: num(a.get('gostall.offcpu.s_ns')) ?? 0, d: num(a.get('gostall.offcpu.d_ns')) ?? 0,
      cmd: Array.isArray(args) ? args.map(show).join(' ') : text(a.get('process.executable.path')) ?? '',
      exit: exitText(p), error: p.span.statusCode === 2, causes: causeIds(p),
      attrs: [...a].map(([k, v]) => [k, show(v)]),
    });
    for (const e of p.evidence) {
      evidence.push({
        proc: i, kind: e.kind, name: e.span.name, start: e.startNs, end: e.endNs,
        detail: evidenceDetail(e.kind, e.span.attributes, e.endNs - e.startNs), error: e.span.statusCode === 2,
      });
    }
  }
  const causes = t.causes.map((c) => ({
    id: c.id, proc: index.get(c.process)!, process: c.process.span.name, pid: num(c.process.span.attributes.get('process.pid')) ?? 0,
    evidence: c.evidence, hint: c.hint,
  }));
  const duration = Math.max(1, ...t.processes.map((p) => p.endNs));
  return {
    traceId: t.traceId, startEpochMs: Number(t.epochNs / 1_000_000n), duration, title: t.root.span.name,
    summary: summaryOfTrace(t), processes, evidence, causes,
  };
}
