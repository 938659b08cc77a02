/**
 * A small OTLP/HTTP trace receiver for tests: it listens on 127.0.0.1, decodes what it is sent
 * with the independent decoder in otlp-decode.ts (protobuf or JSON, gzip/deflate or not), and
 * can misbehave on demand (error statuses with Retry-After, hanging, going away and coming
 * back on the same port) so tests can see how gostall's export copes.
 */
import https from 'node:https';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import {
  decodeJsonRequest,
  decodeProtobufRequest,
  encodeEmptyExportResponse,
  type DecodedSpan,
  type JsonDecodeOptions,
} from './otlp-decode.js';

export type ReceiverBehaviour =
  /** decode and answer 200 (400 for a bad body, 415 for an unsupported media type/encoding) */
  | { kind: 'ok' }
  /**
   * answer `status` (with Retry-After: retryAfterSeconds when given) to the next `times`
   * requests, then go back to 'ok'; forever when `times` is omitted. Spans in these requests
   * are decoded (see requests[].spanCount) but not added to `spans`.
   */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; times?: number }
  /**
   * read the request and never answer it. When the behaviour changes, requests still waiting
   * (whose client has not given up) are answered according to the new behaviour; stop() and
   * close() drop them.
   */
  | { kind: 'hang' };

export interface ReceivedRequest {
  method: string;
  /** request path, e.g. /v1/traces */
  path: string;
  /** media type, lowercased and without parameters; '' when absent */
  contentType: string;
  /** Content-Encoding header, lowercased; undefined when absent */
  contentEncoding: string | undefined;
  headers: IncomingHttpHeaders;
  /** body size as received (before decompression) */
  bodyBytes: number;
  /** spans decoded from the body (0 when it did not decode) */
  spanCount: number;
  /** Date.now() when the whole body had arrived */
  at: number;
  /** HTTP status answered; undefined while hanging or when the request was never answered */
  status: number | undefined;
  /** why the body was rejected, or why the request was never answered */
  error?: string;
}

export interface OtlpReceiver {
  /** base URL, e.g. http://127.0.0.1:43817 */
  readonly url: string;
  /** url + /v1/traces */
  readonly tracesUrl: string;
  readonly port: number;
  /** every span accepted (answered 200), in arrival order */
  readonly spans: DecodedSpan[];
  /** every request whose body was read, in arrival order */
  readonly requests: ReceivedRequest[];
  /** one message per rejected or unusable request */
  readonly errors: string[];
  /** whether the receiver is currently listening (false between stop() and restart()) */
  readonly listening: boolean;
  /** Resolves with `spans` once at least n spans were accepted; rejects after timeoutMs. */
  waitForSpans(n: number, timeoutMs?: number): Promise<DecodedSpan[]>;
  /** Resolves with `requests` once at least n requests arrived (whatever the answer). */
  waitForRequests(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  setBehaviour(b: ReceiverBehaviour): void;
  /** Forgets spans, requests and errors (the behaviour stays). */
  reset(): void;
  /** Closes the listening socket and destroys open connections; data is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port after stop(). */
  restart(): Promise<void>;
  /** stop() for good; pending waits reject. */
  close(): Promise<void>;
}
export type Receiver = OtlpReceiver;

export interface OtlpReceiverOptions {
  /** port on 127.0.0.1; 0 or omitted picks a free one */
  port?: number;
  /** how JSON bodies treat unknown field names; default 'error' (see otlp-decode.ts) */
  json?: JsonDecodeOptions;
  /** bodies larger than this (compressed or not) get 413; default 64 MiB */
  maxBodyBytes?: number;
  /** serve https with this key and certificate (PEM); with `ca`, clients must present a certificate it signed */
  tls?: { key: Buffer; cert: Buffer; ca?: Buffer };
}

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
const TRACES_PATH = '/v1/traces';

interface Pending {
  entry: ReceivedRequest;
  res: ServerResponse;
  spans: DecodedSpan[];
  /** set when the request must be refused whatever the behaviour */
  failure: { status: number; message: string } | undefined;
  /** the connection closed before an answer was sent */
  gone: boolean;
}

interface Waiter {
  ready(): boolean;
  resolve(): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export async function startOtlpReceiver(opts: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const spans: DecodedSpan[] = [];
  const requests: ReceivedRequest[] = [];
  const errors: string[] = [];
  const sockets = new Set<Socket>();
  let parked: Pending[] = [];
  let waiters: Waiter[] = [];
  let behaviour: ReceiverBehaviour = { kind: 'ok' };
  let remaining: number | undefined; // for a 'status' behaviour with `times`
  let server: http.Server | null = null;
  let port = opts.port ?? 0;
  let closed = false;

  const notify = (): void => {
    waiters = waiters.filter((w) => {
      if (!w.ready()) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  };

  const send = (p: Pending, status: number, headers: http.OutgoingHttpHeaders, body: string | Uint8Array): void => {
    p.entry.status = status;
    if (p.res.destroyed || p.res.writableEnded) return;
    p.res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
    p.res.end(body);
  };

  const refuse = (p: Pending, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void => {
    send(p, status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, message);
  };

  /** Answers one request according to the current behaviour. */
  const dispatch = (p: Pending): void => {
    if (behaviour.kind === 'hang') {
      parked.push(p);
      return;
    }
    if (behaviour.kind === 'status') {
      const b = behaviour;
      if (remaining !== undefined && --remaining <= 0) {
        behaviour = { kind: 'ok' };
        remaining = undefined;
      }
      const headers: http.OutgoingHttpHeaders = {};
      if (b.retryAfterSeconds !== undefined) headers['Retry-After'] = String(b.retryAfterSeconds);
      refuse(p, b.status, `simulated status ${b.status}`, headers);
      return;
    }
    if (p.failure) {
      refuse(p, p.failure.status, p.failure.message);
      return;
    }
    if (p.entry.contentType === JSON_TYPE) send(p, 200, { 'Content-Type': JSON_TYPE }, '{}');
    else send(p, 200, { 'Content-Type': PROTOBUF }, encodeEmptyExportResponse());
    spans.push(...p.spans);
    notify();
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) tooBig = true;
      else chunks.push(c);
    });
    req.on('error', () => {}); // a client that goes away mid-body: nothing to record
    req.on('end', () => {
      const rawType = req.headers['content-type'] ?? '';
      const encoding = req.headers['content-encoding']?.trim().toLowerCase();
      const entry: ReceivedRequest = {
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0] ?? '',
        contentType: (rawType.split(';')[0] ?? '').trim().toLowerCase(),
        contentEncoding: encoding,
        headers: req.headers,
        bodyBytes: size,
        spanCount: 0,
        at: Date.now(),
        status: undefined,
      };
      const p: Pending = { entry, res, spans: [], failure: undefined, gone: false };
      res.on('close', () => {
        if (res.writableFinished) return;
        p.gone = true;
        entry.error ??= 'client went away before an answer';
      });
      const fail = (status: number, message: string): void => {
        p.failure = { status, message };
        entry.error = message;
        errors.push(`${entry.method} ${entry.path}: ${message}`);
      };
      if (entry.path !== TRACES_PATH) fail(404, `no such path ${entry.path} (only ${TRACES_PATH})`);
      else if (entry.method !== 'POST') fail(405, `method ${entry.method} not allowed`);
      else if (tooBig) fail(413, `body larger than ${maxBodyBytes} bytes`);
      else if (entry.contentType !== PROTOBUF && entry.contentType !== JSON_TYPE) {
        fail(415, `unsupported Content-Type ${JSON.stringify(rawType)}`);
      } else {
        let body: Buffer | undefined;
        const raw = Buffer.concat(chunks);
        try {
          if (encoding === undefined || encoding === '' || encoding === 'identity') body = raw;
          else if (encoding === 'gzip') body = zlib.gunzipSync(raw);
          else if (encoding === 'deflate') body = zlib.inflateSync(raw);
          else fail(415, `unsupported Content-Encoding ${JSON.stringify(encoding)}`);
        } catch (e) {
          fail(400, `bad ${encoding} body: ${(e as Error).message}`);
        }
        if (body) {
          try {
            p.spans =
              entry.contentType === PROTOBUF
                ? decodeProtobufRequest(body)
                : decodeJsonRequest(body.toString('utf8'), opts.json);
            entry.spanCount = p.spans.length;
          } catch (e) {
            fail(400, (e as Error).message);
          }
        }
      }
      requests.push(entry);
      dispatch(p);
      notify();
    });
  };

  const listen = async (): Promise<void> => {
    const s = opts.tls
      ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, ...(opts.tls.ca ? { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true } : {}) }, onRequest)
      : http.createServer(onRequest);
    s.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    if (!s) return;
    server = null;
    for (const p of parked.splice(0)) {
      p.entry.error ??= 'dropped unanswered: receiver stopped while hanging';
    }
    const done = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const sock of sockets) sock.destroy();
    s.closeAllConnections();
    await done;
  };

  const wait = <T>(what: string, ready: () => boolean, value: () => T, timeoutMs: number): Promise<T> => {
    if (ready()) return Promise.resolve(value());
    if (closed) return Promise.reject(new Error(`receiver closed while waiting for ${what}`));
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        ready,
        resolve: () => resolve(value()),
        reject,
        timer: setTimeout(() => {
          waiters = waiters.filter((x) => x !== w);
          reject(
            new Error(
              `timed out after ${timeoutMs}ms waiting for ${what}: ${spans.length} spans in ` +
                `${requests.length} requests` +
                (errors.length ? `; errors: ${errors.join(' | ')}` : ''),
            ),
          );
        }, timeoutMs),
      };
      waiters.push(w);
    });
  };

  await listen();

  const receiver: OtlpReceiver = {
    get url() {
      return `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    },
    get tracesUrl() {
      return `${this.url}${TRACES_PATH}`;
    },
    get port() {
      return port;
    },
    spans,
    requests,
    errors,
    get listening() {
      return server !== null;
    },
    waitForSpans(n, timeoutMs = 10_000) {
      return wait(`${n} spans`, () => spans.length >= n, () => spans, timeoutMs);
    },
    waitForRequests(n, timeoutMs = 10_000) {
      return wait(`${n} requests`, () => requests.length >= n, () => requests, timeoutMs);
    },
    setBehaviour(b) {
      if (b.kind === 'status') {
        if (!Number.isInteger(b.status) || b.status < 100 || b.status > 599) {
          throw new Error(`invalid HTTP status ${b.status}`);
        }
        if (b.times !== undefined && (!Number.isInteger(b.times) || b.times < 1)) {
          throw new Error(`times must be a positive integer, got ${b.times}`);
        }
      }
      behaviour = { ...b };
      remaining = b.kind === 'status' ? b.times : undefined;
      if (b.kind === 'hang') return;
      const waiting = parked;
      parked = [];
      for (const p of waiting) {
        if (p.gone || p.res.destroyed) {
          p.entry.error ??= 'client went away before an answer';
        } else {
          dispatch(p);
        }
      }
    },
    reset() {
      spans.length = 0;
      requests.length = 0;
      errors.length = 0;
    },
    stop,
    async restart() {
      if (closed) throw new Error('receiver is closed');
      if (server) return;
      await listen();
    },
    async close() {
      closed = true;
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error('receiver closed'));
      }
      await stop();
    },
  };
  return receiver;
}
