// A bad export setting stops gostall before it traces anything: exit 2 and one line on
// stderr naming the variable or flag — and never the header values it was given.
import { describe, expect, it } from 'vitest';
import { runGostall } from '../integration/harness.js';

const SECRET = 'Bearer cli-test-secret-41c9';

/** The caller's environment without its OTEL_* settings, plus these. */
function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) out[k] = v;
  return { ...out, ...extra };
}

describe('bad export settings exit 2 with one line naming them', () => {
  const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['run, an unknown protocol', ['run', '--', 'true'], { OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' },
      /^gostall run: OTEL_EXPORTER_OTLP_PROTOCOL: must be one of http\/protobuf, http\/json, grpc, got "thrift"$/],
    ['run, --protocol wrong', ['run', '--protocol', 'grpcs', '--', 'true'], {}, /^gostall run: --protocol: must be one of/],
    ['run, malformed headers', ['run', '--', 'true'], { OTEL_EXPORTER_OTLP_HEADERS: `authorization ${SECRET}` },
      /^gostall run: OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas$/],
    ['replay, an unreadable certificate', ['replay', '--out', '/dev/null', 'capture.txt'],
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://127.0.0.1:4318', OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem' },
      /^gostall replay: OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read \/nonexistent\/ca\.pem: ENOENT$/],
    ['replay, console exporter', ['replay', '--out', '/dev/null', 'capture.txt'], { OTEL_TRACES_EXPORTER: 'console' },
      /^gostall replay: OTEL_TRACES_EXPORTER: gostall exports with otlp \(or none\), not "console"/],
    ['agent, a bad timeout', ['agent', '--print-config', '--state-dir', '/tmp/gostall-cli-settings-test'],
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '5s', OTEL_EXPORTER_OTLP_HEADERS: `authorization=${encodeURIComponent(SECRET)}` },
      /^gostall agent: invalid configuration: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: expected milliseconds/],
  ];
  it.each(cases)('%s', async (_what, args, extra, message) => {
    const r = await runGostall(args, { env: env(extra) });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toContain('cli-test-secret');
    expect(r.stdout.toString()).toBe('');
  });

  it('the agent prints its settings with header values masked', async () => {
    const r = await runGostall(['agent', '--print-config', '--protocol', 'grpc', '--state-dir', '/tmp/gostall-cli-settings-test'],
      { env: env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_HEADERS: `authorization=${encodeURIComponent(SECRET)}` }) });
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout.toString()) as { export: { url: string; protocol: string; headers: Record<string, string> } };
    expect(printed.export).toMatchObject({ protocol: 'grpc', headers: { authorization: '<redacted>' } });
    expect(printed.export.url).toMatch(/^http:\/\/127\.0\.0\.1:4317\/?$/);
    expect(r.stdout.toString() + r.stderr).not.toContain('cli-test-secret');
  });
});
