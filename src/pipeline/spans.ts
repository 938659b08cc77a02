/**
 * The one way gostall makes a span: a finished ReadableSpan with ids chosen up front and
 * explicit start and end times on the probe's clock. Process spans, evidence spans, stall
 * episodes and activity windows are all made here, so a span exported while its process
 * runs and the process span exported when it ends agree on ids, scope and limits.
 * (No SDK tracer: spans are never "started", so there is no span processor to overflow.)
 */
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { WallClock } from '../model/clock.js';
import { GOSTALL_VERSION } from '../version.js';

export const SCOPE = { name: 'gostall', version: GOSTALL_VERSION };

/** Longest attribute string kept (the SDK limit gostall used before: paths and argv are far shorter). */
const MAX_VALUE_LENGTH = 4096;

export interface SpanInput {
  name: string;
  context: SpanContext;
  parent?: SpanContext;
  kind?: SpanKind;
  startNs: number;
  endNs: number;
  attributes: Attributes;
  status?: SpanStatus;
  /** events, each at a monotonic time */
  events?: { name: string; atNs: number; attributes: Attributes }[];
  resource: Resource;
  clock: WallClock;
}

function hrDiff(a: HrTime, b: HrTime): HrTime {
  let sec = b[0] - a[0];
  let nsec = b[1] - a[1];
  if (nsec < 0) { sec -= 1; nsec += 1e9; }
  return sec < 0 ? [0, 0] : [sec, nsec];
}

/** Cut over-long strings as the SDK's attributeValueLengthLimit did. */
function limited(attributes: Attributes): Attributes {
  for (const k in attributes) {
    const v = attributes[k];
    if (typeof v === 'string' && v.length > MAX_VALUE_LENGTH) attributes[k] = v.slice(0, MAX_VALUE_LENGTH);
    else if (Array.isArray(v) && v.some((x) => typeof x === 'string' && x.length > MAX_VALUE_LENGTH)) {
      attributes[k] = (v as unknown[]).map((x) => (typeof x === 'string' ? x.slice(0, MAX_VALUE_LENGTH) : x)) as string[];
    }
  }
  return attributes;
}

export function makeSpan(x: SpanInput): ReadableSpan {
  const startTime = x.clock.toHrTime(x.startNs) as HrTime;
  const endTime = x.clock.toHrTime(Math.max(x.startNs, x.endNs)) as HrTime;
  const context = x.context;
  return {
    name: x.name,
    kind: x.kind ?? SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: x.parent,
    startTime,
    endTime,
    duration: hrDiff(startTime, endTime),
    status: x.status ?? { code: SpanStatusCode.UNSET },
    attributes: limited(x.attributes),
    links: [],
    events: (x.events ?? []).map((e) => ({ name: e.name, time: x.clock.toHrTime(e.atNs) as HrTime, attributes: limited(e.attributes), droppedAttributesCount: 0 })),
    ended: true,
    resource: x.resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
