/**
 * Two agents on one host (a host agent and a test's, or a restart racing its predecessor):
 * the second must not take the first one's `gostall run` socket away; a socket file left by
 * an agent that died is replaced (src/agent/run-server.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBareRunServer } from '../support/run-server.js';
import { createRefusalLog, REFUSALS_LOGGED_PER_MINUTE } from '../../src/agent/run-server.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'gostall-runsock-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const start = (path: string, log: string[] = []) => startBareRunServer(path, { log: (l) => log.push(l) });

/** What a request on the socket gets back (one reply line). */
function ask(path: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = '';
    s.on('connect', () => s.write(`${request}\n`));
    s.on('data', (d) => { got += d.toString(); if (got.includes('\n')) { s.destroy(); resolve(got.trim()); } });
    s.on('error', reject);
  });
}

describe('the run socket', () => {
  it('is not taken from an agent that still listens on it, and stays that agent\'s', async () => {
    const path = join(dir, 'run', 'run.sock');
    const first = await start(path);
    try {
      await expect(start(path)).rejects.toThrow(/another gostall agent already serves run requests there/);
      // the first still answers on the same path
      expect(await ask(path, 'not json')).toMatch(/"type":"error".*not JSON/);
      expect((lstatSync(path).mode & 0o777)).toBe(0o600);
      expect((lstatSync(join(dir, 'run')).mode & 0o7777)).toBe(0o700); // made by the agent: its own
    } finally {
      await first.close();
    }
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('leaves a directory it shares with other files as it is (a socket at /run/gostall.sock must not close /run)', async () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    writeFileSync(join(shared, 'someone-elses.pid'), '1\n');
    const path = join(shared, 'gostall.sock');
    const server = await start(path);
    try {
      expect(await ask(path, 'not json')).toMatch(/"type":"error".*not JSON/);
      expect((lstatSync(shared).mode & 0o7777)).toBe(0o755);
      expect((lstatSync(path).mode & 0o777)).toBe(0o600);
    } finally {
      await server.close();
    }
  });

  it('is refused in a directory other users may write in (a /tmp), which stays as it is', async () => {
    const open = join(dir, 'sticky');
    mkdirSync(open);
    chmodSync(open, 0o1777);
    await expect(start(join(open, 'run.sock'))).rejects.toThrow(/other users may write in .*sticky \(mode 1777\): give the socket a directory of its own/);
    expect((lstatSync(open).mode & 0o7777)).toBe(0o1777);
  });

  it('refuses at once a run for a shim that named itself when its tracer cannot see one (no rename hook)', async () => {
    const path = join(dir, 'run.sock');
    const server = await startBareRunServer(path, { historyDir: dir });
    try {
      const answer = await ask(path, `{"v":1,"type":"run","pid":${process.pid},"named":true,"history":false}`);
      expect(answer).toMatch(/"type":"error".*cannot see a shim that names itself/);
      // (the same request without `named` gets as far as the check of the process: not a shim)
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":false}`)).toMatch(/"type":"error".*is not a gostall run waiting/);
      // --json is a field of the run request: taken (as far as the same check) when true; any
      // other value is malformed, as every field this agent does not know is (what an agent
      // from before --json answers, at once, and bin/gostall then goes to Node)
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":false,"json":true}`)).toMatch(/"type":"error".*is not a gostall run waiting/);
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":false,"json":false}`)).toMatch(/"type":"error".*malformed/);
      // so are --html and the client-kept history, later fields; a field it does not know (--raw) is malformed
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":false,"html":true}`)).toMatch(/"type":"error".*is not a gostall run waiting/);
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":true,"clientHistory":true}`)).toMatch(/"type":"error".*is not a gostall run waiting/);
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":false,"html":false}`)).toMatch(/"type":"error".*malformed/);
      expect(await ask(path, `{"v":1,"type":"run","pid":${process.pid},"history":false,"raw":true}`)).toMatch(/"type":"error".*malformed/);
    } finally {
      await server.close();
    }
  });

  it('refuses at once, saying why, while its tracer is not attached (starting or restarting), and serves again once it is', async () => {
    const path = join(dir, 'run.sock');
    let attached = false;
    const server = await startBareRunServer(path, { historyDir: dir, tracerAttached: () => attached });
    try {
      for (const type of ['run', 'follow']) {
        const request = `{"v":1,"type":"${type}","pid":${process.pid}${type === 'run' ? ',"history":false' : ''}}`;
        // the first reply, before any `accepted`: run does not wait SHIM_WAIT_MILLIS for a start nobody can see
        expect(await ask(path, request)).toMatch(/"type":"error".*tracer is not attached yet/);
        attached = true;
        // the same request now gets as far as the check of the process (this test is no shim)
        expect(await ask(path, request)).toMatch(/"type":"error".*is not a gostall run waiting/);
        attached = false;
      }
      expect(server.stats.refused).toBe(4);
    } finally {
      await server.close();
    }
  });

  it('tells its log why it refused, one line a refusal, whatever the request held', async () => {
    const path = join(dir, 'run.sock');
    const log: string[] = [];
    const server = await start(path, log);
    try {
      await ask(path, 'not json');
      await ask(path, '{"v":1,"type":"follow","pid":1,"odd\\nkey\\u001b[31m":1}');
      const refusals = log.filter((l) => l.startsWith('refused a run request: '));
      expect(refusals).toHaveLength(2);
      expect(refusals[0]).toBe('refused a run request: malformed request: not JSON');
      // the request's own text, its control characters made harmless: still one line, no escape sequence
      expect(refusals[1]).toMatch(/^refused a run request: malformed request: .*odd\?key\?\[31m/);
      expect(refusals[1]).not.toMatch(/[\n\x1b]/);
    } finally {
      await server.close();
    }
  });

  it('logs at most REFUSALS_LOGGED_PER_MINUTE refusals a minute, and counts the rest in the next line', () => {
    const lines: string[] = [];
    let now = 0;
    const refused = createRefusalLog((l) => lines.push(l), () => now);
    for (let i = 0; i < REFUSALS_LOGGED_PER_MINUTE + 5; i++) refused(`bad ${i}`);
    expect(lines).toHaveLength(REFUSALS_LOGGED_PER_MINUTE);
    now = 60_000;
    refused('later');
    expect(lines.at(-1)).toBe('refused a run request: later (5 more refused before this one, not logged)');
    refused('after');
    expect(lines.at(-1)).toBe('refused a run request: after');
  });

  it('replaces a socket file nobody listens on (an agent that died), and serves there', async () => {
    const path = join(dir, 'run.sock');
    // a process that listens there and is killed leaves the socket file behind, as a killed agent does
    const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => dead.stdout!.once('data', r));
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    expect(lstatSync(path).isSocket()).toBe(true);
    const log: string[] = [];
    const server = await start(path, log);
    try {
      expect(log.join('\n')).toMatch(/gostall run requests on/);
      expect(await ask(path, '{"v":1,"type":"follow","pid":1}')).toMatch(/"type":"error"/);
    } finally {
      await server.close();
    }
  });
});
