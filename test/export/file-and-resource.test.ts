// The --out file is OTLP JSON lines the Collector's otlpjsonfile receiver reads, private to
// its owner; the resource says who ran where, honouring the standard OTEL_* variables.
import { execFileSync } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectingSpanProcessor } from '../../src/export/collect.js';
import { openOtlpJsonFile } from '../../src/export/file.js';
import { buildResource } from '../../src/export/resource.js';
import { resolveResourceSettings } from '../../src/export/settings.js';
import { decodeOtlpJsonLines } from '../support/otlp-decode.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-file-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Two spans, parent and child, with explicit times (ns precision) and a resource from env. */
async function someSpans(env: NodeJS.ProcessEnv = {}): Promise<ReadableSpan[]> {
  const collector = new CollectingSpanProcessor();
  const provider = new BasicTracerProvider({ resource: buildResource('go', env), spanProcessors: [collector] });
  const tracer = provider.getTracer('gostall');
  const { context, trace } = await import('@opentelemetry/api');
  const parent = tracer.startSpan('go build', { startTime: [1_795_000_000, 123_456_789], attributes: { 'process.pid': 7, 'process.command_args': ['go', 'build'] } });
  const child = tracer.startSpan('compile', { startTime: [1_795_000_000, 200_000_001] }, trace.setSpan(context.active(), parent));
  child.end([1_795_000_001, 1]);
  parent.end([1_795_000_002, 999_999_999]);
  const spans = collector.drain();
  await provider.shutdown();
  return spans;
}

describe('the OTLP JSON lines file', () => {
  it('holds one ExportTraceServiceRequest per write, with ids, parents and nanosecond times intact', async () => {
    const path = join(dir, 'a.jsonl');
    const f = await openOtlpJsonFile(path);
    const first = await someSpans();
    const second = await someSpans();
    await f.write(first);
    await f.write([]); // nothing to write: no empty line either
    await f.write(second);
    await f.close();
    const text = await readFile(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().split('\n')).toHaveLength(2);
    const decoded = decodeOtlpJsonLines(text);
    expect(decoded.map((s) => s.spanId)).toEqual([...first, ...second].map((s) => s.spanContext().spanId));
    const parent = decoded.find((s) => s.name === 'go build')!;
    const child = decoded.find((s) => s.name === 'compile' && s.traceId === parent.traceId)!;
    expect(child.parentSpanId).toBe(parent.spanId);
    expect(parent.startNs).toBe(1_795_000_000_123_456_789n);
    expect(child.endNs).toBe(1_795_000_001_000_000_001n);
    expect(parent.attributes['process.command_args']).toEqual(['go', 'build']);
  });

  it('is created with mode 0600', async () => {
    const path = join(dir, 'new.jsonl');
    const f = await openOtlpJsonFile(path);
    await f.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('an existing world-readable file becomes private and keeps its earlier lines', async () => {
    const path = join(dir, 'existing.jsonl');
    await writeFile(path, '', { mode: 0o644 });
    const f = await openOtlpJsonFile(path);
    await f.write(await someSpans());
    await f.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(decodeOtlpJsonLines(await readFile(path, 'utf8'))).toHaveLength(2);
  });

  it('leaves a pipe named as the file as it is (a device or a FIFO is not the trace\'s to make private)', async () => {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '0644', path]);
    // a reader, so opening the FIFO for appending does not wait
    const reader = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const f = await openOtlpJsonFile(path);
      await f.write(await someSpans());
      await f.close();
      expect((await stat(path)).mode & 0o777).toBe(0o644);
      expect(decodeOtlpJsonLines((await reader.readFile()).toString('utf8'))).toHaveLength(2);
    } finally {
      await reader.close();
    }
  });
});

describe('the resource', () => {
  it('names the service after the root executable by default, with host and OS', async () => {
    const [span] = await someSpans({});
    expect(span!.resource.attributes).toMatchObject({ 'service.name': 'go', 'host.name': hostname(), 'os.type': 'linux' });
  });

  it('OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES, which wins over the default', async () => {
    const both = (await someSpans({ OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr' }))[0]!;
    expect(both.resource.attributes['service.name']).toBe('svc');
    const attrOnly = (await someSpans({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr' }))[0]!;
    expect(attrOnly.resource.attributes['service.name']).toBe('attr');
  });

  it('OTEL_RESOURCE_ATTRIBUTES: comma-separated, values percent-decoded; a malformed list is an error naming the variable', () => {
    expect(resolveResourceSettings({ OTEL_RESOURCE_ATTRIBUTES: 'a=1, b = two%20words ,c=%E2%9C%93' }).attributes).toEqual({
      a: '1', b: 'two words', c: '✓',
    });
    expect(resolveResourceSettings({}).attributes).toEqual({});
    for (const bad of ['novalue', '=nokey', 'd=100%']) {
      expect(() => resolveResourceSettings({ OTEL_RESOURCE_ATTRIBUTES: bad })).toThrow(/^OTEL_RESOURCE_ATTRIBUTES: /);
    }
  });

  it('says which SDK made the spans and which gostall: telemetry.sdk.*, telemetry.distro.*, service.version', async () => {
    const [span] = await someSpans({});
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const sdkVersion = (JSON.parse(readFileSync(new URL('../../node_modules/@opentelemetry/core/package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(span!.resource.attributes).toMatchObject({
      'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.version': sdkVersion,
      'telemetry.distro.name': 'gostall', 'telemetry.distro.version': version, 'service.version': version,
    });
  });
});
