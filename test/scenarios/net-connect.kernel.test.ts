// Module downloads against a GOPROXY on loopback: one whose accept queue is full (the SYN is
// dropped and retransmitted a second later) is blamed on net.slow_connect; a closed port on
// net.connect_failed. Both on the go process, naming the peer.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { waitUntil } from '../support/faults/common.js';
import { goEnv, writeModuleNeedingDownload } from '../support/faults/goModule.js';
import { closedPort, startFullBacklogListener, type FullBacklogListener } from '../support/faults/tcpFaults.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, rootPid, startTraced, traced } from './harness.js';

let workDir: string;
let moduleDir: string;
let listener: FullBacklogListener | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-net-'));
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

function envFor(port: number): NodeJS.ProcessEnv {
  return cleanEnv({
    ...goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }),
    GOPROXY: `http://127.0.0.1:${port}`,
  });
}

const TCP_STATES: Record<string, string> = { '01': 'ESTABLISHED', '02': 'SYN_SENT', '08': 'CLOSE_WAIT' };

/** Client sockets to 127.0.0.1:port by local port, with their state, from /proc/net/tcp. */
async function clientSockets(port: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[2] === want) out.set(parseInt(f[1]!.split(':')[1]!, 16), TCP_STATES[f[3]!] ?? f[3]!);
  }
  return out;
}

it('a module download from a GOPROXY whose accept queue is full is blamed on net.slow_connect, naming the proxy', async () => {
  listener = await startFullBacklogListener();
  const l = listener;
  const fillers = new Set((await clientSockets(l.port)).keys());
  const handle = startTraced(['go', 'build', '-o', '/dev/null', '.'], { cwd: moduleDir, env: envFor(l.port) });
  // go's first SYN is dropped (the queue is full): free one slot, so its retransmission ~1 s later gets in.
  let goPort = 0;
  await waitUntil(async () => {
    if (handle.child.exitCode !== null) throw new Error(`gostall ended before go connected:\n${handle.stderr()}`);
    for (const [p, state] of await clientSockets(l.port)) if (!fillers.has(p) && state === 'SYN_SENT') goPort = p;
    return goPort !== 0;
  }, 'go to send its SYN', { timeoutMs: 60_000, intervalMs: 20 });
  await l.acceptOne();
  await waitUntil(async () => (await clientSockets(l.port)).get(goPort) === 'ESTABLISHED', 'the retransmitted SYN to get in', { timeoutMs: 10_000 });
  // Then accept and close every connection go makes (it fetches .mod, then .zip): go reads a
  // reset and gives up on the download instead of waiting for an answer forever.
  let finished = false;
  void handle.done.finally(() => { finished = true; }).catch(() => undefined);
  const deadline = Date.now() + 30_000;
  while (!finished && Date.now() < deadline) {
    const waiting = [...(await clientSockets(l.port))].some(([p, state]) => !fillers.has(p) && state === 'ESTABLISHED');
    if (waiting) await l.acceptOne();
    else await new Promise((r) => setTimeout(r, 50));
  }
  const run = await handle.done;
  logOutcome('GOPROXY with a full accept queue', run);
  expect(run.exitCode).not.toBe(0);
  const cause = expectSoleCause(run, 'net.slow_connect', 'go build');
  expect(cause.pid).toBe(rootPid(run));
  expect(cause.evidence).toContain(`127.0.0.1:${l.port} (GOPROXY http://127.0.0.1:${l.port})`);
  expect(cause.evidence).toMatch(/took 1\.\d\d s/);
  expect(cause.attributes['gostall.cause.peer']).toBe(`127.0.0.1:${l.port}`);
});

it('a module download from a GOPROXY on a closed port is blamed on net.connect_failed, naming the proxy', async () => {
  const port = await closedPort();
  const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: moduleDir, env: envFor(port) });
  logOutcome('GOPROXY on a closed port', run);
  expect(run.exitCode).not.toBe(0);
  const cause = expectSoleCause(run, 'net.connect_failed', 'go build');
  expect(cause.pid).toBe(rootPid(run));
  expect(cause.evidence).toContain(`127.0.0.1:${port} (GOPROXY http://127.0.0.1:${port})`);
  expect(cause.evidence).toContain('refused');
  expect(cause.attributes['gostall.cause.peer']).toBe(`127.0.0.1:${port}`);
});
