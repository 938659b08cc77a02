/**
 * Spans of a diagnosed process tree (or of a finished subtree of a tree whose root still
 * runs): one span per process, parented like the tree, with the ids the pipeline assigned
 * up front; evidence spans (slow or failed syscalls, long off-CPU intervals, TCP connects)
 * as children of their process. Spans come out in the order a tracer would end them:
 * each process's evidence, then the process, in walk order.
 */
import { SpanKind, SpanStatusCode, type Attributes, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { rankedIds } from '../diagnose/diagnose.js';
import type { Cause } from '../diagnose/types.js';
import { SYSCALL_CLASSES } from '../events/schema.js';
import type { WallClock } from '../model/clock.js';
import { argvOf, decodeWaitStatus, displayName, executableName, type ProcessNode } from '../model/process.js';
import { goActionOf, packageLabel } from '../model/go-action.js';
import { buildActionsOf, summarizeBuild, type BuildInsight } from '../model/build-insight.js';
import { sumGoCache } from '../model/gocache.js';
import { vcsStampingTool } from '../model/go-vcs.js';
import { walk } from '../model/tree.js';
import { stderrText } from '../model/stderr.js';
import { errnoName } from '../vocabulary/errno.js';
import { probeSyscallName } from '../vocabulary/syscalls.js';
import { newSpanId, spanContextOf, type IdRegistry } from './span-ids.js';
import { slowestOperations } from './slowest.js';
import { makeSpan } from './spans.js';
import { rebuildAttributesOf } from './rebuild-attributes.js';
import type { RebuildFindings } from '../diagnose/rebuild-diff.js';
import { goPhaseCounts, goPhaseSpans } from './go-phase-spans.js';
import type { GoPhases } from '../model/go-phases.js';

export interface TreeSpansInput {
  /** the tree's root, or the top of a finished subtree */
  node: ProcessNode;
  /**
   * the span node hangs under when the model no longer links it to its parent: an orphan
   * detached from a tree published before it (then node is not the trace's root)
   */
  parentContext?: SpanContext;
  ids: IdRegistry;
  clock: WallClock;
  /** evidence spans only for syscalls and off-CPU intervals at least this long */
  thresholdNs: number;
  /** monotonic end for processes still running when tracing stopped */
  endNs: number;
  causes: Cause[];
  resource: Resource;
  /** the trace root's build account (summarizeBuild), when the caller made it already */
  build?: BuildInsight;
  /** attributes for the trace's root span (only when node is the root) */
  rootAttributes?: Attributes;
  /** cause ids found earlier in this trace (episodes, subtrees published before) */
  earlierCauseIds?: string[];
  /** extra attributes per process span (tracer gaps, adoption) */
  processExtras?: (p: ProcessNode) => Attributes | undefined;
  /** what changed since the last recorded build, per building go command (./rebuild-attributes) */
  rebuilds?: RebuildFindings[];
  /** a go process's own phases (its -debug-trace), joined under its span */
  goPhasesOf?: (p: ProcessNode) => GoPhases | undefined;
  /** yield to the event loop every this many spans so exports and I/O keep flowing */
  yieldEvery?: number;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Process span attributes, including the gostall.* aggregates. */
export function processAttributes(p: ProcessNode): Attributes {
  const a: Attributes = { 'process.pid': p.pid };
  if (p.parent) a['process.parent_pid'] = p.parent.pid;
  if (p.exec) {
    a['process.executable.name'] = executableName(p);
    a['process.executable.path'] = p.exec.filename;
    const { argv, truncated } = argvOf(p);
    a['process.command_args'] = argv;
    if (truncated) a['gostall.process.command_args_truncated'] = true;
    const action = goActionOf(p);
    if (action) {
      a['go.action'] = action.kind;
      const label = packageLabel(p, action);
      if (label !== undefined) a['go.package'] = label;
      if (action.packageDir !== undefined) a['go.package.dir'] = action.packageDir;
      // a tool process that ran is an action the go command did not find in its cache (hits run nothing)
      if (action.kind !== 'link' && action.kind !== 'vet') a['go.cache_hit'] = false;
    }
    const vcs = vcsStampingTool(p);
    if (vcs) { a['go.action'] = 'vcs_stamping'; a['go.vcs'] = vcs; }
  }
  if (p.uid !== undefined) a['process.user.id'] = p.uid;
  if (p.status !== undefined) {
    const { code, signal } = decodeWaitStatus(p.status);
    a['process.exit.code'] = code ?? 128 + (signal ?? 0);
    if (signal !== undefined) a['gostall.process.signal'] = signal;
  } else {
    a['gostall.process.still_running'] = true;
  }
  if (p.oomKilled) a['gostall.process.oom_killed'] = true;
  for (const cls of SYSCALL_CLASSES) {
    const s = p.sums[cls];
    if (s.count === 0) continue;
    a[`gostall.${cls}.count`] = s.count;
    a[`gostall.${cls}.blocked_ns`] = s.blockedNs;
    a[`gostall.${cls}.max_ns`] = s.maxNs;
    a[`gostall.${cls}.errors`] = s.errors;
    if (s.enoent > 0) a[`gostall.${cls}.enoent`] = s.enoent;
    a[`gostall.${cls}.latency_buckets`] = [...s.buckets];
  }
  for (const [name, n] of p.errnoCounts) a[`gostall.errno.${name}`] = n;
  const q = p.sched;
  a['gostall.threads'] = p.threads;
  a['gostall.cpu.on_ns'] = q.onCpuNs;
  a['gostall.runq.delay_ns'] = q.runqNs;
  a['gostall.offcpu.s_ns'] = q.offSNs;
  a['gostall.offcpu.d_ns'] = q.offDNs;
  a['gostall.offcpu.d_max_ns'] = q.maxOffDNs;
  a['gostall.sched.voluntary_switches'] = q.voluntarySwitches;
  a['gostall.sched.involuntary_switches'] = q.involuntarySwitches;
  if (p.evidenceDropped > 0) a['gostall.evidence.dropped'] = p.evidenceDropped;
  const stderr = stderrText(p.stderr);
  if (stderr !== undefined) a['gostall.stderr'] = truncateText(stderr, MAX_STDERR_ATTRIBUTE_CHARS);
  return a;
}

/** The probe captures at most 4 x 200 bytes; the attribute keeps the start of it, marked when cut. */
const MAX_STDERR_ATTRIBUTE_CHARS = 512;

function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function statusOf(p: ProcessNode): SpanStatus | undefined {
  if (p.status === undefined) return undefined;
  const { code, signal } = decodeWaitStatus(p.status);
  if (signal !== undefined) return { code: SpanStatusCode.ERROR, message: `killed by signal ${signal}` };
  if (code !== 0) return { code: SpanStatusCode.ERROR, message: `exit code ${code}` };
  return undefined;
}

/** The causes a trace's root lists: its tree's, ranked, then those found earlier in the trace. */
function rootCauseAttributes(causes: Cause[], earlier: string[]): Attributes {
  const ids = [...new Set([...rankedIds(causes), ...earlier])];
  const a: Attributes = { 'gostall.causes': ids };
  if (ids[0] !== undefined) a['gostall.cause.primary'] = ids[0];
  return a;
}

/** The causes a span carries: its strongest one in full, and the ids of all of them in gostall.cause.ids. */
export function causeAttributes(causes: Cause[]): Attributes {
  const top = causes[0]!;
  return {
    'gostall.cause': top.id, 'gostall.cause.evidence': top.evidence, 'gostall.cause.hint': top.hint,
    'gostall.cause.ids': [...new Set(causes.map((c) => c.id))], ...(top.attributes ?? {}),
  };
}

/** A Go build's account on its root span: actions, compile time and parallelism, stamping, slowest packages. */
function buildAttributes(root: ProcessNode, b: BuildInsight | undefined): Attributes {
  const cache = goCacheAttributes(root, b?.compileNs ?? 0);
  if (!b) return cache;
  const a: Attributes = {
    ...cache,
    'gostall.go.actions': b.actions, 'gostall.go.compiles': b.compiles, 'gostall.go.compile_ns': b.compileNs,
    'gostall.go.max_parallel_compiles': b.maxParallelCompiles,
    'gostall.go.compiles_running_ns': b.compilesRunningNs,
    'gostall.go.compile_runq_ns': b.compileRunqNs,
    'gostall.go.slowest_packages': b.slowest.map((s) => `${s.kind} ${s.label ?? '?'}`),
    'gostall.go.slowest_packages_ns': b.slowest.map((s) => s.endNs - s.startNs),
  };
  if (b.stampingCommands > 0) a['gostall.go.vcs_stamping_ns'] = b.stampingNs;
  return a;
}

/** The build cache's account (issue 13): the go processes' first lookups of action entries; compiles ran for misses. */
function goCacheAttributes(root: ProcessNode, compileNs: number): Attributes {
  const t = sumGoCache((function* () { for (const p of walk(root)) yield p.gocache; })());
  if (!t) return {};
  const a: Attributes = {
    'gostall.gocache.hits': t.hits, 'gostall.gocache.misses': t.misses, 'gostall.gocache.writes': t.writes,
    'gostall.gocache.miss_compile_ns': compileNs,
  };
  if (t.hitRatio !== undefined) a['gostall.gocache.hit_ratio'] = t.hitRatio;
  return a;
}

/** The attributes of one process span. */
function processSpanAttributes(p: ProcessNode, x: TreeSpansInput, isTraceRoot: boolean, own: Cause[] | undefined,
  rebuild: (p: ProcessNode) => Attributes | undefined): Attributes {
  const attrs = processAttributes(p);
  if (isTraceRoot) {
    Object.assign(attrs, x.rootAttributes ?? {}, rootCauseAttributes(x.causes, x.earlierCauseIds ?? []));
    // The summary's slowest operations (most below the span threshold) for `gostall report`.
    const slowest = slowestOperations(p);
    attrs['gostall.summary.slowest'] = slowest.map((o) => o.text);
    attrs['gostall.summary.slowest_ns'] = slowest.map((o) => o.ns);
    // the pipeline passes the account it made for the verdict (undefined: no build); other callers get it made here
    Object.assign(attrs, buildAttributes(p, 'build' in x ? x.build : summarizeBuild(buildActionsOf(p, x.endNs))));
  }
  const why = rebuild(p);
  if (why) Object.assign(attrs, why);
  if (own && own.length > 0) Object.assign(attrs, causeAttributes(own));
  const extra = x.processExtras?.(p);
  if (extra) Object.assign(attrs, extra);
  return attrs;
}

/** Build the spans of x.node's tree; yields to the event loop now and then on large trees. */
export async function buildTreeSpans(x: TreeSpansInput): Promise<ReadableSpan[]> {
  const isTraceRoot = x.node.parent === undefined && x.parentContext === undefined;
  const yieldEvery = x.yieldEvery ?? 256;
  const causesByProcess = new Map<ProcessNode, Cause[]>();
  for (const c of x.causes) {
    const list = causesByProcess.get(c.process) ?? [];
    list.push(c);
    causesByProcess.set(c.process, list);
  }
  const rebuild = rebuildAttributesOf(x.node, x.rebuilds);
  const topParent = x.parentContext ?? (x.node.parent ? x.ids.of(x.node.parent) : undefined);
  const out: ReadableSpan[] = [];
  let sinceYield = 0;
  const push = async (s: ReadableSpan): Promise<void> => {
    out.push(s);
    if (++sinceYield >= yieldEvery) { sinceYield = 0; await tick(); }
  };
  for (const p of walk(x.node)) {
    const context = x.ids.of(p);
    for (const s of evidenceSpans(p, context, x)) await push(s);
    const phases = x.goPhasesOf?.(p);
    if (phases) for (const s of goPhaseSpans({ go: p, phases, parent: context, endNs: x.endNs, clock: x.clock, resource: x.resource })) await push(s);
    const attributes = processSpanAttributes(p, x, isTraceRoot && p === x.node, causesByProcess.get(p), rebuild);
    if (phases) Object.assign(attributes, goPhaseCounts(phases));
    await push(makeSpan({
      name: displayName(p), context, parent: p === x.node ? topParent : x.ids.of(p.parent!),
      startNs: p.startNs, endNs: p.endNs ?? x.endNs, status: statusOf(p),
      attributes,
      events: causeEvents(p, causesByProcess.get(p) ?? [], x.causes),
      resource: x.resource, clock: x.clock,
    }));
  }
  return out;
}

/**
 * One `gostall.cause` event per cause the process carries (id, evidence, hint and its rank in
 * the whole trace): the span attributes hold only the strongest, the events hold them all.
 */
function causeEvents(p: ProcessNode, own: Cause[], all: Cause[]): { name: string; atNs: number; attributes: Attributes }[] {
  return own.map((c) => ({
    name: 'gostall.cause', atNs: p.startNs,
    attributes: { 'gostall.cause': c.id, 'gostall.cause.evidence': c.evidence, 'gostall.cause.hint': c.hint, 'gostall.cause.rank': all.indexOf(c) + 1 },
  }));
}

/** Evidence spans of one process: slow or failed syscalls, long off-CPU intervals, TCP connects. */
function evidenceSpans(p: ProcessNode, parent: SpanContext, x: TreeSpansInput): ReadableSpan[] {
  const { clock, thresholdNs, resource } = x;
  const child = (): SpanContext => spanContextOf(parent.traceId, newSpanId());
  const out: ReadableSpan[] = [];
  const syscalls = [...p.failedSyscalls, ...p.slowSyscalls.filter((s) => s.latencyNs - s.runqNs >= thresholdNs)];
  syscalls.sort((a, b) => a.ts - b.ts);
  for (const s of syscalls) {
    const attributes: Attributes = {
      'thread.id': s.tid,
      'gostall.syscall.latency_ns': s.latencyNs,
      'gostall.syscall.runq_ns': s.runqNs,
    };
    if (s.path !== undefined) attributes['file.path'] = s.path;
    if (s.pathTruncated) attributes['gostall.file.path_truncated'] = true;
    if (s.fd >= 0) attributes['gostall.syscall.fd'] = s.fd;
    let status: SpanStatus | undefined;
    if (s.ret < 0) {
      const errno = errnoName(-s.ret);
      attributes['error.type'] = errno;
      status = { code: SpanStatusCode.ERROR, message: errno };
    }
    out.push(makeSpan({ name: probeSyscallName(s.sc), context: child(), parent, startNs: s.ts - s.latencyNs, endNs: s.ts, attributes, status, resource, clock }));
  }
  for (const o of p.offCpu) {
    if (o.durationNs < thresholdNs) continue;
    const state = o.state === 2 ? 'D' : 'S';
    const attributes: Attributes = { 'thread.id': o.tid, 'gostall.offcpu.state': state, 'gostall.offcpu.duration_ns': o.durationNs };
    if (o.sc !== 0) attributes['gostall.offcpu.syscall'] = probeSyscallName(o.sc);
    out.push(makeSpan({ name: `off-cpu ${state}`, context: child(), parent, startNs: o.ts - o.durationNs, endNs: o.ts, attributes, resource, clock }));
  }
  for (const c of p.connects) {
    if (c.established && c.durationNs < thresholdNs) continue;
    const attributes: Attributes = {
      'thread.id': c.tid, 'server.address': c.address, 'server.port': c.port, 'network.transport': 'tcp',
      'gostall.connect.duration_ns': c.durationNs, 'gostall.connect.established': c.established,
    };
    const status = c.established ? undefined : { code: SpanStatusCode.ERROR, message: 'handshake failed' };
    out.push(makeSpan({
      name: 'tcp connect', kind: SpanKind.CLIENT, context: child(), parent, startNs: c.ts - c.durationNs, endNs: c.ts, attributes, status, resource, clock,
    }));
  }
  return out;
}
