// The span contract of DESIGN.md, checked on spans built from a recorded process tree: one
// span per process parented like the tree, the process.* attributes, ERROR on failure,
// evidence spans as children, causes where the evidence is, exact wall-clock times.
import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { Cause } from '../../src/diagnose/types.js';
import type { ProbeEvent } from '../../src/events/types.js';
import { createIdRegistry } from '../../src/pipeline/span-ids.js';
import { buildTreeSpans, processAttributes } from '../../src/pipeline/tree-spans.js';
import { createFixedClock } from '../../src/model/clock.js';
import type { ProcessNode } from '../../src/model/process.js';
import { createProcessTree } from '../../src/model/tree.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { ERRNO } from '../../src/vocabulary/errno.js';

const EPOCH_S = 1_795_000_000;
const clock = createFixedClock(EPOCH_S * 1e9);
const MS = 1e6;

function execArgs(ts: number, pid: number, filename: string, args: string[]): ProbeEvent[] {
  const text = `${args.join('\0')}\0`;
  return [
    { kind: 'exec', ts, pid, oldPid: pid, ppid: 1, uid: 0, argvLen: text.length, comm: 'x', filename, filenameTruncated: false },
    { kind: 'argv', pid, offset: 0, bytes: Buffer.from(text) },
  ];
}

/** go build (exit 1) → compile (exit 0, one slow and one fast stat, one EACCES) and link (killed by SIGKILL), and a background sleep. */
function recordedTree(): ProcessNode {
  const tree = createProcessTree();
  const root = tree.addRoot(100, 1 * MS);
  const events: ProbeEvent[] = [
    ...execArgs(2 * MS, 100, '/usr/bin/go', ['go', 'build', './...']),
    { kind: 'fork', ts: 10 * MS, parentPid: 100, parentTid: 100, childTid: 101 },
    ...execArgs(11 * MS, 101, '/usr/lib/go/pkg/tool/linux_amd64/compile', ['compile', '-p', 'main', 'my file.go']),
    { kind: 'syscall', ts: 90 * MS, pid: 101, tid: 103, sc: SC.newfstatat, latencyNs: 70 * MS, runqNs: 1 * MS, ret: 0, fd: -1, path: '/ws/slow dir/go.mod', pathTruncated: false },
    { kind: 'syscall', ts: 91 * MS, pid: 101, tid: 101, sc: SC.newfstatat, latencyNs: 2 * MS, runqNs: 0, ret: 0, fd: -1, path: '/ws/fast', pathTruncated: false },
    { kind: 'syscall', ts: 92 * MS, pid: 101, tid: 101, sc: SC.openat, latencyNs: 10_000, runqNs: 0, ret: -ERRNO.EACCES, fd: -1, path: '/root/private', pathTruncated: false },
    { kind: 'syscall', ts: 93 * MS, pid: 101, tid: 101, sc: SC.read, latencyNs: 60 * MS, runqNs: 0, ret: 100, fd: 7, path: undefined, pathTruncated: false },
    { kind: 'offcpu', ts: 95 * MS, pid: 101, tid: 101, state: 2, durationNs: 80 * MS, sc: SC.read },
    { kind: 'sum', ts: 99 * MS, pid: 101, tid: 101, cls: 0, count: 3, blockedNs: 72 * MS, maxNs: 70 * MS, errors: 0, enoent: 0, buckets: [1, 0, 1, 1] },
    { kind: 'exit', ts: 100 * MS, pid: 101, tid: 101, status: 0 },
    { kind: 'fork', ts: 110 * MS, parentPid: 100, parentTid: 100, childTid: 102 },
    ...execArgs(111 * MS, 102, '/usr/lib/go/pkg/tool/linux_amd64/link', ['link', '-o', 'a.out']),
    { kind: 'connect', ts: 150 * MS, pid: 102, tid: 102, durationNs: 3000 * MS, established: false, address: '127.0.0.1', port: 9 },
    { kind: 'exit', ts: 200 * MS, pid: 102, tid: 102, status: 9 },
    { kind: 'fork', ts: 210 * MS, parentPid: 100, parentTid: 100, childTid: 104 },
    ...execArgs(211 * MS, 104, '/usr/bin/sleep', ['sleep', '100']),
    { kind: 'exit', ts: 300 * MS, pid: 100, tid: 100, status: 1 << 8 },
  ];
  for (const e of events) tree.add(e);
  return root;
}

async function build(root: ProcessNode, opts: { causes?: Cause[]; rootAttributes?: Attributes; thresholdNs?: number } = {}) {
  const ids = createIdRegistry();
  const spans = await buildTreeSpans({
    node: root, ids, clock, thresholdNs: opts.thresholdNs ?? 50 * MS, endNs: 400 * MS, causes: opts.causes ?? [], rootAttributes: opts.rootAttributes,
    resource: resourceFromAttributes({ 'service.name': 'test' }),
  });
  return { built: { traceId: ids.of(root).traceId, spanCount: spans.length }, spans };
}

const ns = (s: ReadableSpan, which: 'startTime' | 'endTime') => (s[which][0] - EPOCH_S) * 1e9 + s[which][1];
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: ReadableSpan[], name: string) => {
  const found = byName(spans, name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('process spans', () => {
  it('one per process, in one trace, parented like the process tree', async () => {
    const { built, spans } = await build(recordedTree());
    const processSpans = spans.filter((s) => s.attributes['process.pid'] !== undefined);
    expect(processSpans.map((s) => s.name).sort()).toEqual(['compile main', 'go build', 'link', 'sleep']);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([built.traceId]));
    const root = one(spans, 'go build');
    expect(parentOf(root)).toBeUndefined();
    const spanIdOfPid = new Map(processSpans.map((s) => [s.attributes['process.pid'], s.spanContext().spanId]));
    for (const s of processSpans) {
      if (s === root) continue;
      expect(parentOf(s)).toBe(spanIdOfPid.get(s.attributes['process.parent_pid']));
    }
  });

  it('carries the process.* attributes of the semantic conventions', async () => {
    const { spans } = await build(recordedTree());
    expect(one(spans, 'compile main').attributes).toMatchObject({
      'process.pid': 101,
      'process.parent_pid': 100,
      'process.executable.name': 'compile',
      'process.executable.path': '/usr/lib/go/pkg/tool/linux_amd64/compile',
      'process.command_args': ['compile', '-p', 'main', 'my file.go'],
      'process.exit.code': 0,
      'go.action': 'compile', 'go.package': 'main', 'go.package.dir': '.',
    });
    expect(one(spans, 'go build').attributes['process.parent_pid']).toBeUndefined();
  });

  it('is ERROR on a non-zero exit and on death by a signal (exit code 128+signal)', async () => {
    const { spans } = await build(recordedTree());
    expect(one(spans, 'go build').status).toEqual({ code: SpanStatusCode.ERROR, message: 'exit code 1' });
    expect(one(spans, 'go build').attributes['process.exit.code']).toBe(1);
    const link = one(spans, 'link');
    expect(link.status).toEqual({ code: SpanStatusCode.ERROR, message: 'killed by signal 9' });
    expect(link.attributes).toMatchObject({ 'process.exit.code': 137, 'gostall.process.signal': 9 });
    expect(one(spans, 'compile main').status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a process still running when tracing stopped ends at the end of the trace and says so', async () => {
    const { spans } = await build(recordedTree());
    const sleep = one(spans, 'sleep');
    expect(sleep.attributes['gostall.process.still_running']).toBe(true);
    expect(sleep.attributes['process.exit.code']).toBeUndefined();
    expect(ns(sleep, 'endTime')).toBe(400 * MS);
  });

  it('starts at fork and ends at exit, converted exactly', async () => {
    const { spans } = await build(recordedTree());
    const compile = one(spans, 'compile main');
    expect([ns(compile, 'startTime'), ns(compile, 'endTime')]).toEqual([10 * MS, 100 * MS]);
    const root = one(spans, 'go build');
    expect([ns(root, 'startTime'), ns(root, 'endTime')]).toEqual([1 * MS, 300 * MS]);
  });

  it('carries the per-process aggregates', async () => {
    const { spans } = await build(recordedTree());
    expect(one(spans, 'compile main').attributes).toMatchObject({
      'gostall.stat.count': 3, 'gostall.stat.blocked_ns': 72 * MS, 'gostall.stat.max_ns': 70 * MS,
      'gostall.stat.latency_buckets': [1, 0, 1, 1], 'gostall.errno.EACCES': 1,
    });
  });
});

describe('evidence spans', () => {
  it('a syscall blocked at least the threshold is a child span named after the call, with file.path and thread.id', async () => {
    const { spans } = await build(recordedTree());
    const compile = one(spans, 'compile main');
    const stats = byName(spans, 'newfstatat');
    expect(stats).toHaveLength(1); // the 2 ms one stays below the 50 ms threshold
    const stat = stats[0]!;
    expect(parentOf(stat)).toBe(compile.spanContext().spanId);
    expect(stat.attributes).toMatchObject({ 'file.path': '/ws/slow dir/go.mod', 'thread.id': 103, 'gostall.syscall.latency_ns': 70 * MS });
    expect([ns(stat, 'startTime'), ns(stat, 'endTime')]).toEqual([20 * MS, 90 * MS]);
  });

  it('a failed call is evidence whatever its latency, ERROR with error.type', async () => {
    const { spans } = await build(recordedTree());
    const open = one(spans, 'openat');
    expect(open.status).toEqual({ code: SpanStatusCode.ERROR, message: 'EACCES' });
    expect(open.attributes).toMatchObject({ 'error.type': 'EACCES', 'file.path': '/root/private' });
  });

  it('a read on an fd with no known path carries the fd only', async () => {
    const { spans } = await build(recordedTree());
    const read = one(spans, 'read');
    expect(read.attributes['file.path']).toBeUndefined();
    expect(read.attributes['gostall.syscall.fd']).toBe(7);
  });

  it('long off-CPU waits and failed connects are children of their process', async () => {
    const { spans } = await build(recordedTree());
    const off = one(spans, 'off-cpu D');
    expect(off.attributes).toMatchObject({ 'gostall.offcpu.state': 'D', 'gostall.offcpu.syscall': 'read' });
    const tcp = one(spans, 'tcp connect');
    expect(parentOf(tcp)).toBe(one(spans, 'link').spanContext().spanId);
    expect(tcp.status.code).toBe(SpanStatusCode.ERROR);
    expect(tcp.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': 9 });
  });

  it('a lower threshold turns shorter calls into spans', async () => {
    const { spans } = await build(recordedTree(), { thresholdNs: 1 * MS });
    expect(byName(spans, 'newfstatat')).toHaveLength(2);
  });
});

describe('causes and the root span', () => {
  it('the root carries the ranked cause ids and the primary; the span with the evidence carries the cause', async () => {
    const root = recordedTree();
    const compile = root.children[0]!;
    const causes: Cause[] = [
      { id: 'fs.slow_metadata', process: compile, evidence: 'p50 newfstatat 70 ms on fuse /ws', hint: 'move the module', weightNs: 70 * MS },
      { id: 'net.connect_failed', process: root.children[1]!, evidence: '127.0.0.1:9 refused', hint: 'fix GOPROXY', weightNs: 3 * MS },
    ];
    const { spans } = await build(root, { causes, rootAttributes: { 'gostall.lost_events': 5 } });
    expect(one(spans, 'go build').attributes).toMatchObject({
      'gostall.causes': ['fs.slow_metadata', 'net.connect_failed'],
      'gostall.cause.primary': 'fs.slow_metadata',
      'gostall.lost_events': 5,
    });
    expect(one(spans, 'compile main').attributes).toMatchObject({
      'gostall.cause': 'fs.slow_metadata', 'gostall.cause.evidence': 'p50 newfstatat 70 ms on fuse /ws', 'gostall.cause.hint': 'move the module',
    });
  });

  it('a clean run has an empty cause list and no primary', async () => {
    const { spans } = await build(recordedTree());
    const root = one(spans, 'go build');
    expect(root.attributes['gostall.causes']).toEqual([]);
    expect(root.attributes['gostall.cause.primary']).toBeUndefined();
  });
});

describe('processAttributes', () => {
  it('names a forked child that never exec’d after its parent program', () => {
    const root = recordedTree();
    expect(processAttributes(root)['process.executable.name']).toBe('go');
  });
});
