// When bpftrace dies (here: SIGKILL in the middle of a go build), the agent starts it again,
// says how long it was blind (on the spans that lived through the gap and in /metrics), and
// the builds that follow are traced completely.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { sleep, startAgentProcess, type RunningAgent } from './support.js';
import { mountNamespaceHarmless } from '../../src/agent/mount-namespace.js';
import { hasOwnEventList } from '../support/tracer-mounts.js';

let receiver: OtlpReceiver;
let agent: RunningAgent;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-restart-test-'));
  await writeHelloModule(join(dir, 'mod'), { withNetHttp: true });
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({
    export: { endpoint: receiver.url, batch: { delay: '100ms' } },
    tracer: { restartBackoff: { initial: '500ms', max: '2s' } },
  });
  await agent.waitHealthy();
});

afterAll(async () => {
  await agent?.stop();
  await agent?.cleanup();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A cold `go build` (fresh GOCACHE) of a module importing net/http: several seconds of compiles. */
function coldBuild(n: number): { pid: number; done: Promise<number | null> } {
  const env = goEnv({ gocache: join(dir, `cache${n}`), gomodcache: join(dir, 'modcache'), home: dir });
  const p = spawn('go', ['build', '-o', join(dir, `hello${n}`), '.'], { cwd: join(dir, 'mod'), env, stdio: 'ignore' });
  return { pid: p.pid!, done: new Promise((r) => p.once('exit', (code) => r(code))) };
}

async function rootSpanOf(pid: number, timeoutMs = 30_000): Promise<DecodedSpan> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = receiver.spans.find((x) => x.name === 'go build' && x.attributes['process.pid'] === pid && x.parentSpanId === undefined);
    if (s) return s;
    if (Date.now() > deadline) throw new Error(`no root span for go build pid ${pid}\n${agent.stderr()}`);
    await sleep(200);
  }
}

describe('tracer supervision', () => {
  it('gives its bpftrace a mount namespace of its own only where that pins no mount (tracer.mountNamespace "auto"), and says so', async () => {
    const tracerPid = (await agent.metrics()).get('gostall_tracer_pid')!;
    const harmless = mountNamespaceHarmless();
    expect(hasOwnEventList(tracerPid)).toBe(harmless);
    expect(agent.stderr().includes('bpftrace compiles against the whole tracepoint list')).toBe(!harmless);
  });

  it('restarts a killed bpftrace, records the gap, and traces later builds completely', async () => {
    const first = coldBuild(1);
    await sleep(2_000);
    const before = await agent.metrics();
    const tracerPid = before.get('gostall_tracer_pid')!;
    expect(tracerPid).toBeGreaterThan(0);
    // The pid comes from the agent itself (its /metrics and its pid file), never from a name search.
    process.kill(tracerPid, 'SIGKILL');
    expect(await first.done).toBe(0);

    // Back: probes attached again by a new bpftrace.
    const deadline = Date.now() + 90_000;
    let m = await agent.metrics();
    while (!(m.get('gostall_tracer_up') === 1 && m.get('gostall_tracer_restarts_total')! >= 1)) {
      if (Date.now() > deadline) throw new Error(`tracer not restarted:\n${agent.stderr()}`);
      await sleep(250);
      m = await agent.metrics();
    }
    expect(m.get('gostall_tracer_pid')).not.toBe(tracerPid);
    expect(m.get('gostall_tracer_gap_seconds_total')).toBeGreaterThan(0);
    expect(await agent.health()).toBe(200);
    expect(agent.stderr()).toMatch(/bpftrace exited \(SIGKILL\)/);

    // The build that lived through the gap says so on its root span.
    const firstRoot = await rootSpanOf(first.pid, 60_000);
    expect(Number(firstRoot.attributes['gostall.tracer.gap_ns'])).toBeGreaterThan(0);

    // A build after the restart is traced completely: every process with its exit code.
    const second = coldBuild(2);
    expect(await second.done).toBe(0);
    const root = await rootSpanOf(second.pid);
    expect(root.attributes['gostall.tracer.gap_ns']).toBeUndefined();
    expect(root.attributes['process.exit.code']).toBe(0);
    const trace = receiver.spans.filter((s) => s.traceId === root.traceId);
    const processes = trace.filter((s) => s.attributes['process.pid'] !== undefined);
    expect(processes.filter((s) => s.attributes['process.executable.name'] === 'compile').length).toBeGreaterThan(5);
    expect(processes.some((s) => s.attributes['process.executable.name'] === 'link')).toBe(true);
    for (const p of processes) {
      expect(p.attributes['process.exit.code']).toBe(0);
      expect(p.attributes['gostall.process.still_running']).toBeUndefined();
      expect(p.attributes['gostall.process.exit_unknown']).toBeUndefined();
    }
  });
});
