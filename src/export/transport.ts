/**
 * What the reliable exporter needs from a way of reaching a collector (OTLP/HTTP in
 * http-send.ts, OTLP/gRPC in grpc-send.ts): send one already serialized request and say,
 * as a value, whether it arrived, is worth sending again later, or never will be.
 */

/** How a request body is encoded: OTLP protobuf (http/protobuf and grpc) or OTLP JSON. */
export type BodyKind = 'pb' | 'json';

export type SendOutcome =
  /** accepted; rejectedSpans from the response's partial_success */
  | { kind: 'success'; rejectedSpans: number; message: string | undefined }
  /** worth sending again later; retryAfterMillis when the collector said when */
  | { kind: 'retryable'; reason: string; retryAfterMillis: number | undefined }
  /** the collector refused this body for good */
  | { kind: 'failed'; reason: string };

export interface Transport {
  /** Never rejects. */
  send(body: Uint8Array, kind: BodyKind): Promise<SendOutcome>;
  /** abort the request in flight, if any (shutdown deadline) */
  abort(): void;
  /**
   * No request may outlive this time (Date.now() ms): later sends shorten their timeout to
   * it. For transports whose calls cannot be aborted (gRPC) this is what bounds a shutdown.
   */
  setDeadline?(atMillis: number): void;
  shutdown(): void;
}
