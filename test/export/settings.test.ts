// Where spans go is decided the same way by run, agent and replay: flags > config file >
// OTEL_* variables > defaults, with the OpenTelemetry specification's rules. Every case
// below is resolved through each command's own option parsing and must come out the same.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/agent/config.js';
import { parseReplayOptions } from '../../src/cli/replay.js';
import { parseRunOptions } from '../../src/cli/run.js';
import type { ExportSettings } from '../../src/export/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-settings-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const OUT = join(dir, 'out.otlp.jsonl');
const STATE = join(dir, 'state');
const pem = (name: string): string => {
  const p = join(dir, name);
  writeFileSync(p, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  return p;
};
const CA = pem('ca.pem');
const CA2 = pem('ca2.pem');
const CERT = pem('client.pem');
const KEY = pem('client.key');

interface Flags { endpoint?: string; protocol?: string }

/** The settings each command resolves for the same flags, config file and environment. */
function resolveAll(env: NodeJS.ProcessEnv, flags: Flags = {}, file?: object): { command: string; settings: ExportSettings }[] {
  const argv = [
    ...(flags.endpoint !== undefined ? ['--endpoint', flags.endpoint] : []),
    ...(flags.protocol !== undefined ? ['--protocol', flags.protocol] : []),
    '--out', OUT,
  ];
  let config: string | undefined;
  if (file) {
    config = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(config, JSON.stringify(file));
  }
  const out: { command: string; settings: ExportSettings }[] = [];
  // run has no config file
  if (!file) {
    const run = parseRunOptions([...argv, '--', 'true'], env);
    if (run.help) throw new Error('unexpected --help');
    out.push({ command: 'run', settings: run.exportSettings });
  }
  const replay = parseReplayOptions([...argv, ...(config ? ['--config', config] : []), 'capture.txt'], env);
  if (replay.help) throw new Error('unexpected --help');
  out.push({ command: 'replay', settings: replay.exportSettings });
  out.push({ command: 'agent', settings: loadAgentConfig({ ...flags, out: OUT, stateDir: STATE, config }, env).export.settings });
  return out;
}

/** One command's answer, after checking that every command gave the same. */
function resolveSame(env: NodeJS.ProcessEnv, flags: Flags = {}, file?: object): ExportSettings {
  const all = resolveAll(env, flags, file);
  for (const { command, settings } of all.slice(1)) {
    expect({ command, settings }).toEqual({ command, settings: all[0]!.settings });
  }
  return all[0]!.settings;
}

type Case = [what: string, env: NodeJS.ProcessEnv, flags: Flags, file: object | undefined, expected: Record<string, unknown> | undefined];

const cases: Case[] = [
  ['nothing set: no collector', {}, {}, undefined, undefined],
  ['OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318' }, {}, undefined,
    { url: 'http://gw:4318/v1/traces', protocol: 'http/protobuf', urlSource: 'OTEL_EXPORTER_OTLP_ENDPOINT' }],
  ['OTEL_EXPORTER_OTLP_ENDPOINT with a path prefix keeps it', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318/otlp' }, {}, undefined,
    { url: 'http://gw:4318/otlp/v1/traces' }],
  ['... with a trailing slash too', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw/otlp/' }, {}, undefined, { url: 'https://gw/otlp/v1/traces' }],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://gw:4318/custom/path' }, {}, undefined,
    { url: 'http://gw:4318/custom/path', urlSource: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' }],
  ['the traces endpoint wins over the generic one',
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/v1/traces' }, {}, undefined,
    { url: 'http://traces:4318/v1/traces' }],
  ['grpc: the endpoint is host:port, no path appended', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4317/otlp' }, {}, undefined,
    { url: 'http://gw:4317', protocol: 'grpc' }],
  ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins over OTEL_EXPORTER_OTLP_PROTOCOL',
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, {}, undefined,
    { url: 'http://gw:4318/v1/traces', protocol: 'http/json' }],
  ['--protocol wins over the variables', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4317', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, { protocol: 'grpc' }, undefined,
    { url: 'http://gw:4317', protocol: 'grpc' }],
  ['--endpoint wins over both variables (a base URL gets /v1/traces)',
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/x' }, { endpoint: 'http://flag:4318' }, undefined,
    { url: 'http://flag:4318/v1/traces', urlSource: '--endpoint' }],
  ['--endpoint naming a path is used as it is', {}, { endpoint: 'http://flag:4318/otlp/v1/traces' }, undefined, { url: 'http://flag:4318/otlp/v1/traces' }],
  ['headers: generic and traces lists merge, the traces one wins per key, values percent-decoded',
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=generic', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=traces%20only, c = 3' }, {}, undefined,
    { headers: { a: '1', b: 'traces only', c: '3' } }],
  ['timeout: default 10 s', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318' }, {}, undefined, { timeoutMillis: 10_000, compression: 'none', tls: {} }],
  ['timeout: the traces variable wins', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_EXPORTER_OTLP_TIMEOUT: '1000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500' }, {}, undefined,
    { timeoutMillis: 2500 }],
  ['timeout: the generic variable', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_EXPORTER_OTLP_TIMEOUT: '1000' }, {}, undefined, { timeoutMillis: 1000 }],
  ['compression: the traces variable wins', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none' }, {}, undefined,
    { compression: 'none' }],
  ['compression: gzip', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, {}, undefined, { compression: 'gzip' }],
  ['certificates: the traces variables win, client certificate and key from the generic ones', {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw:4318', OTEL_EXPORTER_OTLP_CERTIFICATE: CA2, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: CA,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: CERT, OTEL_EXPORTER_OTLP_CLIENT_KEY: KEY,
  }, {}, undefined, { tls: { ca: CA, cert: CERT, key: KEY } }],
  ['certificates: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE / _KEY', {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw:4318', OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: CERT, OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: KEY,
  }, {}, undefined, { tls: { cert: CERT, key: KEY } }],
  ['OTEL_TRACES_EXPORTER=otlp changes nothing', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_TRACES_EXPORTER: 'otlp' }, {}, undefined,
    { url: 'http://gw:4318/v1/traces' }],
  ['OTEL_SDK_DISABLED=false changes nothing', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_SDK_DISABLED: 'false' }, {}, undefined,
    { url: 'http://gw:4318/v1/traces' }],
  ['config file: export.* wins over the variables', {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_HEADERS: 'a=env,b=env', OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'none', OTEL_EXPORTER_OTLP_CERTIFICATE: CA2,
  }, {}, { export: { endpoint: 'https://file:4317', protocol: 'grpc', headers: { b: 'file' }, timeout: '3s', compression: 'gzip', tls: { ca: CA } } },
  { url: 'https://file:4317', urlSource: 'export.endpoint', protocol: 'grpc', headers: { a: 'env', b: 'file' }, timeoutMillis: 3000, compression: 'gzip', tls: { ca: CA } }],
  ['config file: flags win over it', {}, { endpoint: 'http://flag:4318', protocol: 'http/json' }, { export: { endpoint: 'http://file:4318', protocol: 'grpc' } },
    { url: 'http://flag:4318/v1/traces', protocol: 'http/json' }],
];

describe('run, agent and replay resolve export settings identically', () => {
  it.each(cases)('%s', (_what, env, flags, file, expected) => {
    const s = resolveSame(env, flags, file);
    if (expected === undefined) {
      expect(s.otlp).toBeUndefined();
      expect(s.endpointConfigured).toBe(false);
    } else {
      expect(s.otlp).toMatchObject(expected);
      expect(s.endpointConfigured).toBe(true);
    }
    expect(s.out).toBe(OUT);
  });

  it.each([
    ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true' }, /OTEL_SDK_DISABLED=true: no spans are sent/],
    ['OTEL_SDK_DISABLED=TRUE', { OTEL_SDK_DISABLED: 'TRUE' }, /OTEL_SDK_DISABLED=true/],
    ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none' }, /OTEL_TRACES_EXPORTER=none: no spans are sent/],
  ])('%s switches export off, even with --endpoint, and says so once', (_what, env, notice) => {
    const s = resolveSame({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', ...env }, { endpoint: 'http://flag:4318' });
    expect(s.otlp).toBeUndefined();
    expect(s.exportDisabled).toBe(true);
    expect(s.endpointConfigured).toBe(true);
    expect(s.notices).toHaveLength(1);
    expect(s.notices[0]).toMatch(notice);
  });

  it('OTEL_SDK_DISABLED with a value that is neither true nor false is false, with a notice', () => {
    const s = resolveSame({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw:4318', OTEL_SDK_DISABLED: 'yes' });
    expect(s.otlp?.url).toBe('http://gw:4318/v1/traces');
    expect(s.notices).toEqual([expect.stringMatching(/OTEL_SDK_DISABLED="yes" is neither true nor false: taken as false/)]);
  });

  it('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read once, for every command', () => {
    const s = resolveSame({ OTEL_SERVICE_NAME: 'ci-build', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci,team=build%20tools' });
    expect(s.resource).toEqual({ serviceName: 'ci-build', attributes: { 'deployment.environment': 'ci', team: 'build tools' } });
  });
});

describe('a bad value stops every command, naming the variable or flag', () => {
  const bad: [NodeJS.ProcessEnv, Flags, RegExp][] = [
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }, {}, /^(invalid configuration: )?OTEL_EXPORTER_OTLP_PROTOCOL: must be one of http\/protobuf, http\/json, grpc, got "thrift"$/],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc/json' }, {}, /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: must be one of/],
    [{}, { protocol: 'http' }, /--protocol: must be one of/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }, {}, /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, {}, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: not a valid URL/],
    [{}, { endpoint: 'ftp://c' }, /--endpoint: must be an http:\/\/ or https:\/\/ URL/],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'authorization' }, {}, /OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs/],
    [{ OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'bad key=1' }, {}, /OTEL_EXPORTER_OTLP_TRACES_HEADERS: "bad key" is not a valid header name/],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, {}, /OTEL_EXPORTER_OTLP_TIMEOUT: expected milliseconds as a positive integer/],
    [{ OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '0' }, {}, /OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: expected milliseconds/],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'br' }, {}, /OTEL_EXPORTER_OTLP_COMPRESSION: must be one of none, gzip/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw', OTEL_EXPORTER_OTLP_CERTIFICATE: join(dir, 'missing.pem') }, {}, /OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read .*missing\.pem: ENOENT/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw', OTEL_EXPORTER_OTLP_CLIENT_KEY: KEY }, {}, /OTEL_EXPORTER_OTLP_CLIENT_KEY: a client certificate needs its key/],
    [{ OTEL_TRACES_EXPORTER: 'console' }, {}, /OTEL_TRACES_EXPORTER: gostall exports with otlp \(or none\), not "console"/],
    [{ OTEL_TRACES_EXPORTER: 'otlp,zipkin' }, {}, /OTEL_TRACES_EXPORTER: .*not "zipkin"/],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'team' }, {}, /OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs/],
  ];
  it.each(bad)('%o %o', (env, flags, message) => {
    const argv = [...(flags.endpoint ? ['--endpoint', flags.endpoint] : []), ...(flags.protocol ? ['--protocol', flags.protocol] : []), '--out', OUT];
    expect(() => parseRunOptions([...argv, '--', 'true'], env)).toThrow(message);
    expect(() => parseReplayOptions([...argv, 'capture.txt'], env)).toThrow(message);
    expect(() => loadAgentConfig({ ...flags, out: OUT, stateDir: STATE }, env)).toThrow(message);
  });

  it('a malformed header list never shows its value', () => {
    const secret = 'Bearer-very-secret-token';
    for (const raw of [`authorization ${secret}`, `authorization=${secret}%0Ax`, `authorization=${secret}%zz`]) {
      try {
        parseRunOptions(['--', 'true'], { OTEL_EXPORTER_OTLP_HEADERS: raw });
        expect.unreachable();
      } catch (err) {
        expect((err as Error).message).toMatch(/^OTEL_EXPORTER_OTLP_HEADERS: /);
        expect((err as Error).message).not.toContain(secret);
      }
    }
  });
});
