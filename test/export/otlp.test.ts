// Where spans are sent and how failures come back: flags and OTEL_* variables pick the URL
// and protocol; a collector that refuses or is not there is a value, never an exception.
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectingSpanProcessor } from '../../src/export/collect.js';
import { endpointConfigured, redactUrl, resolveProtocol, tracesUrlFromFlag } from '../../src/export/endpoint.js';
import { createOtlpExporter, exportInBatches } from '../../src/export/otlp.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { closedPort } from '../integration/harness.js';

function spans(n: number): ReadableSpan[] {
  const collector = new CollectingSpanProcessor();
  const provider = new BasicTracerProvider({ spanProcessors: [collector] });
  const tracer = provider.getTracer('t');
  for (let i = 0; i < n; i++) tracer.startSpan(`s${i}`, { startTime: [1_795_000_000, i] }).end([1_795_000_001, i]);
  return collector.drain();
}

describe('choosing the endpoint and protocol', () => {
  it('--endpoint is a base URL like OTEL_EXPORTER_OTLP_ENDPOINT, unless it names a path', () => {
    expect(tracesUrlFromFlag('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(tracesUrlFromFlag('https://otel.example:443/')).toBe('https://otel.example/v1/traces');
    expect(tracesUrlFromFlag('http://c:4318/custom/traces')).toBe('http://c:4318/custom/traces');
    expect(() => tracesUrlFromFlag('ftp://c')).toThrow(/must be http\(s\)/);
    expect(() => tracesUrlFromFlag('not a url')).toThrow();
  });

  it('a flag, else OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else protobuf', () => {
    expect(resolveProtocol(undefined, {})).toBe('http/protobuf');
    expect(resolveProtocol(undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe('http/json');
    expect(resolveProtocol(undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toBe('http/protobuf');
    expect(resolveProtocol('http/json', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toBe('http/json');
    expect(() => resolveProtocol('grpc', {})).toThrow(/unsupported OTLP protocol "grpc"/);
  });

  it('a collector is configured by the flag or either endpoint variable', () => {
    expect(endpointConfigured(undefined, {})).toBe(false);
    expect(endpointConfigured(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
    expect(endpointConfigured(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    expect(endpointConfigured('http://c:4318/v1/traces', {})).toBe(true);
  });

  it('URLs are printed without credentials or query strings', () => {
    expect(redactUrl('http://user:secret@c:4318/v1/traces?token=abc')).toBe('http://REDACTED@c:4318/v1/traces');
    expect(redactUrl('::')).toBe('<invalid URL>');
  });
});

describe('exporting in batches', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it.each(['http/protobuf', 'http/json'] as const)('delivers every span over %s, in batches', async (protocol) => {
    receiver.reset();
    const exporter = createOtlpExporter({ url: receiver.tracesUrl, protocol });
    const sent = spans(1200);
    const outcome = await exportInBatches(exporter, sent, { batchSize: 500 });
    await exporter.shutdown();
    expect(outcome).toEqual({ exported: 1200, failed: 0, error: undefined });
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.spans.map((s) => s.spanId))).toEqual(new Set(sent.map((s) => s.spanContext().spanId)));
  });

  it('a collector that refuses the spans is a failure value with the reason', async () => {
    receiver.reset();
    receiver.setBehaviour({ kind: 'status', status: 400 });
    const exporter = createOtlpExporter({ url: receiver.tracesUrl, protocol: 'http/protobuf' });
    const outcome = await exportInBatches(exporter, spans(10));
    await exporter.shutdown();
    receiver.setBehaviour({ kind: 'ok' });
    expect(outcome.exported).toBe(0);
    expect(outcome.failed).toBe(10);
    expect(outcome.error).toBeTruthy();
  });

  it('no collector at all is a failure value, and later batches are not tried', async () => {
    // The exporter retries a refused connection until OTEL_EXPORTER_OTLP_TIMEOUT (10 s by default).
    const saved = process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '1500';
    const exporter = createOtlpExporter({ url: `http://127.0.0.1:${await closedPort()}/v1/traces`, protocol: 'http/protobuf' });
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT; else process.env.OTEL_EXPORTER_OTLP_TIMEOUT = saved;
    const outcome = await exportInBatches(exporter, spans(20), { batchSize: 10, deadlineMillis: 3_000 });
    await exporter.shutdown();
    expect(outcome).toMatchObject({ exported: 0, failed: 20 });
    expect(outcome.error).toMatch(/ECONNREFUSED|timed out|deadline/);
  });

  it('a collector that never answers costs at most the deadline', async () => {
    receiver.reset();
    receiver.setBehaviour({ kind: 'hang' });
    const exporter = createOtlpExporter({ url: receiver.tracesUrl, protocol: 'http/json' });
    const outcome = await exportInBatches(exporter, spans(5), { deadlineMillis: 1_000 });
    receiver.setBehaviour({ kind: 'ok' });
    await exporter.shutdown();
    expect(outcome).toMatchObject({ exported: 0, failed: 5 });
    expect(outcome.error).toMatch(/timed out|deadline/);
  });
});
