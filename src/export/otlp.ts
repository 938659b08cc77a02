/**
 * OTLP/HTTP export through the OpenTelemetry exporters. Endpoint, headers, timeout and
 * compression come from the standard OTEL_EXPORTER_OTLP_* variables, which the exporters
 * read themselves; flags override endpoint and protocol. Export failures are values:
 * they are reported and never change the traced command's exit code.
 */
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ExportResultCode } from '@opentelemetry/core';

import type { OtlpSettings } from './endpoint.js';

export function createOtlpExporter(s: OtlpSettings): SpanExporter {
  const config = s.url ? { url: s.url } : {};
  return s.protocol === 'http/json' ? new JsonExporter(config) : new ProtoExporter(config);
}

export interface ExportOutcome { exported: number; failed: number; error: string | undefined }

/** Export spans in sequential batches; stops trying after the first failed batch or the deadline. */
export async function exportInBatches(exporter: SpanExporter, spans: ReadableSpan[], opts: { batchSize?: number; deadlineMillis?: number } = {}): Promise<ExportOutcome> {
  const batchSize = opts.batchSize ?? 512;
  const deadline = Date.now() + (opts.deadlineMillis ?? 20_000);
  const out: ExportOutcome = { exported: 0, failed: 0, error: undefined };
  for (let i = 0; i < spans.length; i += batchSize) {
    const batch = spans.slice(i, i + batchSize);
    if (out.error !== undefined || Date.now() > deadline) {
      out.failed += batch.length;
      out.error ??= 'export deadline passed';
      continue;
    }
    const left = deadline - Date.now();
    const result = await Promise.race([
      new Promise<{ code: ExportResultCode; error?: Error }>((resolve) => exporter.export(batch, resolve)),
      new Promise<{ code: ExportResultCode; error?: Error }>((resolve) =>
        setTimeout(() => resolve({ code: ExportResultCode.FAILED, error: new Error('export timed out') }), left).unref()),
    ]);
    if (result.code === ExportResultCode.SUCCESS) out.exported += batch.length;
    else {
      out.failed += batch.length;
      out.error = result.error?.message ?? 'export failed';
    }
  }
  return out;
}
