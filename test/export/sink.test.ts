// The one sink every command hands its spans to: the same spans arrive over http/protobuf,
// http/json and grpc (checked by receivers that decode with the official schema); a
// collector that refuses, is down or never answers is a value in the report, never an
// exception; over gRPC, retries, the spool, TLS and headers behave as over HTTP.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectingSpanProcessor } from '../../src/export/collect.js';
import { buildResource } from '../../src/export/resource.js';
import { resolveExportSettings, type ExportSettings, type OtlpProtocol } from '../../src/export/settings.js';
import { createSink, type Sink, type SinkOptions } from '../../src/export/sink.js';
import { closedPort } from '../integration/harness.js';
import { decodeOtlpJsonLines, PROJECT_ROOT, type DecodedSpan } from '../support/otlp-decode.js';
import { startOtlpGrpcReceiver, type OtlpGrpcReceiver } from '../support/otlp-grpc-receiver.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { makeTestCerts, type TestCerts } from '../support/test-certs.js';
import { readFile } from 'node:fs/promises';

const SECRET = 'Bearer sink-test-secret-7f3a';

/** A `go build` root with `compile` children, as gostall shapes them. */
function someTrace(children: number): ReadableSpan[] {
  const collector = new CollectingSpanProcessor();
  const provider = new BasicTracerProvider({ resource: buildResource('go', {}), spanProcessors: [collector] });
  const tracer = provider.getTracer('gostall');
  const root = tracer.startSpan('go build', { startTime: [1_795_000_000, 0], attributes: { 'process.pid': 100 } });
  const ctx = trace.setSpan(context.active(), root);
  for (let i = 0; i < children; i++) {
    tracer.startSpan('compile', { startTime: [1_795_000_000, i + 1], attributes: { 'process.pid': 200 + i, 'process.parent_pid': 100 } }, ctx).end([1_795_000_001, i]);
  }
  root.end([1_795_000_002, 0]);
  return collector.drain();
}

function settingsFor(endpoint: string | undefined, protocol: OtlpProtocol, env: NodeJS.ProcessEnv = {}, out?: string): ExportSettings {
  return resolveExportSettings({ flags: { endpoint, protocol, out }, env });
}

async function open(settings: ExportSettings, opts: SinkOptions): Promise<Sink> {
  const r = await createSink(settings, opts);
  if (!r.ok) throw r.error;
  return r.sink;
}

function checkTrace(received: DecodedSpan[], sent: ReadableSpan[]): void {
  expect(received.map((s) => s.spanId).sort()).toEqual(sent.map((s) => s.spanContext().spanId).sort());
  const root = received.find((s) => s.name === 'go build')!;
  expect(root.parentSpanId).toBeUndefined();
  const kids = received.filter((s) => s.name === 'compile');
  expect(kids.every((k) => k.parentSpanId === root.spanId && k.traceId === root.traceId)).toBe(true);
  expect(kids.map((k) => k.attributes['process.parent_pid'])).toEqual(kids.map(() => 100));
  expect(root.resource['service.name']).toBe('go');
  expect(root.resource['telemetry.sdk.language']).toBe('nodejs');
}

let http: OtlpReceiver;
let grpc: OtlpGrpcReceiver;
let dir: string;
beforeAll(async () => {
  http = await startOtlpReceiver();
  grpc = await startOtlpGrpcReceiver();
  dir = await mkdtemp(join(tmpdir(), 'gostall-sink-test-'));
});
afterAll(async () => {
  await http.close();
  await grpc.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the same spans over every protocol', () => {
  for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
    it(`${protocol}: every span arrives with its parent, attributes and the headers; the report says so`, async () => {
      http.reset();
      grpc.reset();
      const url = protocol === 'grpc' ? grpc.url : http.url;
      const sink = await open(settingsFor(url, protocol, { OTEL_EXPORTER_OTLP_HEADERS: `authorization=${encodeURIComponent(SECRET)}` }), { mode: 'memory' });
      const sent = someTrace(700);
      sink.submit(sent);
      const report = await sink.shutdown();
      expect(report).toMatchObject({ exported: sent.length, undelivered: 0, reasons: [] });
      const received = protocol === 'grpc' ? grpc.spans : http.spans;
      checkTrace(received, sent);
      if (protocol === 'grpc') {
        expect(grpc.calls.every((c) => c.metadata.authorization === SECRET)).toBe(true);
      } else {
        expect(http.requests.every((r) => r.headers.authorization === SECRET)).toBe(true);
      }
      expect(sink.target).not.toContain(SECRET);
    });
  }

  it('writes the OTLP JSON lines file, mode 0600, next to the collector', async () => {
    grpc.reset();
    const out = join(dir, 'both.otlp.jsonl');
    const sink = await open(settingsFor(grpc.url, 'grpc', {}, out), { mode: 'memory' });
    const sent = someTrace(3);
    sink.submit(sent);
    const report = await sink.shutdown();
    expect(report.fileSpans).toBe(4);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    checkTrace(decodeOtlpJsonLines(await readFile(out, 'utf8')), sent);
    checkTrace(grpc.spans, sent);
  });
});

describe('a collector that is not there costs the deadline at most, and never throws', () => {
  it('run (memory mode): a refused connection is reported at once as undelivered', async () => {
    for (const protocol of ['http/protobuf', 'grpc'] as const) {
      const sink = await open(settingsFor(`http://127.0.0.1:${await closedPort()}`, protocol), { mode: 'memory', deadlineMillis: 60_000 });
      sink.submit(someTrace(2));
      // Within the test's timeout, far below the 60 s deadline: nobody waits for a collector that is not there.
      const report = await sink.shutdown();
      expect(report.exported).toBe(0);
      expect(report.undelivered).toBe(3);
      expect(report.reasons.join()).toMatch(/collector unavailable/);
    }
  }, 20_000);

  it('a gRPC collector that never answers is given up at the deadline', async () => {
    grpc.reset();
    grpc.setBehaviour({ kind: 'hang' });
    try {
      const sink = await open(settingsFor(grpc.url, 'grpc'), { mode: 'memory', deadlineMillis: 1_000 });
      sink.submit(someTrace(1));
      const report = await sink.shutdown();
      expect(report).toMatchObject({ exported: 0, undelivered: 2 });
    } finally {
      grpc.setBehaviour({ kind: 'ok' });
    }
  });

  it('a process whose gRPC collector never answers ends at the deadline, not at the 30 s request timeout', async () => {
    grpc.setBehaviour({ kind: 'hang' });
    try {
      // A gRPC call cannot be cancelled through the transport and keeps Node alive until it ends:
      // the sink must have kept its deadline within the shutdown's.
      const script = `
        import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
        const { CollectingSpanProcessor } = await import('./dist/src/export/collect.js');
        const { resolveExportSettings } = await import('./dist/src/export/settings.js');
        const { createSink } = await import('./dist/src/export/sink.js');
        const c = new CollectingSpanProcessor();
        new BasicTracerProvider({ spanProcessors: [c] }).getTracer('t').startSpan('x').end();
        const s = resolveExportSettings({ flags: { endpoint: ${JSON.stringify(grpc.url)}, protocol: 'grpc' }, env: { OTEL_EXPORTER_OTLP_TIMEOUT: '30000' } });
        const { sink } = await createSink(s, { mode: 'memory', deadlineMillis: 1000 });
        sink.submit(c.drain());
        console.log(JSON.stringify(await sink.shutdown()));`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      const code = await new Promise((r) => child.once('exit', r));
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ exported: 0, undelivered: 1 });
    } finally {
      grpc.setBehaviour({ kind: 'ok' });
    }
  }, 20_000);

  it('a gRPC status that retrying cannot fix (INVALID_ARGUMENT) is dropped and counted by name', async () => {
    grpc.reset();
    grpc.setBehaviour({ kind: 'status', code: grpcStatus.INVALID_ARGUMENT, times: 1 });
    const sink = await open(settingsFor(grpc.url, 'grpc'), { mode: 'memory' });
    sink.submit(someTrace(1));
    const report = await sink.shutdown();
    expect(report).toMatchObject({ exported: 0, undelivered: 2, reasons: ['2 grpc_invalid_argument'] });
  });
});

describe('gRPC retries and the spool, as over HTTP', () => {
  const quick = { backoffInitialMillis: 50, backoffMaxMillis: 200, batchDelayMillis: 10 };

  for (const code of [grpcStatus.UNAVAILABLE, grpcStatus.RESOURCE_EXHAUSTED] as const) {
    it(`${grpcStatus[code]} is retried and the spans are delivered once`, async () => {
      grpc.reset();
      grpc.setBehaviour({ kind: 'status', code, times: 2 });
      const sink = await open(settingsFor(grpc.url, 'grpc'), { mode: 'memory', retryUntilDeadline: true, deadlineMillis: 10_000, tuning: quick });
      const sent = someTrace(5);
      sink.submit(sent);
      const report = await sink.shutdown();
      expect(report).toMatchObject({ exported: 6, undelivered: 0 });
      expect(grpc.calls.map((c) => c.code)).toEqual([code, code, grpcStatus.OK]);
      expect(sink.stats().failures.get(`grpc_${grpcStatus[code].toLowerCase()}`)).toBe(2);
      checkTrace(grpc.spans, sent);
    });
  }

  it('agent (spool mode): collector down -> spooled on disk -> delivered once when it is back', async () => {
    const receiver = await startOtlpGrpcReceiver();
    const spoolDir = join(dir, 'spool-grpc');
    try {
      await receiver.stop();
      const sink = await open(settingsFor(receiver.url, 'grpc'), { mode: 'spool', spool: { dir: spoolDir, maxBytes: 1024 ** 2 }, tuning: quick });
      const sent = someTrace(4);
      sink.submit(sent);
      await waitFor(() => sink.stats().spoolSpans === 5);
      expect((await readdir(spoolDir)).filter((f) => f.endsWith('.pb'))).toHaveLength(1);
      await receiver.restart();
      await receiver.waitForSpans(5);
      const report = await sink.shutdown(5_000);
      expect(report).toMatchObject({ exported: 5, undelivered: 0, leftInSpool: 0 });
      expect(receiver.spans).toHaveLength(5);
      checkTrace(receiver.spans, sent);
      expect(await readdir(spoolDir)).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});

describe('a spool left by a run with another protocol', () => {
  /** A spool holding one http/json request, left by an agent whose collector was down. */
  async function jsonSpool(name: string): Promise<string> {
    const spoolDir = join(dir, name);
    const down = await open(settingsFor(`http://127.0.0.1:${await closedPort()}`, 'http/json'), { mode: 'spool', spool: { dir: spoolDir, maxBytes: 1024 ** 2 } });
    down.submit(someTrace(1));
    expect(await down.shutdown(0)).toMatchObject({ leftInSpool: 2 });
    return spoolDir;
  }

  it('is sent in its own encoding over HTTP', async () => {
    http.reset();
    const sink = await open(settingsFor(http.url, 'http/protobuf'), { mode: 'spool', spool: { dir: await jsonSpool('spool-json-http'), maxBytes: 1024 ** 2 } });
    expect(await sink.shutdown(5_000)).toMatchObject({ exported: 2, undelivered: 0, leftInSpool: 0 });
    expect(http.requests.map((r) => r.contentType)).toEqual(['application/json']);
  });

  it('JSON bodies cannot go over gRPC: dropped and counted, never sent', async () => {
    grpc.reset();
    const sink = await open(settingsFor(grpc.url, 'grpc'), { mode: 'spool', spool: { dir: await jsonSpool('spool-json-grpc'), maxBytes: 1024 ** 2 } });
    expect(await sink.shutdown(5_000)).toMatchObject({ exported: 0, undelivered: 2, reasons: ['2 grpc_json_body'], leftInSpool: 0 });
    expect(grpc.calls).toEqual([]);
  });
});

describe('gRPC over TLS', () => {
  let certs: TestCerts;
  let tlsReceiver: OtlpGrpcReceiver;
  let mutual: OtlpGrpcReceiver;
  beforeAll(async () => {
    certs = makeTestCerts();
    tlsReceiver = await startOtlpGrpcReceiver({ tls: { key: certs.read('server.key'), cert: certs.read('server.pem') } });
    mutual = await startOtlpGrpcReceiver({ tls: { key: certs.read('server.key'), cert: certs.read('server.pem'), ca: certs.read('ca.pem') } });
  });
  afterAll(async () => {
    await tlsReceiver.close();
    await mutual.close();
    certs.remove();
  });

  it('trusts the collector through OTEL_EXPORTER_OTLP_CERTIFICATE', async () => {
    const sink = await open(settingsFor(tlsReceiver.url, 'grpc', { OTEL_EXPORTER_OTLP_CERTIFICATE: certs.path('ca.pem') }), { mode: 'memory' });
    sink.submit(someTrace(1));
    expect(await sink.shutdown()).toMatchObject({ exported: 2, undelivered: 0 });
  });

  it('does not send to a collector whose certificate it cannot verify', async () => {
    const sink = await open(settingsFor(tlsReceiver.url, 'grpc'), { mode: 'memory', deadlineMillis: 5_000 });
    sink.submit(someTrace(1));
    expect(await sink.shutdown()).toMatchObject({ exported: 0, undelivered: 2 });
  });

  it('presents the client certificate for mutual TLS', async () => {
    const env = {
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: certs.path('ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certs.path('client.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: certs.path('client.key'),
    };
    const sink = await open(settingsFor(mutual.url, 'grpc', env), { mode: 'memory' });
    const sent = someTrace(2);
    sink.submit(sent);
    expect(await sink.shutdown()).toMatchObject({ exported: 3, undelivered: 0 });
    checkTrace(mutual.spans, sent);
  });
});

/** Resolves once cond() holds (polled on the event loop); the test's own timeout bounds it. */
async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}
