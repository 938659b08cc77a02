/**
 * Where the agent's spans go: the OTLP JSON file (whole requests, in order) and/or the
 * reliable OTLP export (memory → spool → collector). The one seam between the agent and
 * the export layer: the pipeline hands spans to emit(); shutdown delivers what it can
 * within the deadline and spools the rest for the next start.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { openOtlpJsonFile, type OtlpJsonFile } from '../export/file.js';
import { createHttpTransport } from '../export/http-send.js';
import { createReliableExporter, type ReliableExporter } from '../export/reliable.js';
import { openSpool, type Spool } from '../export/spool.js';
import type { ExportConfig } from './config.js';
import { labelled, type MetricFamily } from './metrics.js';

export interface AgentSink {
  emit(spans: ReadableSpan[]): void;
  /** export metrics (none without a collector) */
  metrics(): MetricFamily[];
  /** Deliver within deadlineMillis; a one-line account of what happened to the spans. */
  shutdown(deadlineMillis: number): Promise<string>;
  /** Close without delivering (the agent could not start). */
  abandon(): Promise<void>;
}

/** Open the file and the spool; throws an Error naming the setting when one cannot be used. */
export async function openAgentSink(config: ExportConfig, log: (line: string) => void): Promise<AgentSink> {
  let file: OtlpJsonFile | undefined;
  let spool: Spool | undefined;
  let exporter: ReliableExporter | undefined;
  if (config.out) {
    try {
      file = await openOtlpJsonFile(config.out);
    } catch (err) {
      throw new Error(`export.out: cannot write ${config.out}: ${(err as Error).message}`);
    }
  }
  if (config.url) {
    try {
      spool = await openSpool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes });
    } catch (err) {
      await file?.close();
      throw new Error(`export.spool.dir: cannot use ${config.spoolDir}: ${(err as Error).message}`);
    }
    if (spool.count() > 0) log(`${spool.spans()} spans from a previous run wait in ${spool.dir}; sending them first`);
    exporter = createReliableExporter({
      transport: createHttpTransport({ url: config.url, headers: config.headers, timeoutMillis: config.timeoutMillis, compression: config.compression, tls: config.tls }),
      spool,
      kind: config.protocol === 'http/json' ? 'json' : 'pb',
      batchMaxSpans: config.batchMaxSpans,
      batchDelayMillis: config.batchDelayMillis,
      memoryLimitBytes: config.memoryLimitBytes,
      backoffInitialMillis: config.backoffInitialMillis,
      backoffMaxMillis: config.backoffMaxMillis,
      maxRetryAfterMillis: config.maxRetryAfterMillis,
      log,
    });
  }

  // The file gets whole requests in order; writes are chained so lines never interleave.
  let fileChain: Promise<void> = Promise.resolve();
  let fileErrors = 0;
  return {
    emit(spans) {
      if (file) {
        const f = file;
        fileChain = fileChain.then(() => f.write(spans)).catch((err: Error) => {
          if (fileErrors++ === 0) log(`cannot write ${f.path}: ${err.message}`);
        });
      }
      exporter?.export(spans);
    },
    metrics() {
      if (!exporter || !spool) return [];
      const ex = exporter.stats;
      return [
        { name: 'gostall_spans_exported_total', help: 'spans the collector acknowledged', type: 'counter', samples: [{ value: ex.exported }] },
        { name: 'gostall_spans_spooled_total', help: 'spans written to the on-disk spool', type: 'counter', samples: [{ value: ex.spooled }] },
        { name: 'gostall_spans_dropped_total', help: 'spans lost, by reason', type: 'counter', samples: labelled('reason', ex.dropped) },
        { name: 'gostall_export_failures_total', help: 'failed export requests, by reason', type: 'counter', samples: labelled('reason', ex.failures) },
        { name: 'gostall_export_backing_off', help: '1 while the collector is considered down', type: 'gauge', samples: [{ value: ex.backingOff ? 1 : 0 }] },
        { name: 'gostall_export_queue_spans', help: 'spans waiting in memory', type: 'gauge', samples: [{ value: exporter.memorySpans() }] },
        { name: 'gostall_spool_bytes', help: 'bytes in the spool', type: 'gauge', samples: [{ value: spool.bytes() }] },
        { name: 'gostall_spool_spans', help: 'spans in the spool', type: 'gauge', samples: [{ value: spool.spans() }] },
      ];
    },
    async shutdown(deadlineMillis) {
      const deadline = Date.now() + deadlineMillis;
      await fileChain;
      await file?.close().catch(() => {});
      if (!exporter || !spool) return '';
      const r = await exporter.shutdown(Math.max(0, deadline - Date.now()));
      const dropped = [...exporter.stats.dropped.values()].reduce((a, b) => a + b, 0);
      return `, ${exporter.stats.exported} exported, ${dropped} dropped${r.leftInSpool > 0 ? `, ${r.leftInSpool} left in ${spool.dir} for the next start` : ''}`;
    },
    async abandon() {
      await file?.close().catch(() => {});
    },
  };
}
