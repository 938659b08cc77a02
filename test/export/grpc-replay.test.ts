// gostall replay sends a recorded probe stream to an OTLP/gRPC collector configured only by
// OTEL_* variables: the independent gRPC receiver decodes the same spans the JSON lines file
// holds, with their parents and attributes, and the headers arrive as metadata, unprinted.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGostall } from '../integration/harness.js';
import { decodeOtlpJsonLines } from '../support/otlp-decode.js';
import { startOtlpGrpcReceiver, type OtlpGrpcReceiver } from '../support/otlp-grpc-receiver.js';
import { rec } from '../agent/stream.js';

const SECRET = 'replay-grpc-secret-0b7d';
const BOOT = 5_000_000_000_000;
const OFFSET = 1_700_000_000_000_000_000 - BOOT;

/** go build → compile, with a slow stat (an evidence span) and the exits. */
function capture(): string {
  const ts = BOOT;
  return `${[
    rec.ready(ts),
    rec.root(ts + 1e6, 4000, 1),
    ...rec.exec(ts + 1.1e6, 4000, 1, ['go', 'build', './...'], '/usr/lib/go-1.19/bin/go'),
    rec.fork(ts + 2e6, 4000, 4001),
    ...rec.exec(ts + 3e6, 4001, 4000, ['compile', '-o', 'x.a'], '/usr/lib/go-1.19/pkg/tool/linux_amd64/compile'),
    rec.syscall(ts + 200e6, 4001, 4001, 1, 120e6, 0, '/work/mod/go.mod'),
    rec.sum(ts + 300e6, 4001, 4001, 0, 40, 121e6),
    rec.sched(ts + 300e6, 4001, 4001),
    rec.exit(ts + 301e6, 4001),
    rec.sched(ts + 400e6, 4000, 4000),
    rec.exit(ts + 401e6, 4000),
  ].join('\n')}\n`;
}

let dir: string;
let receiver: OtlpGrpcReceiver;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-replay-grpc-'));
  receiver = await startOtlpGrpcReceiver();
});
afterAll(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

describe('gostall replay over grpc', () => {
  it('delivers the spans the file holds, parented and with their attributes', async () => {
    const input = join(dir, 'capture.txt');
    const out = join(dir, 'trace.otlp.jsonl');
    await writeFile(input, capture());
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) env[k] = v;
    const r = await runGostall(['replay', input, '--out', out, '--clock-offset', String(OFFSET)], {
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${SECRET}` },
    });
    expect(r.code, r.stderr).toBe(0);
    const fromFile = decodeOtlpJsonLines(await readFile(out, 'utf8'));
    expect(r.stderr).toContain(`sent ${fromFile.length} spans to ${receiver.url}/ (grpc)`);
    const key = (s: { spanId: string; name: string; parentSpanId: string | undefined }) => `${s.spanId} ${s.name} ${s.parentSpanId}`;
    expect(receiver.spans.map(key).sort()).toEqual(fromFile.map(key).sort());
    const build = receiver.spans.find((s) => s.name === 'go build')!;
    const compile = receiver.spans.find((s) => s.name === 'compile')!;
    expect(compile.parentSpanId).toBe(build.spanId);
    expect(build.attributes['process.command_args']).toEqual(['go', 'build', './...']);
    expect(receiver.spans.some((s) => s.name === 'newfstatat' && s.attributes['file.path'] === '/work/mod/go.mod')).toBe(true);
    expect(receiver.calls.every((c) => c.metadata['x-api-key'] === SECRET)).toBe(true);
    expect(r.stderr + r.stdout.toString()).not.toContain(SECRET);
  });
});
