// A collector that is not there costs the user a warning, never the command's exit code or
// the trace file, and the warning does not leak credentials from the URL or the headers.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { closedPort, readTraceFile, rootSpan, runGostall, type GostallRun } from './harness.js';

const URL_PASSWORD = 'pw-9d2c-secret';
const HEADER_TOKEN = 'hdr-51ab-secret';

let work: string;
let port: number;
let out: string;
let run: GostallRun;
let spans: DecodedSpan[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-export-'));
  port = await closedPort();
  out = join(work, 'trace.jsonl');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) env[k] = v;
  run = await runGostall(['run', '--out', out, '--endpoint', `http://gostall:${URL_PASSWORD}@127.0.0.1:${port}`, '--', 'sh', '-c', 'echo out; exit 7'], {
    env: { ...env, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${HEADER_TOKEN}`, OTEL_EXPORTER_OTLP_TIMEOUT: '2000' },
  });
  spans = await readTraceFile(out);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('an OTLP endpoint nobody listens on', () => {
  it('leaves the command’s exit code and output alone', () => {
    expect(run.code, run.stderr).toBe(7);
    expect(run.stdout.toString()).toBe('out\n');
  });

  it('prints one warning naming the endpoint without its password, and says the file is complete', () => {
    const warnings = run.stderr.split('\n').filter((l) => l.includes('could not send the trace'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${port}/v1/traces`);
    expect(warnings[0]).toContain(`(the file ${out} is complete)`);
  });

  it('never prints the URL password or the header value', () => {
    expect(run.stderr).not.toContain(URL_PASSWORD);
    expect(run.stderr).not.toContain(HEADER_TOKEN);
  });

  it('still writes the whole trace to the file, privately', async () => {
    const root = rootSpan(spans);
    expect(root.name).toBe('sh');
    expect(root.attributes['process.exit.code']).toBe(7);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });
});
