/**
 * Turns a finished process tree (and its causes) into OpenTelemetry spans with explicit
 * start and end times: one trace per root, one span per process parented like the tree,
 * evidence spans as children. Spans go to the given span processor when they end.
 */
import { context, trace, SpanKind, SpanStatusCode, type Attributes, type HrTime, type Span, type Tracer } from '@opentelemetry/api';
import { SYSCALLS, SYSCALL_CLASSES, errnoName } from '../events/schema.js';
import type { WallClock } from '../model/clock.js';
import { argvOf, decodeWaitStatus, displayName, executableName, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { stderrText } from '../model/stderr.js';
import type { Cause } from '../diagnose/types.js';
import { rankedIds } from '../diagnose/diagnose.js';
import { slowestOperations } from './summary.js';

export interface SpanBuildOptions {
  clock: WallClock;
  /** evidence spans only for syscalls and off-CPU intervals at least this long */
  thresholdNs: number;
  /** monotonic end for processes still running when tracing stopped */
  endNs: number;
  causes: Cause[];
  /** attributes for the root span (lost events, malformed records, gaps) */
  rootAttributes?: Attributes;
  /** yield to the event loop every this many spans so exports and I/O keep flowing */
  yieldEvery?: number;
}

export interface BuiltTrace {
  traceId: string;
  spanCount: number;
}

function hr(clock: WallClock, monotonicNs: number): HrTime {
  return clock.toHrTime(monotonicNs);
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The probe captures at most 4 x 200 bytes; the attribute keeps the start of it, marked when cut. */
const MAX_STDERR_ATTRIBUTE_CHARS = 512;

function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

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

/** Emit the spans of one tree through tracer; resolves when every span has ended. */
export async function buildTraceSpans(tracer: Tracer, root: ProcessNode, opts: SpanBuildOptions): Promise<BuiltTrace> {
  const { clock } = opts;
  const yieldEvery = opts.yieldEvery ?? 256;
  const causesByProcess = new Map<ProcessNode, Cause[]>();
  for (const c of opts.causes) {
    const list = causesByProcess.get(c.process) ?? [];
    list.push(c);
    causesByProcess.set(c.process, list);
  }
  const spanOf = new Map<ProcessNode, Span>();
  let count = 0;
  let traceId = '';

  async function counted(): Promise<void> {
    count++;
    if (count % yieldEvery === 0) await tick();
  }

  for (const p of walk(root)) {
    const parentSpan = p.parent ? spanOf.get(p.parent) : undefined;
    const ctx = parentSpan ? trace.setSpan(context.active(), parentSpan) : context.active();
    const attrs = processAttributes(p);
    if (p === root) {
      Object.assign(attrs, opts.rootAttributes ?? {});
      const ids = rankedIds(opts.causes);
      attrs['gostall.causes'] = ids;
      // The summary's slowest operations (most below the span threshold) for `gostall report`.
      const slowest = slowestOperations(root);
      attrs['gostall.summary.slowest'] = slowest.map((o) => o.text);
      attrs['gostall.summary.slowest_ns'] = slowest.map((o) => o.ns);
      if (ids[0] !== undefined) attrs['gostall.cause.primary'] = ids[0];
    }
    const own = causesByProcess.get(p);
    if (own && own.length > 0) {
      // The span carries its strongest cause; all ids it carries are listed in gostall.cause.ids.
      const top = own[0]!;
      attrs['gostall.cause'] = top.id;
      attrs['gostall.cause.evidence'] = top.evidence;
      attrs['gostall.cause.hint'] = top.hint;
      attrs['gostall.cause.ids'] = [...new Set(own.map((c) => c.id))];
      Object.assign(attrs, top.attributes ?? {});
    }
    const startTime = hr(clock, p.startNs);
    const span = tracer.startSpan(displayName(p), { kind: SpanKind.INTERNAL, startTime, attributes: attrs }, ctx);
    addCauseEvents(span, own ?? [], opts.causes, startTime);
    if (p === root) traceId = span.spanContext().traceId;
    spanOf.set(p, span);
    const { code, signal } = p.status !== undefined ? decodeWaitStatus(p.status) : { code: 0, signal: undefined };
    if (signal !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: `killed by signal ${signal}` });
    else if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `exit code ${code}` });
    await emitEvidence(tracer, span, p, opts, counted);
    span.end(hr(clock, p.endNs ?? opts.endNs));
    await counted();
  }
  return { traceId, spanCount: count };
}

/**
 * One `gostall.cause` event per cause the process carries (id, evidence, hint and its rank in
 * the whole trace): the span attributes hold only the strongest, the events hold them all.
 */
function addCauseEvents(span: Span, own: Cause[], all: Cause[], time: HrTime): void {
  for (const c of own) {
    span.addEvent('gostall.cause', {
      'gostall.cause': c.id, 'gostall.cause.evidence': c.evidence, 'gostall.cause.hint': c.hint,
      'gostall.cause.rank': all.indexOf(c) + 1,
    }, time);
  }
}

async function emitEvidence(tracer: Tracer, parent: Span, p: ProcessNode, opts: SpanBuildOptions, counted: () => Promise<void>): Promise<void> {
  const { clock, thresholdNs } = opts;
  const ctx = trace.setSpan(context.active(), parent);
  const syscalls = [...p.failedSyscalls, ...p.slowSyscalls.filter((s) => s.latencyNs - s.runqNs >= thresholdNs)];
  syscalls.sort((a, b) => a.ts - b.ts);
  for (const s of syscalls) {
    const name = SYSCALLS[s.sc] ?? `syscall_${s.sc}`;
    const attrs: Attributes = {
      'thread.id': s.tid,
      'gostall.syscall.latency_ns': s.latencyNs,
      'gostall.syscall.runq_ns': s.runqNs,
    };
    if (s.path !== undefined) attrs['file.path'] = s.path;
    if (s.pathTruncated) attrs['gostall.file.path_truncated'] = true;
    if (s.fd >= 0) attrs['gostall.syscall.fd'] = s.fd;
    const span = tracer.startSpan(name, { startTime: hr(clock, s.ts - s.latencyNs), attributes: attrs }, ctx);
    if (s.ret < 0) {
      const errno = errnoName(-s.ret);
      span.setAttribute('error.type', errno);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errno });
    }
    span.end(hr(clock, s.ts));
    await counted();
  }
  for (const o of p.offCpu) {
    if (o.durationNs < thresholdNs) continue;
    const state = o.state === 2 ? 'D' : 'S';
    const attrs: Attributes = { 'thread.id': o.tid, 'gostall.offcpu.state': state, 'gostall.offcpu.duration_ns': o.durationNs };
    if (o.sc !== 0) attrs['gostall.offcpu.syscall'] = SYSCALLS[o.sc] ?? `syscall_${o.sc}`;
    const span = tracer.startSpan(`off-cpu ${state}`, { startTime: hr(clock, o.ts - o.durationNs), attributes: attrs }, ctx);
    span.end(hr(clock, o.ts));
    await counted();
  }
  for (const c of p.connects) {
    if (c.established && c.durationNs < thresholdNs) continue;
    const attrs: Attributes = {
      'thread.id': c.tid, 'server.address': c.address, 'server.port': c.port, 'network.transport': 'tcp',
      'gostall.connect.duration_ns': c.durationNs, 'gostall.connect.established': c.established,
    };
    const span = tracer.startSpan('tcp connect', { kind: SpanKind.CLIENT, startTime: hr(clock, c.ts - c.durationNs), attributes: attrs }, ctx);
    if (!c.established) span.setStatus({ code: SpanStatusCode.ERROR, message: 'handshake failed' });
    span.end(hr(clock, c.ts));
    await counted();
  }
}
