/**
 * `gostall doctor` says whether run will go through an agent (src/cli/agent-status.ts): a
 * `status` request answered by the real run server, and what doctor makes of every other
 * answer (none, nothing listening, an agent from before, one that never answers).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentStatusLine, askAgentStatus } from '../../src/cli/agent-status.js';
import { startBareRunServer } from '../support/run-server.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'gostall-agent-status-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A listener at path that does what `answer` does with each connection. */
function listen(path: string, answer: (s: import('node:net').Socket) => void): Promise<Server> {
  const server = createServer(answer);
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

describe('the status of the agent run would ask', () => {
  it('comes from the agent: tracer attached or not, and whether it builds traces itself', async () => {
    const path = join(dir, 'run.sock');
    let attached = false;
    const server = await startBareRunServer(path, { historyDir: dir, tracerAttached: () => attached });
    try {
      const starting = await askAgentStatus(path);
      expect(starting).toEqual({ kind: 'up', tracerAttached: false, buildsTraces: true });
      expect(agentStatusLine(path, starting)).toMatchObject({ level: 'warn', what: expect.stringContaining('has not attached its tracer') });
      attached = true;
      const up = await askAgentStatus(path);
      expect(up).toEqual({ kind: 'up', tracerAttached: true, buildsTraces: true });
      expect(agentStatusLine(path, up)).toEqual({ level: 'ok', what: `a gostall agent serves run at ${path}, its tracer attached: run follows commands through it (no probe compile per command; bin/gostall without Node)` });
      // a status request is answered, not refused
      expect(server.stats).toMatchObject({ requests: 2, refused: 0 });
    } finally {
      await server.close();
    }
  });

  it('is "none" without a socket and "not listening" for a file nobody listens on: run traces on its own', async () => {
    const path = join(dir, 'run.sock');
    const none = await askAgentStatus(path);
    expect(none).toEqual({ kind: 'none' });
    expect(agentStatusLine(path, none)).toMatchObject({ level: 'note', what: `no gostall agent at ${path}: gostall run traces on its own (its own bpftrace, compiled for each command: ~0.8 s more per command)` });
    writeFileSync(path, '');
    const stale = await askAgentStatus(path);
    expect(stale).toEqual({ kind: 'not-listening' });
    expect(agentStatusLine(path, stale).what).toMatch(/^nothing listens at .* gostall run traces on its own/);
  });

  it('is "older" for an agent from before the status request (it answers that the request is malformed)', async () => {
    const path = join(dir, 'run.sock');
    const server = await listen(path, (s) => s.once('data', () => s.end('{"v":1,"type":"error","message":"malformed request: type: Invalid input"}\n')));
    try {
      const older = await askAgentStatus(path);
      expect(older).toEqual({ kind: 'older' });
      expect(agentStatusLine(path, older).level).toBe('ok');
    } finally {
      server.close();
    }
  });

  it('is "silent" for a listener that never answers, or hangs up without an answer', async () => {
    const path = join(dir, 'run.sock');
    const quiet = await listen(path, () => {});
    try {
      expect(await askAgentStatus(path, 100)).toEqual({ kind: 'silent' });
    } finally {
      quiet.close();
    }
    const rude = join(dir, 'rude.sock');
    const hangsUp = await listen(rude, (s) => s.destroy());
    try {
      const s = await askAgentStatus(rude);
      expect(s).toEqual({ kind: 'silent' });
      expect(agentStatusLine(rude, s)).toMatchObject({ level: 'warn', what: expect.stringContaining('did not answer a status request: run waits 100 ms for an answer, then traces on its own') });
    } finally {
      hangsUp.close();
    }
  });
});
