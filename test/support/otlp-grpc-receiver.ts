/**
 * A small OTLP/gRPC trace receiver for tests, independent of gostall's export code: a
 * @grpc/grpc-js server whose TraceService comes from the official trace_service.proto in
 * test/proto (loaded with @grpc/proto-loader). Request bodies are kept as bytes and decoded
 * with the same independent decoder the HTTP receiver uses (otlp-decode.ts), so both
 * receivers hand tests the same DecodedSpan shape. It records each call's metadata, can
 * answer with a chosen gRPC status on demand, hang, stop and come back on the same port,
 * and serve TLS (optionally requiring a client certificate).
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeProtobufRequest, PROJECT_ROOT, type DecodedSpan } from './otlp-decode.js';

const PROTO_DIR = path.join(PROJECT_ROOT, 'test/proto');
const TRACE_SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

export type GrpcBehaviour =
  | { kind: 'ok' }
  /** answer `code` to the next `times` calls (forever when omitted), then 'ok' */
  | { kind: 'status'; code: grpc.status; times?: number }
  /** never answer (the client's deadline ends the call) */
  | { kind: 'hang' };

export interface GrpcCall {
  /** metadata as received, lower-case keys */
  metadata: Record<string, string>;
  spanCount: number;
  /** gRPC status answered; undefined while hanging */
  code: grpc.status | undefined;
}

export interface OtlpGrpcReceiver {
  /** http://127.0.0.1:PORT (https:// with TLS) — what OTEL_EXPORTER_OTLP_ENDPOINT would hold */
  readonly url: string;
  readonly port: number;
  readonly spans: DecodedSpan[];
  readonly calls: GrpcCall[];
  readonly errors: string[];
  setBehaviour(b: GrpcBehaviour): void;
  reset(): void;
  waitForSpans(n: number, timeoutMs?: number): Promise<DecodedSpan[]>;
  waitForCalls(n: number, timeoutMs?: number): Promise<GrpcCall[]>;
  /** Stop listening (calls in flight are cancelled); data is kept. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface OtlpGrpcReceiverOptions {
  port?: number;
  /** serve TLS with this key and certificate; with `ca`, clients must present a certificate it signed */
  tls?: { key: Buffer; cert: Buffer; ca?: Buffer };
}

/** The official service definition, with the request kept as bytes for the independent decoder. */
function traceServiceDefinition(): grpc.ServiceDefinition {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(TRACE_SERVICE_PROTO, {
    includeDirs: [PROTO_DIR], keepCase: false, longs: String, enums: Number, defaults: true,
  }));
  const v1 = (pkg.opentelemetry as grpc.GrpcObject).proto as grpc.GrpcObject;
  const trace = ((v1.collector as grpc.GrpcObject).trace as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const service = (trace.TraceService as grpc.ServiceClientConstructor).service;
  const exportDef = service.Export!;
  return { Export: { ...exportDef, requestDeserialize: (b: Buffer) => b } };
}

export async function startOtlpGrpcReceiver(opts: OtlpGrpcReceiverOptions = {}): Promise<OtlpGrpcReceiver> {
  const definition = traceServiceDefinition();
  const spans: DecodedSpan[] = [];
  const calls: GrpcCall[] = [];
  const errors: string[] = [];
  let behaviour: GrpcBehaviour = { kind: 'ok' };
  let remaining: number | undefined;
  let waiters: { ready(): boolean; resolve(): void }[] = [];
  let server: grpc.Server | undefined;
  let port = opts.port ?? 0;
  const credentials = opts.tls
    ? grpc.ServerCredentials.createSsl(opts.tls.ca ?? null, [{ private_key: opts.tls.key, cert_chain: opts.tls.cert }], opts.tls.ca !== undefined)
    : grpc.ServerCredentials.createInsecure();

  const notify = (): void => {
    waiters = waiters.filter((w) => {
      if (!w.ready()) return true;
      w.resolve();
      return false;
    });
  };

  function handle(call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
    let decoded: DecodedSpan[] = [];
    try {
      decoded = decodeProtobufRequest(call.request);
    } catch (err) {
      errors.push((err as Error).message);
      const entry: GrpcCall = { metadata, spanCount: 0, code: grpc.status.INVALID_ARGUMENT };
      calls.push(entry);
      notify();
      callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      return;
    }
    const entry: GrpcCall = { metadata, spanCount: decoded.length, code: undefined };
    calls.push(entry);
    const b = behaviour;
    if (b.kind === 'hang') {
      notify();
      return;
    }
    if (b.kind === 'status') {
      if (remaining !== undefined && --remaining <= 0) { behaviour = { kind: 'ok' }; remaining = undefined; }
      entry.code = b.code;
      notify();
      callback({ code: b.code, details: `test receiver answers ${grpc.status[b.code]}` });
      return;
    }
    entry.code = grpc.status.OK;
    spans.push(...decoded);
    notify();
    callback(null, {});
  }

  async function listen(): Promise<void> {
    server = new grpc.Server();
    server.addService(definition, { Export: handle });
    port = await new Promise<number>((resolve, reject) => {
      server!.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
    });
  }

  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return;
    s.forceShutdown();
  }

  function wait<T>(ready: () => boolean, value: () => T, what: string, timeoutMs: number): Promise<T> {
    if (ready()) return Promise.resolve(value());
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what} (have ${spans.length} spans, ${calls.length} calls; errors: ${errors.join('; ') || 'none'})`));
      }, timeoutMs);
      const waiter = { ready, resolve: () => { clearTimeout(timer); resolve(value()); } };
      waiters.push(waiter);
    });
  }

  await listen();
  const scheme = opts.tls ? 'https' : 'http';
  return {
    get url() { return `${scheme}://127.0.0.1:${port}`; },
    get port() { return port; },
    spans, calls, errors,
    setBehaviour(b) {
      behaviour = b;
      remaining = b.kind === 'status' ? b.times : undefined;
    },
    reset() {
      spans.length = 0;
      calls.length = 0;
      errors.length = 0;
    },
    waitForSpans: (n, timeoutMs = 15_000) => wait(() => spans.length >= n, () => spans, `${n} spans`, timeoutMs),
    waitForCalls: (n, timeoutMs = 15_000) => wait(() => calls.length >= n, () => calls, `${n} calls`, timeoutMs),
    stop,
    restart: listen,
    close: stop,
  };
}
