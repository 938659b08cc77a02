/**
 * An agent confined to one cgroup (config `cgroup`) and `gostall run`: a run whose command
 * starts inside that cgroup is followed by the agent; one outside it is refused at once with
 * the reason (the agent's tracer would never see it start), and traces on its own.
 * The same agent runs with its default `tracer.stderr: false`: what the runs it follows
 * write to stderr reaches the terminal, and no span.
 */
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgentProcess, type RunningAgent } from '../agent/support.js';
import { processSpans, readTraceFile, runGostall } from './harness.js';
import { argvInCgroup, TEST_CGROUP_PREFIX } from '../support/faults/cgroups.js';
import { readMountTable } from '../../src/diagnose/mounts.js';

let agent: RunningAgent | undefined;
let dir: string;
let scope: string | undefined;
let socketPath: string;

function cgroup2Root(): string {
  const m = readMountTable().entries.find((e) => e.fsType === 'cgroup2');
  if (!m) throw new Error('no cgroup v2 mount: this test needs one');
  return m.mountPoint;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-run-cgroup-'));
  await chmod(dir, 0o755);
  scope = join(cgroup2Root(), `${TEST_CGROUP_PREFIX}scope-${process.pid}`);
  mkdirSync(scope);
  socketPath = join(dir, 'agent/run.sock');
  agent = await startAgentProcess({ executables: ['go'], cgroup: scope, run: { socket: socketPath }, export: { out: join(dir, 'agent.otlp.jsonl') } });
  await agent.waitHealthy();
}, 120_000);

afterAll(async () => {
  await agent?.cleanup();
  // its processes have all exited by now; the kernel may take a moment to let it go
  for (let i = 0; scope && existsSync(scope) && i < 50; i++) {
    try { rmdirSync(scope); } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  await rm(dir, { recursive: true, force: true });
});

async function answered(): Promise<{ requests: number; refused: number }> {
  const m = await agent!.metrics();
  return { requests: m.get('gostall_run_requests_total') ?? 0, refused: m.get('gostall_run_refused_total') ?? 0 };
}

it('follows a run inside its cgroup, and refuses one outside at once, which then traces on its own', async () => {
  const env = { ...process.env, GOSTALL_AGENT_SOCKET: socketPath };
  const before = await answered();

  const outside = join(dir, 'outside.otlp.jsonl');
  const out = await runGostall(['run', '--out', outside, '--', 'sh', '-c', 'exit 4'], { env });
  expect(out.code).toBe(4);
  expect(out.stderr).toMatch(/the agent at .* refused: process \d+ is outside the cgroup this agent traces \(.*gostall-test-scope-\d+\); tracing on its own/);
  expect(processSpans(await readTraceFile(outside))).toHaveLength(1);

  // inside: a shell joins the cgroup, then becomes gostall run, whose shim starts there too
  const inside = join(dir, 'inside.otlp.jsonl');
  const into = await runGostall(['run', '--out', inside, '--', 'sh', '-c', 'echo not-for-the-trace >&2; exit 5'], {
    env, wrap: ([cmd, ...args]) => { const a = argvInCgroup(join(scope!, 'cgroup.procs'), cmd!, args); return [a.file, ...a.args]; },
  });
  expect(into.code).toBe(5);
  expect(into.stderr).not.toMatch(/tracing on its own|Attaching/);
  const followed = processSpans(await readTraceFile(inside));
  expect(followed).toHaveLength(1);
  // tracer.stderr off (the default) — the terminal got it, the trace did not
  expect(into.stderr).toContain('not-for-the-trace');
  expect(followed[0]!.attributes['gostall.stderr']).toBeUndefined();

  const after = await answered();
  expect(after.refused).toBe(before.refused + 1);
  expect(after.requests).toBe(before.requests + 2);
});
