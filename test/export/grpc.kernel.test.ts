// OTLP/gRPC end to end on the real kernel: `gostall run` and `gostall agent` trace a real
// go build and send it to an independent gRPC collector (grpc-js with the official
// trace_service.proto, decoded with the official schema). run goes over TLS with the
// collector's own CA; the agent rides out a collector outage through its on-disk spool and
// delivers every span once when the collector is back. Headers arrive as gRPC metadata
// and never appear in gostall's output.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGostall, type GostallRun } from '../integration/harness.js';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { startOtlpGrpcReceiver, type OtlpGrpcReceiver } from '../support/otlp-grpc-receiver.js';
import { makeTestCerts, type TestCerts } from '../support/test-certs.js';
import { startAgentProcess, type RunningAgent } from '../agent/support.js';

const SECRET = 'grpc-e2e-secret-5d0e';

let work: string;
let certs: TestCerts;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-grpc-e2e-'));
  certs = makeTestCerts();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  certs?.remove();
});

/** The caller's environment without OTEL_* settings, a hermetic Go setup, plus these. */
function cleanEnv(dir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) env[k] = v;
  return { ...env, ...goEnv({ gocache: join(dir, 'gocache'), gomodcache: join(dir, 'gomodcache'), home: join(dir, 'home') }), ...extra };
}

/** The go build trace: a root `go build` whose compile/link children hang under it in one trace. */
function checkBuildTrace(spans: DecodedSpan[], rootPid?: number): DecodedSpan {
  const root = spans.find((s) => s.name === 'go build' && s.parentSpanId === undefined && (rootPid === undefined || s.attributes['process.pid'] === rootPid));
  expect(root, `spans: ${spans.map((s) => s.name).join(', ')}`).toBeDefined();
  const trace = spans.filter((s) => s.traceId === root!.traceId);
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  // Every span but the root has its parent in the same trace.
  for (const s of trace) if (s !== root) expect(byId.has(s.parentSpanId!), s.name).toBe(true);
  const compile = trace.find((s) => s.attributes['process.executable.name'] === 'compile');
  expect(compile).toBeDefined();
  expect(compile!.attributes['process.executable.name']).toBe('compile');
  // compile's process parent is the go command
  expect(byId.get(compile!.parentSpanId!)?.name).toBe('go build');
  expect(root!.attributes['process.command_args']).toEqual(expect.arrayContaining(['go', 'build']));
  expect(root!.resource['telemetry.sdk.language']).toBe('nodejs');
  return root!;
}

describe('gostall run --protocol grpc over TLS', () => {
  let receiver: OtlpGrpcReceiver;
  let run: GostallRun;
  beforeAll(async () => {
    receiver = await startOtlpGrpcReceiver({ tls: { key: certs.read('server.key'), cert: certs.read('server.pem') } });
    const dir = join(work, 'run');
    await writeHelloModule(join(dir, 'mod'));
    run = await runGostall(['run', '--protocol', 'grpc', '--', 'go', 'build', '-o', join(dir, 'hello'), '.'], {
      cwd: join(dir, 'mod'),
      env: cleanEnv(dir, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_CERTIFICATE: certs.path('ca.pem'),
        OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${SECRET}`,
        OTEL_SERVICE_NAME: 'grpc-build',
      }),
    });
  });
  afterAll(async () => { await receiver?.close(); });

  it('exits with the build\'s code and says where the trace went', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`sent to ${receiver.url}/ (grpc)`);
  });

  it('the collector received the whole process tree, parented, with gostall\'s attributes', () => {
    const root = checkBuildTrace(receiver.spans);
    expect(root.resource['service.name']).toBe('grpc-build');
    expect(root.attributes['process.exit.code']).toBe(0);
  });

  it('headers arrive as gRPC metadata and are never printed', () => {
    expect(receiver.calls.length).toBeGreaterThan(0);
    expect(receiver.calls.every((c) => c.metadata.authorization === `Bearer ${SECRET}`)).toBe(true);
    expect(run.stderr + run.stdout.toString()).not.toContain(SECRET);
  });
});

describe('gostall agent over grpc through a collector outage', () => {
  let receiver: OtlpGrpcReceiver;
  let agent: RunningAgent;
  beforeAll(async () => {
    receiver = await startOtlpGrpcReceiver();
    agent = await startAgentProcess({
      export: {
        endpoint: receiver.url, protocol: 'grpc', headers: { authorization: `Bearer ${SECRET}` },
        batch: { delay: '100ms' }, backoff: { initial: '200ms', max: '1s' },
      },
    });
    await agent.waitHealthy();
  });
  afterAll(async () => {
    await agent?.cleanup();
    await receiver?.close();
  });

  it('spools while the collector is down and delivers every span once when it is back', async () => {
    const dir = join(work, 'agent');
    await writeHelloModule(join(dir, 'mod'));
    await receiver.stop();
    const build = spawn('go', ['build', '-o', join(dir, 'hello'), '.'], { cwd: join(dir, 'mod'), env: cleanEnv(dir, {}), stdio: 'ignore' });
    const buildPid = build.pid!;
    expect(await new Promise((r) => build.once('exit', r))).toBe(0);
    // Our build's spans reach the spool (other tools on the host may add theirs).
    await waitUntil(async () => ((await agent.metrics()).get('gostall_spool_spans') ?? 0) > 0, 60_000, agent);
    expect((await agent.metrics()).get('gostall_export_backing_off')).toBe(1);
    await receiver.restart();
    await waitUntil(async () => receiver.spans.some((s) => s.name === 'go build' && s.attributes['process.pid'] === buildPid), 60_000, agent);
    const stopped = await agent.stop();
    expect(stopped.code).toBe(0);
    checkBuildTrace(receiver.spans, buildPid);
    const ids = receiver.spans.map((s) => s.spanId);
    expect(new Set(ids).size).toBe(ids.length);
    const summary = /stopped: (\d+) spans produced, (\d+) exported, (\d+) dropped/.exec(stopped.stderr);
    expect(summary, stopped.stderr).not.toBeNull();
    expect(Number(summary![3])).toBe(0);
    expect(receiver.spans.length).toBe(Number(summary![1]));
    expect(receiver.calls.filter((c) => c.code === 0).every((c) => c.metadata.authorization === `Bearer ${SECRET}`)).toBe(true);
    expect(stopped.stderr).not.toContain(SECRET);
  }, 180_000);
});

/** Resolves once cond() holds (checked every 200 ms); fails with the agent's stderr after timeoutMs. */
async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, agent: RunningAgent): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms:\n${agent.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
