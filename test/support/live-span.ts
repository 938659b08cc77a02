// A finished span under a given parent with a fresh span id, for tests that need spans to export.
import type { SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { newSpanId, spanContextOf } from '../../src/pipeline/span-ids.js';
import { makeSpan, type SpanInput } from '../../src/pipeline/spans.js';

export function makeLiveSpan(x: Omit<SpanInput, 'context' | 'parent'> & { parent: SpanContext }): ReadableSpan {
  return makeSpan({ ...x, context: spanContextOf(x.parent.traceId, newSpanId()) });
}
