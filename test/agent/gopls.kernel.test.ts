// A gopls stuck loading a workspace on a slow FUSE mount is visible while it is stuck:
// the agent exports a stall episode (cause fs.slow_metadata, evidence naming the mount)
// under gopls's own trace before gopls has answered its editor, and the gopls span that
// follows at exit is the parent of those episodes. The same session on a local disk has
// no stall episode at all.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSlowFuse, type SlowFuseMount } from '../support/faults/slowFuse.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { startGopls } from '../../bench/lsp-client.js';
import { sleep, startAgentProcess, waitForValue, type RunningAgent } from './support.js';

let receiver: OtlpReceiver;
let agent: RunningAgent;
let dir: string;

/** A module with a few packages: enough for gopls's go list to stat a few hundred paths. */
async function writeModule(root: string): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'go.mod'), 'module example.com/ws\n\ngo 1.19\n');
  for (let i = 1; i <= 6; i++) {
    await mkdir(join(root, `pkg${i}`), { recursive: true });
    await writeFile(join(root, `pkg${i}`, 'a.go'), `package pkg${i}\n\nfunc F${i}() int { return ${i} }\n`);
    await writeFile(join(root, `pkg${i}`, 'b.go'), `package pkg${i}\n\nfunc G${i}() int { return ${i} }\n`);
  }
  await writeFile(join(root, 'main.go'), 'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/ws/pkg1"\n)\n\nfunc main() { fmt.Println(pkg1.F1()) }\n');
}

const waitFor = <T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> =>
  waitForValue(what, find, timeoutMs, { receiver, agent });

const isEpisode = (s: DecodedSpan): boolean => s.name.startsWith('stall ');

/** pids of the processes pid started, and theirs (from /proc/PID/task/TID/children). */
function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    let tids: string[] = [];
    try { tids = readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const tid of tids) {
      let kids = '';
      try { kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8'); } catch { continue; }
      for (const k of kids.split(' ').filter(Boolean).map(Number)) { out.push(k); stack.push(k); }
    }
  }
  return out;
}
const killPids = (pids: number[]): void => { for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ } };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-gopls-test-'));
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({
    executables: ['gopls', 'go', 'gofmt'],
    export: { endpoint: receiver.url, batch: { delay: '100ms' } },
    episodes: { minDuration: '2s', reportEvery: '3s' },
    windows: { every: '5s' },
  });
  await agent.waitHealthy();
});

afterAll(async () => {
  await agent?.stop();
  await agent?.cleanup();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('gostall agent and gopls', () => {
  it('reports a gopls stuck on a slow FUSE workspace while it is still stuck', async () => {
    const backing = join(dir, 'slow-backing');
    await writeModule(backing);
    let mount: SlowFuseMount | undefined;
    let gopls: Awaited<ReturnType<typeof startGopls>> | undefined;
    try {
      mount = await mountSlowFuse({ backingDir: backing, mountPoint: join(dir, 'slow-ws'), getattrDelayMs: 100 });
      gopls = await startGopls(mount.mountPoint);
      const g = gopls;
      const mountPoint = mount.mountPoint;
      // An episode of gopls or of the go list it runs, blamed on the mount.
      const episode = await waitFor('a stall episode naming the FUSE mount', () => receiver.spans.find((s) =>
        isEpisode(s) && String(s.attributes['gostall.episode.evidence']).includes(mountPoint) && s.attributes['gostall.cause'] === 'fs.slow_metadata'), 60_000);
      // …received while gopls has not answered yet: the user is still looking at "Loading…".
      expect(g.answered()).toBe(false);
      expect(g.proc.exitCode).toBeNull();
      expect(episode.attributes['gostall.episode.fs_type']).toBe(mount.fsType);
      expect(episode.attributes['gostall.episode.mount_point']).toBe(mountPoint);
      expect(String(episode.attributes['gostall.cause.evidence'])).toContain(mountPoint);
      expect(String(episode.attributes['gostall.cause.hint']).length).toBeGreaterThan(10);
      expect(Number(episode.attributes['gostall.episode.blocked_ns'])).toBeGreaterThanOrEqual(2e9);

      // Activity windows keep gopls visible while it runs: one covers a whole 5 s window it
      // lived through, so it can come up to 10 s after gopls started.
      await waitFor('an activity window of gopls', () => receiver.spans.find((s) => s.name === 'activity window' && s.attributes['process.pid'] === g.pid), 30_000);

      // gopls's own span comes at its exit, in the same trace, as the parent of its episodes —
      // even when a go list it started is still crawling the slow mount (killing gopls does
      // not end it): the agent does not wait for orphans.
      const started = descendantsOf(g.pid);
      await g.kill();
      gopls = undefined;
      let goplsSpan: DecodedSpan;
      try {
        goplsSpan = await waitFor('the gopls process span', () => receiver.spans.find((s) => s.name === 'gopls' && s.attributes['process.pid'] === g.pid), 20_000);
      } finally {
        killPids(started);
      }
      // The orphans' spans (if gopls left any) follow into the same trace once they end.
      const processSpanIds = (): Set<string> => new Set(receiver.spans.filter((s) => s.traceId === goplsSpan.traceId &&
        s.attributes['process.pid'] !== undefined && !isEpisode(s) && s.name !== 'activity window').map((s) => s.spanId));
      const episodes = receiver.spans.filter((s) => s.traceId === goplsSpan.traceId && isEpisode(s));
      expect(episodes.length).toBeGreaterThan(0);
      await waitFor('the process spans of every episode', () => (episodes.every((e) => processSpanIds().has(e.parentSpanId!)) ? true : undefined), 20_000);
      const inTrace = receiver.spans.filter((s) => s.traceId === goplsSpan.traceId);
      expect(episodes.some((e) => e.attributes['gostall.episode.in_progress'] === true)).toBe(true);
      expect(goplsSpan.attributes['gostall.causes']).toContain('fs.slow_metadata');
      // the activity windows are in gopls's trace, under its span
      expect(inTrace.some((s) => s.name === 'activity window' && s.parentSpanId === goplsSpan.spanId)).toBe(true);
    } finally {
      await gopls?.kill();
      await mount?.restore();
    }
  });

  it('reports a stat stuck on a hung FUSE server while it is stuck, with the path it waits for', async () => {
    const backing = join(dir, 'hung-backing');
    await writeModule(backing);
    let mount: SlowFuseMount | undefined;
    let child: ReturnType<typeof spawn> | undefined;
    try {
      // Every lookup takes 60 s: the first stat never returns while the test looks.
      mount = await mountSlowFuse({ backingDir: backing, mountPoint: join(dir, 'hung-ws'), getattrDelayMs: 60_000 });
      const file = join(mount.mountPoint, 'main.go');
      child = spawn('gofmt', ['-l', file], { stdio: 'ignore' });
      const pid = child.pid!;
      // (the path of a call in flight is read from the thread's memory asynchronously and is
      // named from the next look on, a second later: an earlier episode may not have it yet)
      const episode = await waitFor('an in-progress stall episode of the hung gofmt, naming its path', () => receiver.spans.find((s) =>
        isEpisode(s) && s.attributes['process.pid'] === pid && s.attributes['gostall.episode.in_progress'] === true &&
        Number(s.attributes['gostall.episode.calls_in_flight']) >= 1 && s.attributes['file.path'] !== undefined), 30_000);
      expect(child.exitCode).toBeNull();
      expect(String(episode.attributes['file.path'])).toContain(mount.mountPoint);
      expect(episode.attributes['gostall.episode.fs_type']).toBe(mount.fsType);
      expect(String(episode.attributes['gostall.episode.evidence'])).toMatch(/still in flight/);
    } finally {
      child?.kill('SIGKILL');
      await mount?.restore();
    }
  });

  it('reports no stall episode for the same session on a local disk', async () => {
    const ws = join(dir, 'healthy-ws');
    await writeModule(ws);
    const g = await startGopls(ws);
    try {
      await g.symbols;
      await sleep(3_000);
    } finally {
      await g.kill();
    }
    const goplsSpan = await waitFor('the gopls process span', () => receiver.spans.find((s) => s.name === 'gopls' && s.attributes['process.pid'] === g.pid), 20_000);
    const inTrace = receiver.spans.filter((s) => s.traceId === goplsSpan.traceId);
    expect(inTrace.filter(isEpisode)).toEqual([]);
    // (cpu.contention may be said of a busy shared machine; nothing about the filesystem is)
    expect((goplsSpan.attributes['gostall.causes'] as string[]).filter((c) => c.startsWith('fs.'))).toEqual([]);
    // go list and friends ran under gopls and are in its trace
    expect(inTrace.some((s) => s.name.startsWith('go '))).toBe(true);
  });
});
