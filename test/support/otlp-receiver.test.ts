// The OTLP test receiver and its independent decoder, checked against the real OpenTelemetry
// exporters and the JSON serializer gostall uses for its --out file.
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT, type Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  decodeJsonRequest,
  decodeOtlpJsonLines,
  decodeProtobufRequest,
  loadTraceSchema,
  SPAN_KIND,
  STATUS_CODE,
  type DecodedSpan,
} from './otlp-decode.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

type ExporterConfig = ConstructorParameters<typeof ProtoExporter>[0] & {};

const PROTOCOLS = [
  { protocol: 'http/protobuf', contentType: 'application/x-protobuf', make: (c: ExporterConfig) => new ProtoExporter(c) },
  { protocol: 'http/json', contentType: 'application/json', make: (c: ExporterConfig) => new JsonExporter(c) },
] as const;

const RESOURCE = { 'service.name': 'gostall-receiver-test', 'service.version': '9.9.9', 'host.cpus': 2 };
const PARENT_ATTRS: Attributes = {
  'str.attr': 'hello "world" ✓',
  'int.attr': 42,
  'neg.int.attr': -7,
  'double.attr': 3.25,
  'bool.attr': true,
  'false.attr': false,
  'strs.attr': ['a', 'b', ''],
};
// HrTime inputs are kept exactly by the SDK, so nanoseconds survive end to end.
const T0: [number, number] = [1_700_000_000, 123_456_789];
const T1: [number, number] = [1_700_000_000, 987_654_321];
const T2: [number, number] = [1_700_000_001, 5];
const T3: [number, number] = [1_700_000_002, 999_999_999];
const ns = ([s, n]: [number, number]): bigint => BigInt(s) * 1_000_000_000n + BigInt(n);

/** Creates the parent/child pair through `exporter` and returns their ids. */
function emitPair(exporter: SpanExporter, resource: Record<string, string | number> = RESOURCE) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('receiver-test-scope', '0.0.1');
  const parent = tracer.startSpan('parent op', { kind: SpanKind.SERVER, startTime: T0, attributes: PARENT_ATTRS });
  const child = tracer.startSpan(
    'child op',
    { kind: SpanKind.CLIENT, startTime: T1, attributes: { 'child.only': 'yes', 'ints.attr': [1, 2, 3] } },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.addEvent('something happened', { 'event.n': 5 }, T1);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'went wrong' });
  child.end(T2);
  parent.setStatus({ code: SpanStatusCode.OK });
  parent.end(T3);
  return { provider, parentCtx: parent.spanContext(), childCtx: child.spanContext() };
}

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

/** Finished spans made with an in-memory exporter, for driving exporters and serializers directly. */
function makeSpans(): { spans: ReadableSpan[]; parentId: string; childId: string; traceId: string } {
  const mem = new InMemorySpanExporter();
  const { parentCtx, childCtx } = emitPair(mem);
  return { spans: mem.getFinishedSpans(), parentId: parentCtx.spanId, childId: childCtx.spanId, traceId: parentCtx.traceId };
}

function byName(spans: DecodedSpan[], name: string): DecodedSpan {
  const s = spans.find((x) => x.name === name);
  if (!s) throw new Error(`no span named ${name} in ${spans.map((x) => x.name).join(', ')}`);
  return s;
}

/** The assertions shared by every path a parent/child pair can take. */
function expectPair(spans: DecodedSpan[], ids: { traceId: string; parentId: string; childId: string }): void {
  expect(spans).toHaveLength(2);
  const parent = byName(spans, 'parent op');
  const child = byName(spans, 'child op');
  expect(parent.traceId).toBe(ids.traceId);
  expect(parent.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(child.traceId).toBe(ids.traceId);
  expect(parent.spanId).toBe(ids.parentId);
  expect(parent.spanId).toMatch(/^[0-9a-f]{16}$/);
  expect(child.spanId).toBe(ids.childId);
  expect(parent.parentSpanId).toBeUndefined();
  expect(child.parentSpanId).toBe(parent.spanId);
  expect(parent.kind).toBe(SPAN_KIND.SERVER);
  expect(child.kind).toBe(SPAN_KIND.CLIENT);
  expect(parent.startNs).toBe(ns(T0));
  expect(parent.endNs).toBe(ns(T3));
  expect(child.startNs).toBe(ns(T1));
  expect(child.endNs).toBe(ns(T2));
  expect(parent.attributes).toEqual(PARENT_ATTRS);
  expect(child.attributes).toEqual({ 'child.only': 'yes', 'ints.attr': [1, 2, 3] });
  expect(parent.status).toEqual({ code: STATUS_CODE.OK });
  expect(child.status).toEqual({ code: STATUS_CODE.ERROR, message: 'went wrong' });
  expect(child.events).toEqual([{ name: 'something happened', timeNs: ns(T1), attributes: { 'event.n': 5 } }]);
  for (const s of [parent, child]) {
    expect(s.resource['service.name']).toBe('gostall-receiver-test');
    expect(s.resource['service.version']).toBe('9.9.9');
    expect(s.resource['host.cpus']).toBe(2);
    expect(s.scope).toEqual({ name: 'receiver-test-scope', version: '0.0.1' });
    expect(s.flags & 0xff).toBe(1); // sampled
  }
}

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await receiver.close();
});

describe('schema', () => {
  it('loads the official trace service schema from the copy inside the repository, once', () => {
    const root = loadTraceSchema();
    expect(loadTraceSchema()).toBe(root);
    const span = root.lookupType('opentelemetry.proto.trace.v1.Span');
    expect(span.fields.startTimeUnixNano?.type).toBe('fixed64');
    expect(root.lookupType('opentelemetry.proto.common.v1.AnyValue').oneofs.value).toBeDefined();
  });
});

describe.each(PROTOCOLS)('real $protocol exporter → receiver', ({ contentType, make }) => {
  it('delivers parent and child with attributes, exact times, status and resource', async () => {
    const { provider, parentCtx, childCtx } = emitPair(make({ url: receiver.tracesUrl }));
    await provider.forceFlush();
    const spans = await receiver.waitForSpans(2, 10_000);
    expectPair(spans, { traceId: parentCtx.traceId, parentId: parentCtx.spanId, childId: childCtx.spanId });
    expect(receiver.errors).toEqual([]);
    // SimpleSpanProcessor exports each span on end: one request per span.
    expect(receiver.requests.map((r) => [r.contentType, r.contentEncoding, r.spanCount, r.status])).toEqual([
      [contentType, undefined, 1, 200],
      [contentType, undefined, 1, 200],
    ]);
    expect(receiver.requests[0]!.headers['user-agent']).toMatch(/^OTel-OTLP-Exporter-JavaScript\//);
    await provider.shutdown();
  });

  it('decompresses gzip when the exporter is configured to compress', async () => {
    const { spans, traceId, parentId, childId } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl, compression: 'gzip' as ExporterConfig['compression'] });
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expectPair(receiver.spans, { traceId, parentId, childId });
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.contentEncoding).toBe('gzip');
    expect(receiver.requests[0]!.spanCount).toBe(2);
    await exporter.shutdown();
  });
});

describe('OTLP JSON lines (the --out file format)', () => {
  it('decodes lines written by JsonTraceSerializer.serializeRequest', () => {
    const { spans, traceId, parentId, childId } = makeSpans();
    const line = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans));
    const file = `${line}\n\n${line}\n`;
    const decoded = decodeOtlpJsonLines(file);
    expect(decoded).toHaveLength(4);
    expectPair(decoded.slice(0, 2), { traceId, parentId, childId });
    expectPair(decoded.slice(2), { traceId, parentId, childId });
    expect(decodeOtlpJsonLines('\n  \n')).toEqual([]);
  });

  it('names the line of a bad request', () => {
    const { spans } = makeSpans();
    const line = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans));
    expect(() => decodeOtlpJsonLines(`${line}\n{"resourceSpans": 3}\n`)).toThrow(/^line 2: \$\.resourceSpans: expected an array/);
  });
});

describe('decoders', () => {
  const span = (over: Record<string, unknown> = {}) => ({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [
          {
            scope: { name: 's' },
            spans: [
              {
                traceId: '0123456789abcdef0123456789ABCDEF',
                spanId: '0123456789abcdef',
                parentSpanId: '',
                name: 'n',
                kind: 1,
                startTimeUnixNano: '1700000000123456789',
                endTimeUnixNano: 1_700_000_001_000,
                attributes: [
                  { key: 'i', value: { intValue: '9007199254740993' } },
                  { key: 'j', value: { intValue: 12 } },
                  { key: 'd', value: { doubleValue: 'NaN' } },
                  { key: 'a', value: { arrayValue: { values: [{ boolValue: true }, { stringValue: 'x' }] } } },
                ],
                status: { code: 'STATUS_CODE_ERROR', message: 'm' },
                ...over,
              },
            ],
          },
        ],
      },
    ],
  });

  it('accepts the OTLP/JSON variants: string/number int64s, enum names, upper-case hex', () => {
    const [s] = decodeJsonRequest(JSON.stringify(span()));
    expect(s).toMatchObject({
      traceId: '0123456789abcdef0123456789abcdef',
      parentSpanId: undefined,
      kind: 1,
      startNs: 1_700_000_000_123_456_789n,
      endNs: 1_700_000_001_000n,
      attributes: { i: '9007199254740993', j: 12, d: NaN, a: [true, 'x'] },
      status: { code: 2, message: 'm' },
      resource: { 'service.name': 'svc' },
    });
  });

  it('rejects malformed JSON requests with the path of the problem', () => {
    const bad = (over: Record<string, unknown>) => () => decodeJsonRequest(JSON.stringify(span(over)));
    expect(bad({ traceId: 'xyz' })).toThrow(/spans\[0\]\.traceId: expected hex digits/);
    expect(bad({ spanId: '0011' })).toThrow(/spans\[0\]\.spanId: expected 8 bytes, got 2/);
    expect(bad({ traceId: '0'.repeat(32) })).toThrow(/all zeros/);
    expect(bad({ trace_id: 'ab' })).toThrow(/unknown field "trace_id" in Span/);
    expect(bad({ startTimeUnixNano: '1.5' })).toThrow(/startTimeUnixNano: expected a 64-bit integer/);
    expect(bad({ attributes: [{ key: 'k', value: { stringValue: 'a', intValue: 1 } }] })).toThrow(/oneof value/);
    expect(bad({ attributes: [{ key: 'k', value: {} }] })).toThrow(/empty AnyValue/);
    expect(bad({ attributes: [{ key: 'k', value: { stringValue: 1 } }] })).toThrow(/stringValue: expected a string/);
    expect(bad({ kind: 'SERVER' })).toThrow(/kind: expected an integer or a SpanKind name/);
    expect(bad({ kind: 'toString' })).toThrow(/kind: expected an integer or a SpanKind name/);
    expect(bad({ constructor: 1 })).toThrow(/unknown field "constructor"/);
    expect(() => decodeJsonRequest('{')).toThrow(/invalid JSON/);
    // the spec's receiver behaviour is available too
    expect(decodeJsonRequest(JSON.stringify(span({ futureField: 1 })), { unknownFields: 'ignore' })).toHaveLength(1);
  });

  it('decodes protobuf from the transformer, rejects it truncated, accepts an empty request', () => {
    const { spans, traceId, parentId, childId } = makeSpans();
    const body = ProtobufTraceSerializer.serializeRequest(spans)!;
    expectPair(decodeProtobufRequest(body), { traceId, parentId, childId });
    expect(() => decodeProtobufRequest(body.subarray(0, body.length - 3))).toThrow(/invalid OTLP protobuf/);
    expect(decodeProtobufRequest(new Uint8Array())).toEqual([]);
  });
});

describe('receiver HTTP handling', () => {
  it('answers bad bodies with 400, unknown media types with 415, and records why', async () => {
    const post = (body: BodyInit, headers: Record<string, string>, path = '/v1/traces') =>
      fetch(receiver.url + path, { method: 'POST', body, headers });
    let r = await post('not json', { 'Content-Type': 'application/json' });
    expect(r.status).toBe(400);
    r = await post(Uint8Array.from([0x0a, 0x10, 0x01]), { 'Content-Type': 'application/x-protobuf' });
    expect(r.status).toBe(400);
    r = await post('x', { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' });
    expect(r.status).toBe(400);
    r = await post('{}', { 'Content-Type': 'text/plain' });
    expect(r.status).toBe(415);
    r = await post('{}', { 'Content-Type': 'application/json' }, '/v1/metrics');
    expect(r.status).toBe(404);
    expect(receiver.errors).toHaveLength(5);
    expect(receiver.errors[0]).toMatch(/invalid JSON/);
    expect(receiver.errors[1]).toMatch(/invalid OTLP protobuf/);
    expect(receiver.errors[2]).toMatch(/bad gzip body/);
    // a good, gzipped, charset-qualified JSON body
    r = await post(gzipSync('{"resourceSpans":[]}'), {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Encoding': 'gzip',
    });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('{}');
    expect(receiver.requests.map((x) => x.status)).toEqual([400, 400, 400, 415, 404, 200]);
  });

  it('listens on 127.0.0.1 only', () => {
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(receiver.tracesUrl).toBe(`${receiver.url}/v1/traces`);
  });
});

describe.each(PROTOCOLS)('failure behaviours with the real $protocol exporter', ({ make }) => {
  it('a 503 makes the export fail after the exporter retries (Retry-After: 0 → immediate retries)', async () => {
    receiver.setBehaviour({ kind: 'status', status: 503, retryAfterSeconds: 0 });
    const { spans } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl });
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    // one attempt plus five retries, all refused; nothing accepted
    expect(receiver.requests.map((r) => r.status)).toEqual(Array(6).fill(503));
    expect(receiver.requests.every((r) => r.spanCount === 2)).toBe(true);
    expect(receiver.spans).toEqual([]);
    await exporter.shutdown();
  });

  it('a 503 without Retry-After: backoff retries until the export timeout, then failure', async () => {
    receiver.setBehaviour({ kind: 'status', status: 503 });
    const { spans } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl, timeoutMillis: 2_000 });
    const t0 = Date.now();
    const result = await exportOnce(exporter, spans);
    const took = Date.now() - t0;
    expect(result.code).toBe(ExportResultCode.FAILED);
    // backoff ~1s (±20%) then ~1.5s: the second retry never fits in 2s
    expect(receiver.requests.length).toBe(2);
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(2_000);
    await exporter.shutdown();
  });

  it('a 429 with Retry-After once: the exporter waits that long and succeeds', async () => {
    receiver.setBehaviour({ kind: 'status', status: 429, retryAfterSeconds: 1, times: 1 });
    const { spans, traceId, parentId, childId } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl });
    const t0 = Date.now();
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(receiver.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expectPair(receiver.spans, { traceId, parentId, childId });
    await exporter.shutdown();
  });

  it('a 400 is not retried', async () => {
    receiver.setBehaviour({ kind: 'status', status: 400 });
    const { spans } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl });
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests).toHaveLength(1);
    await exporter.shutdown();
  });

  it('hang: the request stays unanswered until the behaviour changes', async () => {
    receiver.setBehaviour({ kind: 'hang' });
    const { spans, traceId, parentId, childId } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl, timeoutMillis: 5_000 });
    let settled = false;
    const pending = exportOnce(exporter, spans).finally(() => (settled = true));
    await receiver.waitForRequests(1, 5_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    expect(receiver.requests[0]!.status).toBeUndefined();
    receiver.setBehaviour({ kind: 'ok' });
    expect((await pending).code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests.map((r) => r.status)).toEqual([200]);
    expectPair(receiver.spans, { traceId, parentId, childId });
    await exporter.shutdown();
  });

  it('hang past the exporter timeout: the export fails and the abandoned request is not counted', async () => {
    receiver.setBehaviour({ kind: 'hang' });
    const { spans } = makeSpans();
    const exporter = make({ url: receiver.tracesUrl, timeoutMillis: 500 });
    const t0 = Date.now();
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/timed out/i);
    expect(Date.now() - t0).toBeLessThan(2_000);
    // the server notices the client's socket closing…
    await vi.waitFor(() => expect(receiver.requests[0]!.error).toMatch(/client went away/), { timeout: 2_000 });
    // …and does not count the abandoned request once it stops hanging
    receiver.setBehaviour({ kind: 'ok' });
    expect(receiver.spans).toEqual([]);
    expect(receiver.requests[0]!.status).toBeUndefined();
    await exporter.shutdown();
  });
});

describe('stop() and restart()', () => {
  it('go down and come back on the same port, keeping what was received', async () => {
    const { spans } = makeSpans();
    const exporter = new ProtoExporter({ url: receiver.tracesUrl, timeoutMillis: 600 });
    expect((await exportOnce(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const port = receiver.port;

    await receiver.stop();
    expect(receiver.listening).toBe(false);
    // the exporter's keep-alive socket was destroyed; new connections are refused
    const down = await exportOnce(exporter, spans);
    expect(down.code).toBe(ExportResultCode.FAILED);
    expect(receiver.spans).toHaveLength(2);

    await receiver.restart();
    expect(receiver.listening).toBe(true);
    expect(receiver.port).toBe(port);
    expect((await exportOnce(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.spans).toHaveLength(4);
    expect(receiver.requests).toHaveLength(2);
    await exporter.shutdown();
  });

  it('an outage shorter than the retry backoff is bridged by the exporter', async () => {
    const { spans } = makeSpans();
    const exporter = new JsonExporter({ url: receiver.tracesUrl }); // default 10s timeout
    await receiver.stop();
    const pending = exportOnce(exporter, spans);
    await new Promise((r) => setTimeout(r, 300));
    await receiver.restart();
    expect((await pending).code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.spans).toHaveLength(2);
    await exporter.shutdown();
  });

  it('stop() cuts connections that are hanging', async () => {
    receiver.setBehaviour({ kind: 'hang' });
    const pending = fetch(receiver.tracesUrl, {
      method: 'POST',
      body: '{"resourceSpans":[]}',
      headers: { 'Content-Type': 'application/json' },
    });
    await receiver.waitForRequests(1, 5_000);
    await receiver.stop();
    await expect(pending).rejects.toThrow();
    expect(receiver.requests[0]!.error).toMatch(/receiver stopped/);
    await receiver.restart();
    // the behaviour survives stop()/restart(); back to answering
    receiver.setBehaviour({ kind: 'ok' });
    const r = await fetch(receiver.tracesUrl, {
      method: 'POST',
      body: '{}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(200);
  });

  it('can start on a chosen port', async () => {
    const port = receiver.port;
    await receiver.close();
    receiver = await startOtlpReceiver({ port });
    expect(receiver.port).toBe(port);
  });
});
