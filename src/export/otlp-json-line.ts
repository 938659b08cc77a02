/**
 * One line of an OTLP JSON lines file (./file.ts): an ExportTraceServiceRequest holding these
 * spans, as the OpenTelemetry Collector's otlpjsonfile receiver reads it. An agent building a
 * run's trace sends it as these lines too (src/agent/run-session.ts).
 */
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

const NEWLINE = Buffer.from('\n');

export function otlpJsonLine(spans: ReadableSpan[]): Buffer {
  const body = JsonTraceSerializer.serializeRequest(spans);
  if (!body) throw new Error('OTLP JSON serialisation failed');
  return Buffer.concat([Buffer.from(body), NEWLINE]);
}
