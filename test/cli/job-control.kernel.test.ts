/**
 * Job control in a real terminal (tmux): Ctrl-Z stops the command, `fg` brings it back with
 * the terminal (it can read from it again), Ctrl-C ends it, and the shell sees the same exit
 * status — traced by `gostall run` (standalone and through an agent) exactly as untraced.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startAgentProcess, type RunningAgent } from '../agent/support.js';
import { GOSTALL_BIN, GOSTALL_FRONT } from '../integration/harness.js';

const session = `gostall-jobs-${process.pid}`;
let dir: string;
let agent: RunningAgent | undefined;

const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
const pane = (): string => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session);

/** Wait until the pane shows `re` (the test's timeout bounds this). */
async function shows(re: RegExp): Promise<RegExpMatchArray> {
  for (;;) {
    const m = pane().match(re);
    if (m) return m;
    await sleep(100);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-jobs-'));
  tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', 'env', 'PS1=$ ', 'bash', '--norc', '--noprofile', '-i');
  agent = await startAgentProcess({ executables: ['go'], run: { socket: join(dir, 'agent/run.sock') }, export: { out: join(dir, 'agent.jsonl') } });
  await agent.waitHealthy();
});

afterAll(async () => {
  try { tmux('kill-session', '-t', session); } catch { /* gone */ }
  await agent?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Ctrl-Z, fg, a line typed to the command, Ctrl-C; returns the exit status the shell saw. */
async function jobControl(tag: string, prefix: string): Promise<number> {
  tmux('send-keys', '-t', session, 'clear', 'Enter');
  tmux('clear-history', '-t', session);
  const cmd = `sh -c 'echo ${tag}-started; read x; echo ${tag}-got:$x; while :; do sleep 0.1; done'`;
  tmux('send-keys', '-t', session, '-l', `${prefix}${cmd}`);
  tmux('send-keys', '-t', session, 'Enter');
  await shows(new RegExp(`^${tag}-started`, 'm'));
  tmux('send-keys', '-t', session, 'C-z');
  await shows(/Stopped/);
  tmux('send-keys', '-t', session, 'fg', 'Enter');
  // back in the foreground: it reads the terminal again
  tmux('send-keys', '-t', session, '-l', 'hello');
  tmux('send-keys', '-t', session, 'Enter');
  await shows(new RegExp(`^${tag}-got:hello`, 'm'));
  tmux('send-keys', '-t', session, 'C-c');
  tmux('send-keys', '-t', session, '-l', `echo ${tag}-rc=$?`);
  tmux('send-keys', '-t', session, 'Enter');
  const m = await shows(new RegExp(`^${tag}-rc=(\\d+)`, 'm'));
  return Number(m[1]);
}

describe('job control in a terminal', () => {
  it('Ctrl-Z, fg and Ctrl-C behave as untraced, standalone and through the agent', { timeout: 180_000 }, async () => {
    const untraced = await jobControl('plain', '');
    const gostall = `${process.execPath} ${GOSTALL_BIN} run --out ${dir}/trace.jsonl -- `;
    const own = await jobControl('own', `GOSTALL_AGENT_SOCKET=${dir}/none.sock ${gostall}`);
    const via = await jobControl('via', `GOSTALL_AGENT_SOCKET=${dir}/agent/run.sock ${gostall}`);
    // bin/gostall, the installed command: through the agent without Node
    const front = await jobControl('front', `GOSTALL_AGENT_SOCKET=${dir}/agent/run.sock ${GOSTALL_FRONT} run --out ${dir}/front.jsonl -- `);
    expect(untraced).toBe(130);
    expect(own).toBe(untraced);
    expect(via).toBe(untraced);
    expect(front).toBe(untraced);
    const built = (await agent!.metrics()).get('gostall_run_traces_built_total');
    expect(built).toBe(1);
  });
});
