/**
 * Span identities chosen before the spans exist. A process that runs for hours gets its
 * trace id and span id when the agent first sees it, so stall episodes and activity windows
 * can be exported under it while it runs; its own span, exported when it exits, reuses the
 * same ids. Also builds plain ReadableSpans for those live spans (they need no SDK state).
 */
import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { WallClock } from '../model/clock.js';
import type { ProcessNode } from '../model/process.js';
import { GOSTALL_VERSION } from '../export/resource.js';

/** Random ids come from a pooled buffer: one getrandom() per 4 KiB instead of one per id. */
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) { pool = randomBytes(4096); poolAt = 0; }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  // All-zero ids are invalid in OTLP; 2^-64 odds, but cheap to rule out.
  return /^0+$/.test(hex) ? randomHex(bytes) : hex;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

export interface ProcessIds { traceId: string; spanId: string }

/** Pre-assigned ids per process; a process's trace is its root's. */
export interface IdRegistry {
  of(p: ProcessNode): ProcessIds;
  contextOf(p: ProcessNode): SpanContext;
}

export function createIdRegistry(): IdRegistry {
  const ids = new WeakMap<ProcessNode, ProcessIds>();
  function of(p: ProcessNode): ProcessIds {
    let known = ids.get(p);
    if (known) return known;
    const traceId = p.parent ? of(rootOf(p)).traceId : newTraceId();
    known = { traceId, spanId: newSpanId() };
    ids.set(p, known);
    return known;
  }
  return {
    of,
    contextOf(p) {
      const { traceId, spanId } = of(p);
      return { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
    },
  };
}

export function rootOf(p: ProcessNode): ProcessNode {
  let r = p;
  while (r.parent) r = r.parent;
  return r;
}

export function hrTime(clock: WallClock, monotonicNs: number): HrTime {
  const ns = clock.toEpochNs(monotonicNs);
  const sec = Math.floor(ns / 1e9);
  return [sec, Math.max(0, Math.min(999_999_999, Math.round(ns - sec * 1e9)))];
}

function hrDiff(a: HrTime, b: HrTime): HrTime {
  let sec = b[0] - a[0];
  let nsec = b[1] - a[1];
  if (nsec < 0) { sec -= 1; nsec += 1e9; }
  return sec < 0 ? [0, 0] : [sec, nsec];
}

export const SCOPE = { name: 'gostall', version: GOSTALL_VERSION };

export interface LiveSpanInput {
  name: string;
  parent: SpanContext;
  startNs: number;
  endNs: number;
  attributes: Attributes;
  resource: Resource;
  clock: WallClock;
  status?: SpanStatus;
}

/** A finished span under a (possibly still open) parent, with a fresh span id. */
export function makeLiveSpan(x: LiveSpanInput): ReadableSpan {
  const ctx: SpanContext = { traceId: x.parent.traceId, spanId: newSpanId(), traceFlags: TraceFlags.SAMPLED };
  const startTime = hrTime(x.clock, x.startNs);
  const endTime = hrTime(x.clock, Math.max(x.startNs, x.endNs));
  return {
    name: x.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => ctx,
    parentSpanContext: x.parent,
    startTime,
    endTime,
    duration: hrDiff(startTime, endTime),
    status: x.status ?? { code: SpanStatusCode.UNSET },
    attributes: x.attributes,
    links: [],
    events: [],
    ended: true,
    resource: x.resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A copy of an SDK span with other ids (the pre-assigned ones) and optionally other attributes. */
export function rebaseSpan(s: ReadableSpan, ids: { traceId: string; spanId: string }, parent: SpanContext | undefined, attributes?: Attributes): ReadableSpan {
  const ctx: SpanContext = { ...s.spanContext(), traceId: ids.traceId, spanId: ids.spanId };
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => ctx,
    parentSpanContext: parent,
    startTime: s.startTime,
    endTime: s.endTime,
    duration: s.duration,
    status: s.status,
    attributes: attributes ?? s.attributes,
    links: s.links,
    events: s.events,
    ended: true,
    resource: s.resource,
    instrumentationScope: s.instrumentationScope,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  };
}
