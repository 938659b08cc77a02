// The agent's export to an https collector: its own CA (OTEL_EXPORTER_OTLP_CERTIFICATE or
// export.tls.ca) and mutual TLS (client certificate and key). Certificates are made with
// openssl for each run; the receiver is a real https server decoding with the official schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TraceFlags } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from '../../src/agent/config.js';
import { newSpanId, newTraceId } from '../../src/pipeline/span-ids.js';
import { makeLiveSpan } from '../support/live-span.js';
import { createHttpTransport } from '../../src/export/http-send.js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { createFixedClock } from '../../src/model/clock.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { makeTestCerts, type TestCerts } from '../support/test-certs.js';

let dir: string;
const pem = (name: string) => join(dir, name);

function oneSpanRequest(): Uint8Array {
  const clock = createFixedClock(1_700_000_000e9);
  const span = makeLiveSpan({
    name: 'tls test span', parent: { traceId: newTraceId(), spanId: newSpanId(), traceFlags: TraceFlags.SAMPLED },
    startNs: 0, endNs: 1000, attributes: {}, resource: resourceFromAttributes({ 'service.name': 'tls-test' }), clock,
  });
  return ProtobufTraceSerializer.serializeRequest([span])!;
}

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
  dir = certs.dir;
});
afterAll(() => { certs.remove(); });

describe('export to an https collector', () => {
  let server: OtlpReceiver;
  let mutual: OtlpReceiver;
  beforeAll(async () => {
    server = await startOtlpReceiver({ tls: { key: readFileSync(pem('server.key')), cert: readFileSync(pem('server.pem')) } });
    mutual = await startOtlpReceiver({ tls: { key: readFileSync(pem('server.key')), cert: readFileSync(pem('server.pem')), ca: readFileSync(pem('ca.pem')) } });
  });
  afterAll(async () => { await server.close(); await mutual.close(); });

  const send = (url: string, tls?: { ca?: string; cert?: string; key?: string }) =>
    createHttpTransport({ url, headers: {}, timeoutMillis: 5_000, compression: 'none', tls }).send(oneSpanRequest(), 'pb');

  it('refuses a collector whose certificate it cannot verify, and keeps the batch for a retry', async () => {
    const outcome = await send(server.tracesUrl);
    expect(outcome.kind).toBe('retryable');
    // the reason (counted in gostall_export_failures_total) says it is about the certificate
    expect(outcome.kind === 'retryable' && outcome.reason).toMatch(/cert|signature|verify/i);
    expect(server.spans).toHaveLength(0);
  });

  it('delivers with the collector CA from the environment, as the agent configures it', async () => {
    const config = loadAgentConfig({ endpoint: server.tracesUrl, stateDir: dir }, { OTEL_EXPORTER_OTLP_CERTIFICATE: pem('ca.pem') });
    expect(config.export.tls).toEqual({ ca: pem('ca.pem') });
    const outcome = await send(server.tracesUrl, config.export.tls);
    expect(outcome.kind).toBe('success');
    const got = await server.waitForSpans(1, 5_000);
    expect(got[0]!.name).toBe('tls test span');
  });

  it('presents the client certificate a mutual-TLS collector asks for', async () => {
    expect((await send(mutual.tracesUrl, { ca: pem('ca.pem') })).kind).toBe('retryable');
    const config = loadAgentConfig({ endpoint: mutual.tracesUrl, stateDir: dir }, {
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: pem('ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pem('client.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: pem('client.key'),
    });
    expect((await send(mutual.tracesUrl, config.export.tls)).kind).toBe('success');
    expect((await mutual.waitForSpans(1, 5_000))).toHaveLength(1);
  });
});

describe('TLS settings that cannot work are refused at start, naming the setting', () => {
  const load = (env: NodeJS.ProcessEnv, endpoint = 'https://collector.example:4318/v1/traces') => () => loadAgentConfig({ endpoint, stateDir: dir }, env);

  it('names an unreadable file', () => {
    expect(load({ OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') })).toThrow(ConfigError);
    expect(load({ OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') })).toThrow(/OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read .*missing\.pem: ENOENT/);
  });

  it('wants a client certificate and its key together', () => {
    expect(load({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pem('client.pem') })).toThrow(/OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: a client certificate needs its key/);
  });

  it('refuses TLS files for a plain http endpoint, without printing its credentials', () => {
    const f = load({ OTEL_EXPORTER_OTLP_CERTIFICATE: pem('ca.pem') }, 'http://user:secret@collector.example:4318/v1/traces');
    expect(f).toThrow(/endpoint is not https/);
    expect(f).not.toThrow(/secret/);
  });

  it('takes export.tls from the config file over the environment', () => {
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ export: { tls: { ca: pem('ca.pem') } } }));
    const c = loadAgentConfig({ endpoint: 'https://c.example/v1/traces', stateDir: dir, config }, { OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') });
    expect(c.export.tls).toEqual({ ca: pem('ca.pem') });
    writeFileSync(config, JSON.stringify({ export: { tls: { ca: 'relative.pem' } } }));
    expect(() => loadAgentConfig({ endpoint: 'https://c.example/v1/traces', stateDir: dir, config }, {})).toThrow(/export\.tls\.ca/);
  });
});
