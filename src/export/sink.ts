/**
 * The one sink every command hands its finished spans to: the OTLP JSON lines file
 * (--out / export.out, mode 0600) and/or a collector over http/protobuf, http/json or
 * grpc, through the reliable exporter (batches, in-order requests, retries honouring
 * Retry-After and gRPC's retryable statuses).
 *
 *   mode 'memory' (run, replay): what the collector cannot take waits in memory until the
 *     deadline and is then reported as undelivered; a down collector costs at most the
 *     deadline and never the command's exit code.
 *   mode 'spool' (agent): the on-disk spool holds it across collector outages and restarts.
 *
 * Failures are values: submit() never throws, shutdown() resolves with a report whose
 * lines name no secret (URLs redacted, headers never shown).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { openOtlpJsonFile, outGroupFromEnv, type OtlpJsonFile } from './file.js';
import { redactUrl } from './endpoint.js';
import type { ExportStats, ReliableExporter } from './reliable.js';
import { SettingsError, type ExportSettings, type OtlpTarget } from './settings.js';
import type { Spool } from './spool.js';
import type { Transport } from './transport.js';

export type SinkMode = 'memory' | 'spool';

export interface ExportTuning {
  batchMaxSpans: number;
  batchDelayMillis: number;
  memoryLimitBytes: number;
  backoffInitialMillis: number;
  backoffMaxMillis: number;
  maxRetryAfterMillis: number;
}

export interface SinkOptions {
  mode: SinkMode;
  /** spool mode: where undelivered requests wait, and the quota (`source` names the setting in messages) */
  spool?: { dir: string; maxBytes: number; source?: string };
  /** memory mode: how long shutdown() waits for the collector when not told (default 10 s) */
  deadlineMillis?: number;
  /**
   * memory mode: keep retrying a collector that refuses until the deadline (replay, which
   * may run long), instead of giving up at the first refusal (run: nobody waits for a
   * collector that is not there; a Retry-After within the deadline is still honoured).
   */
  retryUntilDeadline?: boolean;
  tuning?: Partial<ExportTuning>;
  /** one line per state change (collector down / back, drops), never per span */
  log?: (line: string) => void;
  /** where `--out -` writes (default process.stdout) */
  stdout?: NodeJS.WritableStream;
  /** the out file is made for this user, opened by openPath (./file: forUser) */
  outForUser?: { openPath: string; uid: number; gid: number };
  /**
   * build the exporter (~40 ms of module loading) only once this resolves: `gostall run`
   * through an agent has no spans before CMD exits, and CMD should not share the CPU with it
   */
  exporterAfter?: Promise<void>;
}

/** The reliable exporter's counters (read-only here; grpc_* reasons too), plus what the sink itself holds. */
export interface SinkStats extends Omit<ExportStats, 'accepted' | 'dropped' | 'failures'> {
  submitted: number;
  dropped: ReadonlyMap<string, number>;
  failures: ReadonlyMap<string, number>;
  memorySpans: number;
  memoryBytes: number;
  spoolSpans: number;
  spoolBytes: number;
  /** spans written to the file (or stdout) */
  fileSpans: number;
  /** file writes queued and not yet done */
  fileQueue: number;
  fileError: string | undefined;
}

export interface SinkReport {
  /** spans the collector acknowledged over the sink's life */
  exported: number;
  /** spans dropped, or (memory mode) not delivered by the deadline */
  undelivered: number;
  /** spool mode: spans waiting on disk for the next start */
  leftInSpool: number;
  /** why spans were not delivered, e.g. "12 collector unavailable (econnrefused)"; empty when all arrived */
  reasons: string[];
  fileSpans: number;
  fileError: string | undefined;
}

export interface Sink {
  /** the collector as it may be shown: redacted URL and protocol; undefined when not exporting */
  readonly target: string | undefined;
  /** the file written, '-' for stdout, or undefined */
  readonly filePath: string | undefined;
  /** Queue spans for the file and the collector. Never blocks, never throws. */
  submit(spans: ReadableSpan[]): void;
  /** Resolves when every file write submitted so far is done (readers of big inputs pace themselves on it). */
  written(): Promise<void>;
  /** Wait until what was submitted is written and sent, or the deadline passes. */
  flush(deadlineMillis: number): Promise<void>;
  /** Deliver within the deadline, keep (spool) or count (memory) the rest, close everything. Never rejects. */
  shutdown(deadlineMillis?: number): Promise<SinkReport>;
  stats(): SinkStats;
}

export type SinkResult = { ok: true; sink: Sink } | { ok: false; error: SettingsError };

const DEFAULT_TUNING: ExportTuning = {
  batchMaxSpans: 512, batchDelayMillis: 200, memoryLimitBytes: 64 * 1024 ** 2,
  backoffInitialMillis: 1_000, backoffMaxMillis: 30_000, maxRetryAfterMillis: 120_000,
};
const DEFAULT_DEADLINE_MILLIS = 10_000;
const MEMORY_SPOOL_BYTES = 256 * 1024 ** 2;

/** The transport for the target's protocol. */
export async function createTransport(t: OtlpTarget): Promise<Transport> {
  const o = { url: t.url, headers: t.headers, timeoutMillis: t.timeoutMillis, compression: t.compression, tls: t.tls };
  return t.protocol === 'grpc' ? (await import('./grpc-send.js')).createGrpcTransport(o) : (await import('./http-send.js')).createHttpTransport(o);
}

/**
 * The exporter, built in the background: its modules (the OTLP serializers, gRPC) take
 * ~200 ms to load, and `gostall run` opens its sink before the traced command starts.
 */
async function buildExporter(t: OtlpTarget, opts: SinkOptions, spool: Spool | undefined): Promise<ReliableExporter> {
  const deadline = opts.deadlineMillis ?? DEFAULT_DEADLINE_MILLIS;
  const [{ createReliableExporter }, { createMemorySpool }] = await Promise.all([import('./reliable.js'), import('./memory-spool.js')]);
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
  // Giving up at the first refusal: the next try would come after the deadline, so the
  // shutdown stops there (see ReliableExporter.shutdown) instead of retrying in vain.
  if (opts.mode === 'memory' && !opts.retryUntilDeadline) {
    tuning.backoffInitialMillis = tuning.backoffMaxMillis = 2 * deadline;
  }
  return createReliableExporter({
    transport: await createTransport(t),
    spool: spool ?? createMemorySpool(opts.spool?.maxBytes ?? MEMORY_SPOOL_BYTES),
    kind: t.protocol === 'http/json' ? 'json' : 'pb', ...tuning, log: opts.log,
  });
}

/** Open the file and the spool the settings ask for; a problem is a value naming the setting. */
export async function createSink(settings: ExportSettings, opts: SinkOptions): Promise<SinkResult> {
  let file: OtlpJsonFile | undefined;
  if (settings.out !== undefined && settings.out !== '-') {
    try {
      file = await openOtlpJsonFile(settings.out, { group: outGroupFromEnv(), forUser: opts.outForUser });
    } catch (err) {
      return { ok: false, error: new SettingsError(settings.outSource ?? '--out', `cannot write ${settings.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`) };
    }
  }
  let spool: Spool | undefined;
  const t = settings.otlp;
  if (t && opts.mode === 'spool') {
    if (!opts.spool) return { ok: false, error: new SettingsError('export.spool.dir', 'the agent needs a spool directory') };
    try {
      const { openSpool } = await import('./spool.js');
      spool = await openSpool({ dir: opts.spool.dir, maxBytes: opts.spool.maxBytes });
    } catch (err) {
      await file?.close().catch(() => {});
      return { ok: false, error: new SettingsError(opts.spool.source ?? 'export.spool.dir', `cannot use ${opts.spool.dir}: ${(err as Error).message}`) };
    }
  }
  const exporter = t ? (opts.exporterAfter ?? Promise.resolve()).then(() => buildExporter(t, opts, spool)) : undefined;
  return { ok: true, sink: assembleSink(settings, opts, file, exporter, spool) };
}

function assembleSink(
  settings: ExportSettings, opts: SinkOptions, file: OtlpJsonFile | undefined, building: Promise<ReliableExporter> | undefined, spool: Spool | undefined,
): Sink {
  let exporter: ReliableExporter | undefined;
  let buildError: string | undefined;
  // Spans submitted while the exporter loads wait here (run submits only after it has loaded).
  let early: ReadableSpan[][] = [];
  const ready = building?.then((e) => {
    exporter = e;
    for (const spans of early) e.export(spans);
    early = [];
  }, (err: Error) => {
    buildError = err.message;
    opts.log?.(`cannot export: ${err.message}`);
  });
  const toStdout = settings.out === '-';
  const stdout = opts.stdout ?? process.stdout;
  // Whole requests, in order: writes are chained so lines never interleave.
  let chain: Promise<void> = Promise.resolve();
  let submitted = 0;
  let fileSpans = 0;
  let fileQueue = 0;
  let fileError: string | undefined;
  let closed = false;

  const writeOut = async (spans: ReadableSpan[]): Promise<void> => {
    if (file) await file.write(spans);
    else {
      const { JsonTraceSerializer } = await import('@opentelemetry/otlp-transformer');
      const body = JsonTraceSerializer.serializeRequest(spans);
      if (body) stdout.write(`${Buffer.from(body).toString('utf8')}\n`);
    }
    fileSpans += spans.length;
  };

  const stats = (): SinkStats => {
    const ex = exporter?.stats;
    return {
      submitted, exported: ex?.exported ?? 0, spooled: ex?.spooled ?? 0, dropped: ex?.dropped ?? new Map(), failures: ex?.failures ?? new Map(),
      retries: ex?.retries ?? 0, backingOff: ex?.backingOff ?? false,
      memorySpans: exporter?.memorySpans() ?? 0, memoryBytes: exporter?.memoryBytes() ?? 0,
      spoolSpans: spool?.spans() ?? 0, spoolBytes: spool?.bytes() ?? 0,
      fileSpans, fileQueue, fileError,
    };
  };

  return {
    target: settings.otlp ? `${redactUrl(settings.otlp.url)} (${settings.otlp.protocol})` : undefined,
    filePath: file?.path ?? (toStdout ? '-' : undefined),
    submit(spans) {
      if (spans.length === 0) return;
      submitted += spans.length;
      if ((file || toStdout) && !closed) {
        fileQueue++;
        chain = chain.then(() => writeOut(spans)).catch((err: Error) => {
          if (fileError === undefined) opts.log?.(`cannot write ${file?.path ?? 'stdout'}: ${err.message}`);
          fileError ??= err.message;
        }).finally(() => { fileQueue--; });
      }
      if (exporter) exporter.export(spans);
      else if (building && buildError === undefined) early.push(spans);
    },
    written: () => chain,
    async flush(deadlineMillis) {
      await ready;
      await Promise.all([chain, exporter?.flush(deadlineMillis)]);
    },
    async shutdown(deadlineMillis) {
      closed = true;
      await chain;
      await file?.close().catch(() => {});
      const report: SinkReport = { exported: 0, undelivered: 0, leftInSpool: 0, reasons: [], fileSpans, fileError };
      await ready;
      if (!exporter) {
        const lost = building ? submitted : 0;
        if (lost > 0) Object.assign(report, { undelivered: lost, reasons: [`${lost} exporter unavailable (${buildError})`] });
        return report;
      }
      const r = await exporter.shutdown(deadlineMillis ?? opts.deadlineMillis ?? DEFAULT_DEADLINE_MILLIS).catch(() => ({ delivered: 0, leftInSpool: spool?.spans() ?? 0 }));
      const ex = exporter.stats;
      report.exported = ex.exported;
      const dropped = [...ex.dropped.entries()];
      report.undelivered = dropped.reduce((a, [, n]) => a + n, 0);
      report.reasons = dropped.map(([k, n]) => `${n} ${k}`);
      if (r.leftInSpool > 0) {
        const why = [...ex.failures.keys()].slice(-1)[0];
        if (opts.mode === 'spool') report.leftInSpool = r.leftInSpool;
        else {
          report.undelivered += r.leftInSpool;
          report.reasons.push(`${r.leftInSpool} collector unavailable${why ? ` (${why})` : ''}`);
        }
      }
      return report;
    },
    stats,
  };
}
