/**
 * Publishes a finished tree: diagnose it, build its spans, write them to the OTLP JSON
 * file and/or send them to a collector. Used by run, agent and replay alike.
 */
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { diagnose } from '../diagnose/diagnose.js';
import type { Cause, DiagnosisContext } from '../diagnose/types.js';
import type { WallClock } from '../model/clock.js';
import { executableName, type ProcessNode } from '../model/process.js';
import { CollectingSpanProcessor } from './collect.js';
import { buildResource } from './resource.js';
import { buildTraceSpans } from './spans.js';
import { exportInBatches } from './otlp.js';
import type { OtlpJsonFile } from './file.js';

export interface PublishTargets {
  file?: OtlpJsonFile;
  exporter?: SpanExporter;
  exportDeadlineMillis?: number;
}

export interface Published {
  traceId: string;
  causes: Cause[];
  spans: ReadableSpan[];
  spanCount: number;
  exported: number;
  exportError: string | undefined;
}

export async function publishTree(root: ProcessNode, opts: {
  clock: WallClock; thresholdNs: number; endNs: number; ctx: DiagnosisContext; targets: PublishTargets; rootAttributes?: Attributes;
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
  if (opts.targets.file) await opts.targets.file.write(spans);
  let exported = 0;
  let exportError: string | undefined;
  if (opts.targets.exporter) {
    const r = await exportInBatches(opts.targets.exporter, spans, { deadlineMillis: opts.targets.exportDeadlineMillis });
    exported = r.exported;
    exportError = r.error;
  }
  await provider.shutdown();
  return { traceId: built.traceId, causes, spans, spanCount: spans.length, exported, exportError };
}
