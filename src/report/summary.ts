/**
 * The terminal diagnosis of a recorded trace: the trace is turned back into the process tree
 * `run` summarised (the aggregates, the evidence, the causes, the slowest operations from the
 * root span) and printed by the same renderSummary, so `gostall report` says what `run` said.
 */
import type { GoCacheTotals } from '../model/gocache.js';
import type { AttrValue } from './read.js';
import { ERRNO_NAMES, SYSCALLS } from '../events/schema.js';
import type { Cause } from '../diagnose/types.js';
import { createProcess, type ProcessNode } from '../model/process.js';
import { renderSummary, type RebuildSummary } from '../export/summary.js';
import type { BuildParallelism } from '../diagnose/build-parallelism.js';
import type { BuildActionTiming } from '../model/build-insight.js';
import { num, text, type ReportProcess, type ReportTrace } from './model.js';

const SYSCALL_NUMBER = new Map(Object.entries(SYSCALLS).map(([n, name]) => [name, Number(n)]));
const ERRNO_NUMBER = new Map(Object.entries(ERRNO_NAMES).map(([n, name]) => [name, Number(n)]));

function syscallNumber(name: string): number {
  return SYSCALL_NUMBER.get(name) ?? Number(/^syscall_(\d+)$/.exec(name)?.[1] ?? -1);
}

function errnoNumber(name: string): number {
  return ERRNO_NUMBER.get(name) ?? Number(/^E(\d+)$/.exec(name)?.[1] ?? 0);
}

/** The ProcessNode tree behind a trace, with what the summary reads filled in. */
export function processTreeOf(trace: ReportTrace): { root: ProcessNode; nodeOf: Map<ReportProcess, ProcessNode>; names: Map<ProcessNode, string> } {
  const nodeOf = new Map<ReportProcess, ProcessNode>();
  const names = new Map<ProcessNode, string>();
  for (const rp of trace.processes) {
    const a = rp.span.attributes;
    const node = createProcess(num(a.get('process.pid')) ?? 0, rp.parent ? nodeOf.get(rp.parent) : undefined, rp.startNs);
    nodeOf.set(rp, node);
    names.set(node, rp.span.name);
    if (a.get('gostall.process.still_running') !== true) {
      node.endNs = rp.endNs;
      const signal = num(a.get('gostall.process.signal'));
      node.status = signal !== undefined ? signal & 0x7f : ((num(a.get('process.exit.code')) ?? 0) & 0xff) << 8;
    }
    node.sched.onCpuNs = num(a.get('gostall.cpu.on_ns')) ?? 0;
    node.sched.runqNs = num(a.get('gostall.runq.delay_ns')) ?? 0;
    node.sched.offSNs = num(a.get('gostall.offcpu.s_ns')) ?? 0;
    node.sched.offDNs = num(a.get('gostall.offcpu.d_ns')) ?? 0;
    addEvidence(node, rp);
  }
  return { root: nodeOf.get(trace.root)!, nodeOf, names };
}

function addEvidence(node: ProcessNode, rp: ReportProcess): void {
  for (const e of rp.evidence) {
    const a = e.span.attributes;
    if (e.kind === 'syscall') {
      const err = text(a.get('error.type'));
      const path = text(a.get('file.path'));
      node.slowSyscalls.push({
        kind: 'syscall', ts: e.endNs, pid: node.pid, tid: num(a.get('thread.id')) ?? 0, sc: syscallNumber(e.span.name),
        latencyNs: num(a.get('gostall.syscall.latency_ns')) ?? e.endNs - e.startNs, runqNs: num(a.get('gostall.syscall.runq_ns')) ?? 0,
        ret: err !== undefined ? -errnoNumber(err) : 0, fd: num(a.get('gostall.syscall.fd')) ?? -1, path, pathTruncated: false,
      });
    } else if (e.kind === 'connect') {
      node.connects.push({
        kind: 'connect', ts: e.endNs, pid: node.pid, tid: num(a.get('thread.id')) ?? 0,
        durationNs: num(a.get('gostall.connect.duration_ns')) ?? e.endNs - e.startNs, established: a.get('gostall.connect.established') !== false,
        address: text(a.get('server.address')) ?? '?', port: num(a.get('server.port')) ?? 0,
      });
    }
  }
}

/** The summary text of one trace, as `run` printed it (less where run sent the spans). */
export function summaryOfTrace(trace: ReportTrace, opts: { source?: string } = {}): string {
  const { root, nodeOf, names } = processTreeOf(trace);
  const causes: Cause[] = trace.causes.map((c) => ({ id: c.id, process: nodeOf.get(c.process)!, evidence: c.evidence, hint: c.hint, weightNs: 0 }));
  const ra = trace.root.span.attributes;
  const unattributed = num(ra.get('gostall.unattributed_records')) ?? 0;
  // run wrote the summary's slowest operations on the root span (most have no span of their
  // own: they are below the span threshold); older traces: rebuilt from the evidence spans.
  const texts = ra.get('gostall.summary.slowest');
  const nss = ra.get('gostall.summary.slowest_ns');
  const slowest = Array.isArray(texts) && Array.isArray(nss) && texts.length === nss.length
    ? texts.map((t, i) => ({ text: String(t), ns: Number(nss[i]) })) : undefined;
  return renderSummary({
    root, traceId: trace.traceId, endNs: trace.root.endNs, causes,
    lostEvents: num(ra.get('gostall.lost_events')) ?? 0, malformedRecords: num(ra.get('gostall.malformed_records')) ?? 0,
    spanCount: trace.spanCount, destinations: opts.source !== undefined ? [`read from ${opts.source}`] : [], exportProblems: [],
    traceProblems: unattributed > 0 ? [`${unattributed} probe records named processes outside this trace and were left out`] : [],
    nameOf: (p) => names.get(p) ?? '?', slowest, buildActions: buildActionsOfTrace(trace), goCache: goCacheOfRoot(ra),
    parallelism: parallelismOfRoot(ra),
    rebuilds: rebuildsOfTrace(trace, goCacheOfRoot(ra)),
  });
}

/** Whether a go.rebuild.changed name is a setting (a variable, the go command's flags, the Go version), not a path or a file. */
const isSettingName = (name: string): boolean => /^[A-Z][A-Z0-9_]*$/.test(name) && !['GOROOT', 'GOMODCACHE', 'GOCACHE'].includes(name)
  || name === 'go command flags' || name === 'Go version';

/** Why each go command rebuilt, as run wrote it on the go command spans (go.rebuild.*). */
function rebuildsOfTrace(trace: ReportTrace, rootCache: GoCacheTotals | undefined): RebuildSummary[] {
  const out: RebuildSummary[] = [];
  const gos = trace.processes.filter((rp) => text(rp.span.attributes.get('go.rebuild.build')) !== undefined);
  for (const rp of gos) {
    const a = rp.span.attributes;
    const changes = a.get('go.rebuild.changes');
    const other = a.get('go.rebuild.other_changes');
    const changed = a.get('go.rebuild.changed');
    out.push({
      build: text(a.get('go.rebuild.build'))!, previousBuild: text(a.get('go.rebuild.previous_build')),
      changes: Array.isArray(changes) ? changes.map(String) : [], moreChanges: num(a.get('go.rebuild.more_changes')) ?? 0,
      unkeyed: Array.isArray(other) ? other.map(String) : [],
      newSettings: a.get('go.rebuild.settings_seen_before') === false && (Array.isArray(changed) ? changed.map(String) : []).some(isSettingName),
      // the root's totals are this go command's when it is the only one
      lookups: gos.length === 1 && rootCache ? { hits: rootCache.hits, misses: rootCache.misses } : undefined,
    });
  }
  return out;
}

/** The parallelism verdict as run wrote it on the root span (gostall.go.parallelism_*, gostall.go.cpus_available). */
function parallelismOfRoot(ra: ReadonlyMap<string, AttrValue>): BuildParallelism | undefined {
  const verdict = text(ra.get('gostall.go.parallelism_verdict'));
  const cpusAvailable = num(ra.get('gostall.go.cpus_available'));
  const max = num(ra.get('gostall.go.max_parallel_compiles'));
  if ((verdict !== 'above_cpus' && verdict !== 'within_cpus') || cpusAvailable === undefined || max === undefined) return undefined;
  const source = text(ra.get('gostall.go.parallelism_limit_source'));
  return {
    verdict, cpusAvailable, maxParallelCompiles: max, limit: num(ra.get('gostall.go.parallelism_limit')),
    limitSource: source === '-p' || source === 'GOMAXPROCS' ? source : undefined,
    cpusSource: text(ra.get('gostall.go.cpus_source')) === 'cpu quota' ? 'cpu quota' : 'cpus',
  };
}

/** The build cache's account as run wrote it on the root span (gostall.gocache.*). */
function goCacheOfRoot(ra: ReadonlyMap<string, AttrValue>): GoCacheTotals | undefined {
  const hits = num(ra.get('gostall.gocache.hits'));
  const misses = num(ra.get('gostall.gocache.misses'));
  if (hits === undefined || misses === undefined) return undefined;
  return { hits, misses, writes: num(ra.get('gostall.gocache.writes')) ?? 0, hitRatio: num(ra.get('gostall.gocache.hit_ratio')) };
}

/** The build actions as the spans recorded them (go.action, go.package; go.vcs for stamping). */
export function buildActionsOfTrace(trace: ReportTrace): BuildActionTiming[] {
  const out: BuildActionTiming[] = [];
  for (const rp of trace.processes) {
    const a = rp.span.attributes;
    const kind = text(a.get('go.action'));
    if (kind === undefined) continue;
    out.push({ kind, label: text(a.get(kind === 'vcs_stamping' ? 'go.vcs' : 'go.package')), startNs: rp.startNs, endNs: rp.endNs, runqNs: num(a.get('gostall.runq.delay_ns')) ?? 0 });
  }
  return out;
}
