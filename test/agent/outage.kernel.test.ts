// A 60 s collector outage in the middle of continuous Go builds loses nothing: spans go to
// the on-disk spool while the collector is away and are replayed when it is back, and in
// the end every span the agent produced has been received exactly once.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { sleep, startAgentProcess, type RunningAgent } from './support.js';

let receiver: OtlpReceiver;
let agent: RunningAgent;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-outage-test-'));
  await writeHelloModule(join(dir, 'mod'));
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({
    export: { endpoint: receiver.url, batch: { delay: '100ms' }, backoff: { initial: '500ms', max: '5s' } },
  });
  await agent.waitHealthy();
});

afterAll(async () => {
  await agent?.cleanup();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Go builds and vets one after the other until stop() (warm cache: about one a second). */
function continuousBuilds(): { stop(): Promise<number> } {
  const env = goEnv({ gocache: join(dir, 'cache'), gomodcache: join(dir, 'modcache'), home: dir });
  let running = true;
  let count = 0;
  const loop = (async () => {
    while (running) {
      const args = count % 2 === 0 ? ['build', '-o', join(dir, 'hello'), '.'] : ['vet', '.'];
      await new Promise<void>((r) => spawn('go', args, { cwd: join(dir, 'mod'), env, stdio: 'ignore' }).once('exit', () => r()));
      count++;
    }
  })();
  return { async stop() { running = false; await loop; return count; } };
}

describe('export through a collector outage', () => {
  it('delivers every span exactly once after the collector was away for 60 s', async () => {
    const builds = continuousBuilds();
    await sleep(5_000);
    await receiver.stop();
    await sleep(60_000);
    const during = await agent.metrics();
    expect(during.get('gostall_export_backing_off')).toBe(1);
    expect(during.get('gostall_spool_spans')).toBeGreaterThan(0);
    await receiver.restart();
    await sleep(5_000);
    const buildsRun = await builds.stop();
    expect(buildsRun).toBeGreaterThan(10);

    // Wait until the agent has delivered its backlog, then stop it (it flushes the rest).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const m = await agent.metrics();
      if (m.get('gostall_spool_spans') === 0 && m.get('gostall_export_backing_off') === 0 && m.get('gostall_export_queue_spans') === 0) break;
      if (Date.now() > deadline) throw new Error(`backlog not delivered: ${JSON.stringify([...m])}`);
      await sleep(500);
    }
    const stopped = await agent.stop();
    expect(stopped.code).toBe(0);
    const summary = /stopped: (\d+) spans produced, (\d+) exported, (\d+) dropped/.exec(stopped.stderr);
    expect(summary, stopped.stderr).not.toBeNull();
    const [produced, exported, dropped] = summary!.slice(1).map(Number) as [number, number, number];
    const ids = receiver.spans.map((s) => s.spanId);
    const unique = new Set(ids);
    process.stderr.write(`outage: ${buildsRun} builds, ${produced} spans produced, ${exported} exported, ${receiver.spans.length} received (${unique.size} unique), ${dropped} dropped\n`);
    expect(dropped).toBe(0);
    expect(unique.size).toBe(ids.length);
    expect(receiver.spans.length).toBe(produced);
    expect(exported).toBe(produced);
    expect(stopped.stderr).toMatch(/collector unavailable/);
    expect(stopped.stderr).toMatch(/collector is back after \d+ s; replaying \d+ spooled spans/);
  }, 180_000);
});
