// Proves the full-backlog listener stalls connects (SYN dropped and retried), that the
// closed port refuses, that `go build` feels both through GOPROXY, and that everything is torn down.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, sleep, stopChild } from '../support/faults/common.js';
import { goEnv, writeModuleNeedingDownload } from '../support/faults/goModule.js';
import {
  closedPort,
  measureConnect,
  readListenDrops,
  startFullBacklogListener,
  synRetransmitSchedule,
  type FullBacklogListener,
} from '../support/faults/tcpFaults.js';

let workDir: string;
let moduleDir: string;
let listener: FullBacklogListener | undefined;

/** Runs `go build` against GOPROXY=http://127.0.0.1:PORT, killing it (by pid) after `limitMs`. */
async function goBuildAgainstProxy(
  port: number,
  limitMs: number,
): Promise<{ finished: boolean; exitCode: number | null; output: string; elapsedMs: number }> {
  const env = {
    ...goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }),
    GOPROXY: `http://127.0.0.1:${port}`,
  };
  const started = performance.now();
  const child = spawn('go', ['build', '-o', '/dev/null', '.'], { cwd: moduleDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const winner = await Promise.race([exited.then(() => 'exited' as const), sleep(limitMs).then(() => 'late' as const)]);
  const elapsedMs = performance.now() - started;
  if (winner === 'late') await stopChild(child);
  return { finished: winner === 'exited', exitCode: child.exitCode, output, elapsedMs };
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gostall-tcp-test-'));
  moduleDir = join(workDir, 'needsdep');
  await writeModuleNeedingDownload(moduleDir);
});

afterEach(async () => {
  await listener?.restore();
  listener = undefined;
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('startFullBacklogListener', () => {
  it('drops new SYNs: a connect does not complete within 1.5 s and ListenDrops grows', async () => {
    listener = await startFullBacklogListener();
    expect(listener.prefilledConnections).toBeGreaterThanOrEqual(1);
    const dropsBefore = await readListenDrops();
    const attempt = await measureConnect(listener.port, { timeoutMs: 1_500 });
    const drops = (await readListenDrops()) - dropsBefore;
    console.log(`full backlog: connect ${attempt.outcome} after ${attempt.elapsedMs.toFixed(0)} ms, ListenDrops +${drops}`);
    expect(attempt.outcome).toBe('timeout');
    expect(attempt.elapsedMs).toBeGreaterThan(1_000);
    expect(drops).toBeGreaterThanOrEqual(2); // the SYN and its retransmission at ~1 s
  });

  it('a connect completes only at the next SYN retransmission after a queue slot frees up', async () => {
    listener = await startFullBacklogListener();
    const l = listener;
    const { sendTimesMs } = await synRetransmitSchedule();
    const freeAtMs = 1_500; // after the 1 s retransmission
    const nextSynMs = sendTimesMs.find((t) => t > freeAtMs)!; // 2 s on Linux 6.18, 3 s before 6.5
    const attempt = measureConnect(l.port, { timeoutMs: 8_000 });
    await sleep(freeAtMs);
    await l.acceptOne();
    const result = await attempt;
    console.log(
      `full backlog, slot freed at ${freeAtMs} ms: connect ${result.outcome} after ` +
        `${result.elapsedMs.toFixed(0)} ms (expected next SYN at ${nextSynMs} ms; schedule ${sendTimesMs.join(',')})`,
    );
    expect(result.outcome).toBe('connected');
    expect(result.elapsedMs).toBeGreaterThan(nextSynMs - 300);
    expect(result.elapsedMs).toBeLessThan(nextSynMs + 700);
  });

  it('predicts the SYN schedule from the sysctls', async () => {
    const schedule = await synRetransmitSchedule();
    expect(schedule.sendTimesMs[0]).toBe(0);
    expect(schedule.sendTimesMs[1]).toBe(1_000);
    expect(schedule.giveUpMs).toBeGreaterThan(schedule.sendTimesMs.at(-1)!);
    // Linux 6.18 defaults (tcp_syn_retries 6, tcp_syn_linear_timeouts 4): give up at ~131 s.
    // Measured once by hand (too slow for this suite): connect ETIMEDOUT after 134 s.
    expect(schedule.giveUpMs).toBeGreaterThan(60_000);
  });

  it('stalls go build when GOPROXY points at it', async () => {
    listener = await startFullBacklogListener();
    const build = await goBuildAgainstProxy(listener.port, 2_500);
    // Still waiting for the proxy's TCP handshake (measured by hand: go gives up after ~60 s).
    expect(build.finished).toBe(false);
  });

  it('restore stops the listener, after which the port refuses; restore twice is fine', async () => {
    listener = await startFullBacklogListener();
    const l = listener;
    await l.restore();
    expect(isPidAlive(l.serverPid)).toBe(false);
    expect((await measureConnect(l.port, { timeoutMs: 2_000 })).outcome).toBe('refused');
    await l.restore();
  });
});

describe('closedPort', () => {
  it('refuses connections at once, and go build fails fast with "connection refused"', async () => {
    const port = await closedPort();
    const attempt = await measureConnect(port);
    console.log(`closed port: connect ${attempt.outcome} (${attempt.error}) after ${attempt.elapsedMs.toFixed(1)} ms`);
    expect(attempt.outcome).toBe('refused');
    expect(attempt.elapsedMs).toBeLessThan(500);

    const build = await goBuildAgainstProxy(port, 30_000);
    expect(build.finished).toBe(true);
    expect(build.exitCode).not.toBe(0);
    expect(build.output).toMatch(/example\.com\/dep.*connection refused/s);
  });
});
