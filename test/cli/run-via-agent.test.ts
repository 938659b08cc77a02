// run's side of the agent protocol against a fake agent on a Unix socket: after CMD's tree
// ends, run sends `flush` and takes `flushed` as the end of its records (every line sent
// before it is handed on first), even while the agent's records never go quiet; an agent
// from before flush (no answer) ends the wait by the old quiet rule.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { askAgent } from '../../src/cli/run-via-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-fake-agent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let server: Server | undefined;
let n = 0;
afterEach(async () => { await new Promise((r) => (server ? server.close(r) : r(undefined))); server = undefined; });

/** A fake agent: follows any pid, sends a record every 5 ms until told to stop; answers flush when `answersFlush`. */
async function fakeAgent(answersFlush: boolean): Promise<{ path: string; received: unknown[]; stop(): void }> {
  const path = join(dir, `fake-${n++}.sock`);
  const received: unknown[] = [];
  const sockets: Socket[] = [];
  let timer: NodeJS.Timeout | undefined;
  let i = 0;
  server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.on('close', () => clearInterval(timer));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)) as { type: string; pid?: number };
        buf = buf.slice(nl + 1);
        received.push(m);
        if (m.type === 'follow') {
          s.write(`${JSON.stringify({ v: 1, type: 'accepted', pid: m.pid })}\n`);
          s.write(`${JSON.stringify({ v: 1, type: 'following', pid: m.pid, syscallThresholdNs: 1e6, offcpuThresholdNs: 1e6 })}\n`);
          timer = setInterval(() => s.write(`${JSON.stringify({ v: 1, type: 'lines', lines: [`line ${i++}`] })}\n`), 5);
        } else if (m.type === 'flush' && answersFlush) {
          s.write(`${JSON.stringify({ v: 1, type: 'lines', lines: ['last before flushed'] })}\n${JSON.stringify({ v: 1, type: 'flushed' })}\n`);
        }
      }
    });
  });
  await new Promise<void>((r) => server!.listen(path, () => r()));
  return { path, received, stop: () => { clearInterval(timer); for (const s of sockets) s.destroy(); } };
}

describe('run asking the agent to flush', () => {
  it('ends its wait at `flushed`, with every record sent before it handed on, while records still flow', async () => {
    const agent = await fakeAgent(true);
    const lines: string[] = [];
    const asked = await askAgent(4242, { onFollowing() {}, onLine: (l) => lines.push(l) }, { GOSTALL_AGENT_SOCKET: agent.path }, 5000);
    expect(asked.ok).toBe(true);
    if (!asked.ok) return;
    // records every 5 ms never leave the old rule 100 quiet ms: only `flushed` can end this
    await asked.follow.quiet(100, 60_000);
    expect(lines).toContain('last before flushed');
    expect(agent.received).toContainEqual({ v: 1, type: 'flush' });
    asked.follow.close();
    agent.stop();
  });

  it('with an agent from before flush (no answer), ends when the records go quiet, as before', async () => {
    const agent = await fakeAgent(false);
    const asked = await askAgent(4243, { onFollowing() {}, onLine() {} }, { GOSTALL_AGENT_SOCKET: agent.path }, 5000);
    expect(asked.ok).toBe(true);
    if (!asked.ok) return;
    agent.stop(); // records stop (the connection with them)
    await asked.follow.quiet(50, 60_000);
    asked.follow.close();
  });
});
