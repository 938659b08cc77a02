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

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json'];

export interface OtlpSettings {
  /** the traces URL to post to, or undefined when the OTEL_* variables decide */
  url: string | undefined;
  protocol: OtlpProtocol;
}

/** Whether flags or environment name a collector at all. */
export function endpointConfigured(flagUrl: string | undefined, env: NodeJS.ProcessEnv): boolean {
  return Boolean(flagUrl || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** The protocol: flag, else OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else protobuf. */
export function resolveProtocol(flag: string | undefined, env: NodeJS.ProcessEnv): OtlpProtocol {
  const raw = flag ?? env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (!(PROTOCOLS as readonly string[]).includes(raw)) {
    throw new Error(`unsupported OTLP protocol ${JSON.stringify(raw)}: use http/protobuf or http/json`);
  }
  return raw as OtlpProtocol;
}

/**
 * A --endpoint flag is a base URL like OTEL_EXPORTER_OTLP_ENDPOINT (…:4318), unless it
 * already names a path, in which case it is used as it is.
 */
export function tracesUrlFromFlag(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`endpoint must be http(s): ${redactUrl(endpoint)}`);
  if (u.pathname === '/' || u.pathname === '') return `${u.origin}/v1/traces`;
  return u.toString();
}

/** A URL safe to print: no user name, password or query string. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username || u.password) { u.username = 'REDACTED'; u.password = ''; }
    u.search = '';
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

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
