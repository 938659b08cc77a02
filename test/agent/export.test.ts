// Export that loses nothing it does not account for, against a real OTLP/HTTP receiver
// and a real spool directory: 429 with Retry-After is honoured, 503 and a hanging
// collector spool and replay in order, 400 is dropped and counted with its reason, the
// disk quota evicts the oldest and counts it, and a spool left by one run is sent by the next.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceFlags } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newSpanId, newTraceId } from '../../src/pipeline/span-ids.js';
import { makeLiveSpan } from '../support/live-span.js';
import { createHttpTransport, parseRetryAfter } from '../../src/export/http-send.js';
import { createReliableExporter, type ReliableExporter } from '../../src/export/reliable.js';
import { openSpool } from '../../src/export/spool.js';
import { createFixedClock } from '../../src/model/clock.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { sleep } from './support.js';

const clock = createFixedClock(1_700_000_000e9);
const resource = resourceFromAttributes({ 'service.name': 'export-test' });

/** n spans, each with its sequence number as an attribute so order can be checked. */
function spans(n: number, from = 0): ReadableSpan[] {
  const parent = { traceId: newTraceId(), spanId: newSpanId(), traceFlags: TraceFlags.SAMPLED };
  return Array.from({ length: n }, (_, i) => makeLiveSpan({
    name: 'test span', parent, startNs: (from + i) * 1e6, endNs: (from + i) * 1e6 + 1000, attributes: { seq: from + i }, resource, clock,
  }));
}

let receiver: OtlpReceiver;
let dir: string;
let exporter: ReliableExporter | undefined;
const logs: string[] = [];

beforeAll(async () => { receiver = await startOtlpReceiver(); });
afterAll(async () => { await receiver.close(); });
beforeEach(async () => {
  receiver.reset();
  receiver.setBehaviour({ kind: 'ok' });
  dir = await mkdtemp(join(tmpdir(), 'gostall-spool-test-'));
  logs.length = 0;
});
afterEach(async () => {
  await exporter?.shutdown(1_000).catch(() => {});
  exporter = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function create(opts: { maxBytes?: number; timeoutMillis?: number; kind?: 'pb' | 'json'; batchMaxSpans?: number } = {}) {
  const spool = await openSpool({ dir: join(dir, 'spool'), maxBytes: opts.maxBytes ?? 64 * 1024 * 1024 });
  exporter = createReliableExporter({
    transport: createHttpTransport({ url: receiver.tracesUrl, headers: { 'x-test': 'yes' }, timeoutMillis: opts.timeoutMillis ?? 2_000, compression: 'none' }),
    spool, kind: opts.kind ?? 'pb', batchMaxSpans: opts.batchMaxSpans ?? 50, batchDelayMillis: 20, memoryLimitBytes: 8 * 1024 * 1024,
    backoffInitialMillis: 100, backoffMaxMillis: 400, maxRetryAfterMillis: 5_000, log: (l) => logs.push(l),
  });
  const ex = exporter;
  return { spool, exporter, evicted: () => ex.stats.dropped.get('spool_full') ?? 0 };
}

const seqs = (): number[] => receiver.spans.map((s) => Number(s.attributes.seq));

describe('reliable OTLP export', () => {
  it('delivers everything in order when the collector is healthy (protobuf and JSON)', async () => {
    for (const kind of ['pb', 'json'] as const) {
      receiver.reset();
      const { exporter: ex } = await create({ kind });
      ex.export(spans(120));
      await receiver.waitForSpans(120);
      expect(seqs()).toEqual(Array.from({ length: 120 }, (_, i) => i));
      expect(receiver.requests.every((r) => r.headers['x-test'] === 'yes')).toBe(true);
      expect(receiver.requests[0]!.contentType).toBe(kind === 'pb' ? 'application/x-protobuf' : 'application/json');
      await ex.shutdown(2_000);
      expect(ex.stats.exported).toBe(120);
      exporter = undefined;
      await rm(join(dir, 'spool'), { recursive: true, force: true });
    }
  });

  it('honours Retry-After on 429 and then delivers every span once', async () => {
    const { exporter: ex } = await create();
    receiver.setBehaviour({ kind: 'status', status: 429, retryAfterSeconds: 2, times: 1 });
    ex.export(spans(10));
    await receiver.waitForSpans(10, 15_000);
    const [refused, accepted] = receiver.requests;
    expect(refused!.status).toBe(429);
    expect(accepted!.status).toBe(200);
    // The retry waited as long as the collector asked (a lower bound, not a speed claim).
    expect(accepted!.at - refused!.at).toBeGreaterThanOrEqual(1_900);
    expect(seqs()).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(ex.stats.failures.get('http_429')).toBe(1);
    expect(ex.stats.dropped.size).toBe(0);
  });

  it('spools while the collector answers 503 and replays in order when it recovers', async () => {
    const { exporter: ex, spool } = await create();
    receiver.setBehaviour({ kind: 'status', status: 503 });
    ex.export(spans(50));
    await receiver.waitForRequests(1);
    for (let i = 1; i < 6; i++) { ex.export(spans(50, i * 50)); await sleep(30); }
    await sleep(300);
    expect(spool.spans()).toBe(300);
    expect(ex.stats.backingOff).toBe(true);
    // The spool is private: spans hold command lines and paths.
    expect((await stat(spool.dir)).mode & 0o777).toBe(0o700);
    for (const f of await readdir(spool.dir)) expect((await stat(join(spool.dir, f))).mode & 0o777).toBe(0o600);
    receiver.setBehaviour({ kind: 'ok' });
    await receiver.waitForSpans(300, 15_000);
    expect(seqs()).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await sleep(100);
    expect(spool.count()).toBe(0);
    expect(ex.stats.exported).toBe(300);
    expect(ex.stats.spooled).toBe(300);
    expect(ex.stats.failures.get('http_503')).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => /collector unavailable \(http_503\)/.test(l))).toBe(true);
    expect(logs.some((l) => /collector is back/.test(l))).toBe(true);
  });

  it('drops what the collector refuses for good (400), counts it with the reason, and carries on', async () => {
    const { exporter: ex } = await create({ batchMaxSpans: 10 });
    receiver.setBehaviour({ kind: 'status', status: 400, times: 1 });
    ex.export(spans(10));
    await receiver.waitForRequests(1);
    ex.export(spans(10, 10));
    await receiver.waitForSpans(10);
    await sleep(100);
    expect(ex.stats.dropped.get('http_400')).toBe(10);
    expect(ex.stats.exported).toBe(10);
    expect(seqs()).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
  });

  it('treats a collector that never answers as down: times out, spools, and delivers once it answers', async () => {
    const { exporter: ex } = await create({ timeoutMillis: 500 });
    receiver.setBehaviour({ kind: 'hang' });
    ex.export(spans(20));
    await receiver.waitForRequests(2, 10_000);
    expect(ex.stats.failures.get('timeout')).toBeGreaterThanOrEqual(1);
    receiver.setBehaviour({ kind: 'ok' });
    await receiver.waitForSpans(20, 15_000);
    await sleep(300);
    // Requests the client gave up on are not answered late, so nothing arrives twice.
    expect(new Set(receiver.spans.map((s) => s.spanId)).size).toBe(receiver.spans.length);
    expect(receiver.spans.length).toBe(20);
  });

  it('keeps within the disk quota by evicting the oldest requests, and counts every span it lost', async () => {
    const { exporter: ex, spool, evicted } = await create({ maxBytes: 20_000, batchMaxSpans: 20 });
    receiver.setBehaviour({ kind: 'status', status: 503 });
    for (let i = 0; i < 20; i++) { ex.export(spans(20, i * 20)); await sleep(25); }
    await sleep(300);
    expect(spool.bytes()).toBeLessThanOrEqual(20_000);
    expect(evicted()).toBeGreaterThan(0);
    receiver.setBehaviour({ kind: 'ok' });
    const r = await ex.shutdown(10_000);
    exporter = undefined;
    // Delivered + evicted accounts for every span: nothing vanished without a count.
    expect(receiver.spans.length + evicted()).toBe(400);
    expect(r.leftInSpool).toBe(0);
    // What survived is the newest, still in order.
    const got = seqs();
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(got.at(-1)).toBe(399);
  });

  it('leaves undelivered spans in the spool at shutdown, and the next run sends them first', async () => {
    const first = await create();
    receiver.setBehaviour({ kind: 'status', status: 503 });
    first.exporter.export(spans(30));
    await receiver.waitForRequests(1);
    const r = await first.exporter.shutdown(500);
    exporter = undefined;
    expect(r.leftInSpool).toBe(30);
    // A temporary file from a crash in the middle of a write is cleaned up, not sent.
    await writeFile(join(first.spool.dir, '.tmp-000000000000099-5.pb'), 'partial');
    receiver.reset();
    receiver.setBehaviour({ kind: 'ok' });
    const second = await create();
    expect(second.spool.spans()).toBe(30);
    second.exporter.export(spans(5, 30));
    await receiver.waitForSpans(35, 10_000);
    expect(seqs()).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect((await readdir(second.spool.dir)).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7_000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
