/**
 * Where and how to send spans, from flags and the standard OTEL_EXPORTER_OTLP_* variables.
 * Kept apart from the exporters (otlp.ts) so the command line can check its options before
 * the OpenTelemetry modules are loaded: `gostall run` loads them while the probes attach.
 */
import { redactUrl } from '../model/redact.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json'];

export interface OtlpSettings {
  /** the traces URL to post to, or undefined when the OTEL_* variables decide */
  url: string | undefined;
  protocol: OtlpProtocol;
}

/** Whether flags or environment name a collector at all. */
export function endpointConfigured(flagUrl: string | undefined, env: NodeJS.ProcessEnv): boolean {
  return Boolean(flagUrl || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** The protocol: flag, else OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else protobuf. */
export function resolveProtocol(flag: string | undefined, env: NodeJS.ProcessEnv): OtlpProtocol {
  const raw = flag ?? env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (!(PROTOCOLS as readonly string[]).includes(raw)) {
    throw new Error(`unsupported OTLP protocol ${JSON.stringify(raw)}: use http/protobuf or http/json`);
  }
  return raw as OtlpProtocol;
}

/**
 * A --endpoint flag is a base URL like OTEL_EXPORTER_OTLP_ENDPOINT (…:4318), unless it
 * already names a path, in which case it is used as it is.
 */
export function tracesUrlFromFlag(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`endpoint must be http(s): ${redactUrl(endpoint)}`);
  if (u.pathname === '/' || u.pathname === '') return `${u.origin}/v1/traces`;
  return u.toString();
}

/** A URL safe to print (defined in the model, where the diagnosis can use it too). */
export { redactUrl } from '../model/redact.js';
