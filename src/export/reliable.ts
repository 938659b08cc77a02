/**
 * Export that loses nothing it does not account for. Spans are batched, serialized once
 * with @opentelemetry/otlp-transformer, numbered, and sent one request at a time (in
 * order) through a Transport (OTLP/HTTP or OTLP/gRPC). While the collector is down, slow or answering
 * 429/5xx, requests go to the on-disk spool and are replayed in sequence order once it
 * answers again, honouring Retry-After. Requests the collector refuses for good (4xx other
 * than 408/429) are dropped and counted by reason; so is anything the memory or disk
 * limits cannot hold. Counters live in `stats` for the agent's /metrics.
 *
 * (A little over 300 lines: the queue, the pump and the shutdown share their state — memory,
 * spool heads, pause — and splitting them would pass it all around.)
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { BodyKind, SendOutcome, Transport } from './transport.js';
import type { Spool, SpoolEntry } from './spool.js';

export interface ExportStats {
  /** spans handed to export() */
  accepted: number;
  /** spans the collector acknowledged */
  exported: number;
  /** spans written to the spool (each at most once) */
  spooled: number;
  /** spans lost, by reason (http_400, spool_full, memory_limit, rejected_by_collector, …) */
  dropped: Map<string, number>;
  /** failed request attempts, by reason (http_503, timeout, econnrefused, …) */
  failures: Map<string, number>;
  /** requests sent again after a retryable failure */
  retries: number;
  /** whether the last attempt failed with a retryable error (collector considered down) */
  backingOff: boolean;
}

export interface ReliableExporterOptions {
  transport: Transport;
  spool: Spool;
  kind: BodyKind;
  batchMaxSpans: number;
  batchDelayMillis: number;
  memoryLimitBytes: number;
  backoffInitialMillis: number;
  backoffMaxMillis: number;
  maxRetryAfterMillis: number;
  /** one line per state change (collector down / back, drops); never per span */
  log?: (line: string) => void;
}

export interface ReliableExporter {
  stats: ExportStats;
  /** Queue spans; never blocks and never throws. */
  export(spans: ReadableSpan[]): void;
  /**
   * Deliver what is queued until the deadline, then write what is left to the spool (it is
   * sent by the next run). Resolves with the spans neither delivered nor spooled (lost).
   */
  shutdown(deadlineMillis: number): Promise<{ delivered: number; leftInSpool: number }>;
  /** Send what is batched now, and wait (at most deadlineMillis) until the queue is empty or the collector is down. */
  flush(deadlineMillis: number): Promise<void>;
  /** spans queued in memory (batched or serialized, not yet sent) */
  memorySpans(): number;
  memoryBytes(): number;
}

interface Body {
  seq: number;
  bytes: Uint8Array;
  spans: number;
}

const DROP_LOG_MILLIS = 10_000;

const bump = (m: Map<string, number>, k: string, n = 1): void => {
  m.set(k, (m.get(k) ?? 0) + n);
};

export function createReliableExporter(opts: ReliableExporterOptions): ReliableExporter {
  const { transport, spool } = opts;
  const log = opts.log ?? (() => {});
  const stats: ExportStats = {
    accepted: 0, exported: 0, spooled: 0, dropped: new Map(), failures: new Map(), retries: 0, backingOff: false,
  };
  let seq = spool.maxSeqAtOpen;
  let batch: ReadableSpan[] = [];
  let batchTimer: NodeJS.Timeout | undefined;
  const memory: Body[] = [];
  let memBytes = 0;
  let memSpans = 0;
  let pausedUntil = 0;
  let backoffMillis = opts.backoffInitialMillis;
  let pumping = false;
  let wake: (() => void) | undefined;
  let stopping = false;
  /** set by shutdown(): a retry due after it will not happen, so the pump stops instead of waiting for it */
  let deadlineAt: number | undefined;
  let downSince: number | undefined;
  let spooledWhileDown = 0;

  // Evicted to stay within the disk quota: lost, and counted as such.
  spool.onEvict = (e) => drop('spool_full', e.spans);

  const serialize = (spans: ReadableSpan[]): Uint8Array | undefined =>
    opts.kind === 'pb' ? ProtobufTraceSerializer.serializeRequest(spans) : JsonTraceSerializer.serializeRequest(spans);

  /** Drops are counted at once and logged at most every DROP_LOG_MILLIS per reason, summed. */
  const dropLog = new Map<string, { at: number; unlogged: number }>();
  function drop(reason: string, spans: number): void {
    if (spans <= 0) return;
    bump(stats.dropped, reason, spans);
    const d = dropLog.get(reason) ?? { at: 0, unlogged: 0 };
    d.unlogged += spans;
    if (Date.now() - d.at >= DROP_LOG_MILLIS) {
      log(`dropped ${d.unlogged} spans: ${reason}`);
      d.at = Date.now();
      d.unlogged = 0;
    }
    dropLog.set(reason, d);
  }

  async function toSpool(b: Body): Promise<void> {
    const r = await spool.append(b.bytes, { seq: b.seq, spans: b.spans, kind: opts.kind });
    if (r.ok) {
      stats.spooled += b.spans;
      spooledWhileDown += b.spans;
    } else {
      drop(r.reason, b.spans);
    }
  }

  /** A serialized request joins the queue: in memory while the collector keeps up, else on disk. */
  function enqueue(b: Body): void {
    if (!stats.backingOff && !stopping && memBytes + b.bytes.byteLength <= opts.memoryLimitBytes) {
      memory.push(b);
      memBytes += b.bytes.byteLength;
      memSpans += b.spans;
    } else {
      void toSpool(b).then(pump);
    }
    pump();
  }

  function flushBatch(): void {
    if (batchTimer) { clearTimeout(batchTimer); batchTimer = undefined; }
    if (batch.length === 0) return;
    const spans = batch;
    batch = [];
    let bytes: Uint8Array | undefined;
    try {
      bytes = serialize(spans);
    } catch {
      bytes = undefined;
    }
    if (!bytes) {
      drop('serialization_failed', spans.length);
      return;
    }
    enqueue({ seq: ++seq, bytes, spans: spans.length });
  }

  /** Move every in-memory request to the spool (collector down, or shutting down). */
  async function spillMemory(): Promise<void> {
    const all = memory.splice(0);
    memBytes = 0;
    memSpans = 0;
    await Promise.all(all.map((b) => toSpool(b)));
  }

  function sleepUntil(t: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { wake = undefined; resolve(); }, Math.max(0, t - Date.now()));
      wake = () => { clearTimeout(timer); wake = undefined; resolve(); };
    });
  }

  /** The oldest request anywhere: memory and spool are both ordered, so compare heads. */
  function next(): { mem: Body } | { disk: SpoolEntry } | undefined {
    const m = memory[0];
    const d = spool.oldest();
    if (m && (!d || m.seq < d.seq)) return { mem: m };
    if (d) return { disk: d };
    return undefined;
  }

  function onRetryable(o: Extract<SendOutcome, { kind: 'retryable' }>): void {
    bump(stats.failures, o.reason);
    const wait = o.retryAfterMillis !== undefined
      ? Math.min(o.retryAfterMillis, opts.maxRetryAfterMillis)
      : backoffMillis * (0.8 + Math.random() * 0.4);
    if (!stats.backingOff) {
      downSince = Date.now();
      spooledWhileDown = 0;
      log(`collector unavailable (${o.reason}); spooling to ${spool.dir}, retrying in ${Math.round(wait)} ms`);
    }
    stats.backingOff = true;
    pausedUntil = Date.now() + wait;
    if (o.retryAfterMillis === undefined) backoffMillis = Math.min(backoffMillis * 2, opts.backoffMaxMillis);
  }

  function onDelivered(): void {
    if (stats.backingOff) {
      log(`collector is back after ${Math.round((Date.now() - (downSince ?? Date.now())) / 1000)} s; replaying ${spooledWhileDown} spooled spans`);
    }
    stats.backingOff = false;
    backoffMillis = opts.backoffInitialMillis;
  }

  async function pumpLoop(): Promise<void> {
    for (;;) {
      const item = next();
      // Nothing queued (spool appends still being written call pump() when they land).
      if (!item) return;
      if (Date.now() < pausedUntil) {
        if (stopping || (deadlineAt !== undefined && pausedUntil >= deadlineAt)) return;
        await sleepUntil(pausedUntil);
        continue;
      }
      let body: Uint8Array;
      let spans: number;
      if ('mem' in item) {
        body = item.mem.bytes;
        spans = item.mem.spans;
      } else {
        spool.setBusy(item.disk);
        try {
          body = await spool.read(item.disk);
        } catch {
          await spool.remove(item.disk);
          drop('spool_read_error', item.disk.spans);
          continue;
        }
        spans = item.disk.spans;
      }
      // A spool left by a run with another protocol keeps its encoding: it says how to send it.
      const outcome = await transport.send(body, 'disk' in item ? item.disk.kind : opts.kind);
      const wasRetry = stats.backingOff;
      if (outcome.kind === 'retryable') {
        onRetryable(outcome);
        if ('disk' in item) spool.setBusy(undefined);
        else await spillMemory();
        if (stopping) return;
        continue;
      }
      if (wasRetry) stats.retries++;
      if ('mem' in item) {
        memory.shift();
        memBytes -= item.mem.bytes.byteLength;
        memSpans -= item.mem.spans;
      } else {
        await spool.remove(item.disk);
      }
      if (outcome.kind === 'success') {
        onDelivered();
        stats.exported += spans - outcome.rejectedSpans;
        if (outcome.rejectedSpans > 0) drop('rejected_by_collector', outcome.rejectedSpans);
      } else {
        // The collector answered, so it is up; this body will never be accepted.
        onDelivered();
        bump(stats.failures, outcome.reason);
        drop(outcome.reason, spans);
      }
    }
  }

  let loop: Promise<void> | undefined;
  function pump(): void {
    if (pumping) return;
    pumping = true;
    loop = pumpLoop().finally(() => { pumping = false; });
  }

  return {
    stats,
    export(spans) {
      if (spans.length === 0) return;
      stats.accepted += spans.length;
      if (stopping) {
        drop('after_shutdown', spans.length);
        return;
      }
      for (const s of spans) {
        batch.push(s);
        if (batch.length >= opts.batchMaxSpans) flushBatch();
      }
      if (batch.length > 0 && !batchTimer) {
        batchTimer = setTimeout(flushBatch, opts.batchDelayMillis);
        batchTimer.unref();
      }
    },
    async shutdown(deadlineMillis) {
      const before = stats.exported;
      const deadline = Date.now() + deadlineMillis;
      deadlineAt = deadline;
      transport.setDeadline?.(deadline);
      wake?.();
      flushBatch();
      const guard = setTimeout(() => { stopping = true; transport.abort(); wake?.(); }, deadlineMillis);
      try {
        // Deliver until the queue is empty, or the deadline stops the pump; a collector that
        // will not be tried again before the deadline is not waited for.
        while (!stopping) {
          if (stats.backingOff && pausedUntil >= deadline) break;
          pump();
          await loop;
          await spool.idle();
          if (memory.length === 0 && spool.count() === 0) break;
        }
      } finally {
        clearTimeout(guard);
      }
      stopping = true;
      wake?.();
      await loop;
      // What could not be delivered waits on disk for the next run.
      await spillMemory();
      await spool.idle();
      transport.shutdown();
      return { delivered: stats.exported - before, leftInSpool: spool.spans() };
    },
    async flush(deadlineMillis) {
      flushBatch();
      pump();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([loop, new Promise<void>((r) => { timer = setTimeout(r, deadlineMillis); })]);
      clearTimeout(timer);
    },
    memorySpans: () => memSpans + batch.length,
    memoryBytes: () => memBytes,
  };
}
