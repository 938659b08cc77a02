// An agent killed outright (SIGKILL, an OOM kill) gets no chance to stop its tracer: bpftrace
// must not stay behind with its probes attached to every syscall on the machine.
import { afterAll, describe, expect, it } from 'vitest';
import { isPidRunning as alive } from '../support/faults/common.js';
import { sleep, startAgentProcess, type RunningAgent } from './support.js';

let agent: RunningAgent | undefined;
let tracerPid = 0;

afterAll(async () => {
  await agent?.cleanup();
  if (tracerPid > 0) try { process.kill(tracerPid, 'SIGKILL'); } catch { /* gone, as it should be */ }
});

describe('an agent killed outright', () => {
  it('takes its bpftrace with it', async () => {
    agent = await startAgentProcess({ executables: ['go'], export: { endpoint: 'http://127.0.0.1:9/v1/traces' } });
    await agent.waitHealthy();
    tracerPid = (await agent.metrics()).get('gostall_tracer_pid') ?? 0;
    expect(tracerPid).toBeGreaterThan(0);
    expect(alive(tracerPid)).toBe(true);
    agent.proc.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while (alive(tracerPid) && Date.now() < deadline) await sleep(100);
    expect(alive(tracerPid)).toBe(false);
  });
});
