/**
 * One OTLP/HTTP POST of an already serialized request, with the answer turned into a
 * value: success (with the spans the collector says it rejected), retryable (429, 5xx,
 * connection failures, timeouts; with the collector's Retry-After) or failed (other
 * statuses: retrying the same body cannot help). Never throws: telemetry must never crash
 * the agent it belongs to. Encoding stays with @opentelemetry/otlp-transformer; this is
 * only the transport, written on node:http so status codes and Retry-After are visible.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';

const gzip = promisify(gzipCb);

export type { BodyKind, SendOutcome, Transport as HttpTransport } from './transport.js';
import type { BodyKind, SendOutcome, Transport } from './transport.js';
import type { TlsFiles } from './settings.js';
export type { TlsFiles } from './settings.js';

export const CONTENT_TYPE: Record<BodyKind, string> = { pb: 'application/x-protobuf', json: 'application/json' };

export interface HttpTransportOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: 'none' | 'gzip';
  tls?: TlsFiles;
}

/** Response bodies are read up to this size (error text, partial success). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMillis = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMillis);
}

/** Statuses the OTLP specification calls retryable, plus every 5xx (a collector restarting answers 500 too). */
function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599);
}

/** Spans the collector reports as rejected in a 2xx answer (OTLP partial success). */
function rejectedSpans(kind: BodyKind, body: Buffer): { rejected: number; message: string | undefined } {
  if (body.length === 0) return { rejected: 0, message: undefined };
  try {
    const r = kind === 'pb' ? ProtobufTraceSerializer.deserializeResponse(new Uint8Array(body)) : JsonTraceSerializer.deserializeResponse(new Uint8Array(body));
    const ps = r.partialSuccess;
    const n = Number(ps?.rejectedSpans ?? 0);
    return { rejected: Number.isFinite(n) && n > 0 ? n : 0, message: ps?.errorMessage || undefined };
  } catch {
    return { rejected: 0, message: undefined };
  }
}

/** The files' contents for node's TLS options; a CA given replaces the system's trust store, as in other OTLP exporters. */
function tlsOptions(tls: TlsFiles | undefined): https.AgentOptions {
  if (!tls) return {};
  return {
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
    ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
    ...(tls.key ? { key: readFileSync(tls.key) } : {}),
  };
}

export function createHttpTransport(opts: HttpTransportOptions): Transport {
  const url = new URL(opts.url);
  // One connection, reused: requests go one at a time to keep spans in order.
  const agent = url.protocol === 'https:'
    ? new https.Agent({ keepAlive: true, maxSockets: 1, ...tlsOptions(opts.tls) })
    : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lib = url.protocol === 'https:' ? https : http;
  let current: http.ClientRequest | undefined;

  async function send(body: Uint8Array, kind: BodyKind): Promise<SendOutcome> {
    let payload: Uint8Array = body;
    const headers: Record<string, string> = { ...opts.headers, 'Content-Type': CONTENT_TYPE[kind] };
    if (opts.compression === 'gzip') {
      payload = await gzip(body);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = String(payload.byteLength);
    return new Promise<SendOutcome>((resolve) => {
      let settled = false;
      const finish = (o: SendOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        current = undefined;
        resolve(o);
      };
      const req = lib.request(url, { method: 'POST', headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('error', () => finish({ kind: 'retryable', reason: 'response_error', retryAfterMillis: undefined }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks);
          if (status >= 200 && status < 300) {
            const { rejected, message } = rejectedSpans(kind, text);
            finish({ kind: 'success', rejectedSpans: rejected, message });
          } else if (isRetryableStatus(status)) {
            const ra = res.headers['retry-after'];
            finish({ kind: 'retryable', reason: `http_${status}`, retryAfterMillis: parseRetryAfter(Array.isArray(ra) ? ra[0] : ra) });
          } else {
            finish({ kind: 'failed', reason: `http_${status}` });
          }
        });
      });
      current = req;
      const timer = setTimeout(() => {
        finish({ kind: 'retryable', reason: 'timeout', retryAfterMillis: undefined });
        req.destroy();
      }, opts.timeoutMillis);
      req.on('error', (err: NodeJS.ErrnoException) => {
        finish({ kind: 'retryable', reason: (err.code ?? 'network_error').toLowerCase(), retryAfterMillis: undefined });
      });
      req.end(payload);
    });
  }

  return {
    send,
    abort() {
      current?.destroy(Object.assign(new Error('aborted at shutdown'), { code: 'ABORTED' }));
    },
    shutdown() {
      current?.destroy();
      agent.destroy();
    },
  };
}
