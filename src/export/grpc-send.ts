/**
 * One OTLP/gRPC export of an already serialized request, through OpenTelemetry JS's own
 * gRPC transport (@opentelemetry/otlp-grpc-exporter-base, which drives @grpc/grpc-js): no
 * HTTP/2 framing or protobuf encoding here. The request body is the same OTLP protobuf
 * http/protobuf sends (ProtobufTraceSerializer), so the spool holds one format for both.
 *
 * The answer becomes a value as in http-send.ts: gRPC's status codes that the OTLP
 * specification calls retryable (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,
 * CANCELLED, ABORTED, OUT_OF_RANGE, DATA_LOSS) are retried with backoff and spooled;
 * others are dropped and counted. A RetryInfo delay in a RESOURCE_EXHAUSTED status is not
 * decoded (that would mean hand-decoding google.rpc.Status): the exporter's backoff applies.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Metadata } from '@grpc/grpc-js';
import type { ExportResponse, IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import { createEmptyMetadata, createInsecureCredentials, createSslCredentials } from '@opentelemetry/otlp-grpc-exporter-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Compression, TlsFiles } from './settings.js';
import type { SendOutcome, Transport } from './transport.js';

// The transport itself is not re-exported by the package's index (only the pieces built on
// it are); its module is stable across 0.2xx and the version is pinned in package.json.
type TransportFactory = (p: {
  grpcPath: string; grpcName: string; address: string; compression: Compression; userAgent?: string;
  credentials: () => ReturnType<typeof createInsecureCredentials>; metadata: () => Metadata;
}) => IExporterTransport;
const { createOtlpGrpcExporterTransport } = createRequire(import.meta.url)(
  '@opentelemetry/otlp-grpc-exporter-base/build/src/grpc-exporter-transport.js',
) as { createOtlpGrpcExporterTransport: TransportFactory };

/** The trace service's method, from the official opentelemetry/proto/collector/trace/v1/trace_service.proto. */
const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** gRPC status codes (numbers fixed by the gRPC protocol) the OTLP specification lists as retryable. */
const RETRYABLE: Record<number, string> = {
  1: 'cancelled', 4: 'deadline_exceeded', 8: 'resource_exhausted', 10: 'aborted', 11: 'out_of_range', 14: 'unavailable', 15: 'data_loss',
};
const NAMES: Record<number, string> = {
  2: 'unknown', 3: 'invalid_argument', 5: 'not_found', 6: 'already_exists', 7: 'permission_denied', 9: 'failed_precondition',
  12: 'unimplemented', 13: 'internal', 16: 'unauthenticated',
};

export interface GrpcTransportOptions {
  /** http://host:port (plaintext) or https://host:port (TLS) */
  url: string;
  /** sent as gRPC metadata (keys lower-cased, as HTTP/2 requires) */
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: Compression;
  tls?: TlsFiles;
}

/** The transport's answer as a SendOutcome. */
export function grpcOutcome(r: ExportResponse): SendOutcome {
  if (r.status === 'success') {
    if (!r.data || r.data.length === 0) return { kind: 'success', rejectedSpans: 0, message: undefined };
    try {
      const ps = ProtobufTraceSerializer.deserializeResponse(r.data).partialSuccess;
      const n = Number(ps?.rejectedSpans ?? 0);
      return { kind: 'success', rejectedSpans: Number.isFinite(n) && n > 0 ? n : 0, message: ps?.errorMessage || undefined };
    } catch {
      return { kind: 'success', rejectedSpans: 0, message: undefined };
    }
  }
  if (r.status === 'retryable') return { kind: 'retryable', reason: 'grpc_retryable', retryAfterMillis: r.retryInMillis };
  const code = (r.error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') {
    if (RETRYABLE[code]) return { kind: 'retryable', reason: `grpc_${RETRYABLE[code]}`, retryAfterMillis: undefined };
    return { kind: 'failed', reason: `grpc_${NAMES[code] ?? `status_${code}`}` };
  }
  return { kind: 'retryable', reason: 'grpc_error', retryAfterMillis: undefined };
}

export function createGrpcTransport(opts: GrpcTransportOptions): Transport {
  const url = new URL(opts.url);
  const secure = url.protocol === 'https:';
  const read = (p: string | undefined): Buffer | undefined => (p ? readFileSync(p) : undefined);
  const transport = createOtlpGrpcExporterTransport({
    grpcPath: TRACE_EXPORT_PATH,
    grpcName: 'TraceExportService',
    address: url.host,
    compression: opts.compression,
    userAgent: 'gostall',
    // A CA given replaces the system's roots, as with https (http-send.ts).
    credentials: () => (secure ? createSslCredentials(read(opts.tls?.ca), read(opts.tls?.key), read(opts.tls?.cert)) : createInsecureCredentials()),
    metadata: () => {
      const m = createEmptyMetadata();
      for (const [k, v] of Object.entries(opts.headers)) m.set(k.toLowerCase(), v);
      return m;
    },
  });
  // The transport cannot cancel a call; abort() stops waiting for it, and the call ends at
  // its own deadline, which setDeadline() keeps within the shutdown's (a pending call keeps
  // the process alive until then).
  let abortCurrent: (() => void) | undefined;
  let notAfter = Number.POSITIVE_INFINITY;

  return {
    async send(body, kind) {
      // OTLP/gRPC carries protobuf only (a JSON body spooled by an http/json run cannot go this way).
      if (kind !== 'pb') return { kind: 'failed', reason: 'grpc_json_body' };
      const aborted = new Promise<SendOutcome>((resolve) => {
        abortCurrent = () => resolve({ kind: 'retryable', reason: 'aborted', retryAfterMillis: undefined });
      });
      const timeoutMillis = Math.max(1, Math.min(opts.timeoutMillis, notAfter - Date.now()));
      const sent = transport.send(body, timeoutMillis).then(grpcOutcome, (): SendOutcome => ({ kind: 'retryable', reason: 'grpc_error', retryAfterMillis: undefined }));
      try {
        return await Promise.race([sent, aborted]);
      } finally {
        abortCurrent = undefined;
      }
    },
    abort() {
      abortCurrent?.();
    },
    setDeadline(atMillis) {
      notAfter = atMillis;
    },
    shutdown() {
      abortCurrent?.();
      transport.shutdown();
    },
  };
}
