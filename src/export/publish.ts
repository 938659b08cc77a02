/**
 * Publishes a finished tree: diagnose it, build its spans, hand them to the sink (file
 * and/or collector). Used by run.
 */
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { diagnose } from '../diagnose/diagnose.js';
import type { Cause, DiagnosisContext } from '../diagnose/types.js';
import type { WallClock } from '../model/clock.js';
import { executableName, type ProcessNode } from '../model/process.js';
import { CollectingSpanProcessor } from './collect.js';
import { buildResource } from './resource.js';
import { buildTraceSpans } from './spans.js';
import type { Sink } from './sink.js';

export interface Published {
  traceId: string;
  causes: Cause[];
  spans: ReadableSpan[];
  spanCount: number;
}

export async function publishTree(root: ProcessNode, opts: {
  clock: WallClock; thresholdNs: number; endNs: number; ctx: DiagnosisContext; sink?: Sink; rootAttributes?: Attributes;
  env?: NodeJS.ProcessEnv;
}): Promise<Published> {
  const causes = diagnose(root, opts.ctx);
  const collector = new CollectingSpanProcessor();
  const provider = new BasicTracerProvider({
    resource: buildResource(executableName(root), opts.env),
    spanProcessors: [collector],
    spanLimits: { attributeCountLimit: 256, attributeValueLengthLimit: 4096 },
  });
  const tracer = provider.getTracer('gostall');
  const built = await buildTraceSpans(tracer, root, {
    clock: opts.clock, thresholdNs: opts.thresholdNs, endNs: opts.endNs, causes, rootAttributes: opts.rootAttributes,
  });
  const spans = collector.drain();
  opts.sink?.submit(spans);
  await provider.shutdown();
  return { traceId: built.traceId, causes, spans, spanCount: spans.length };
}
