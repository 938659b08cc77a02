// Proves a lowered max_user_watches makes the generated Go watcher fail with ENOSPC, and that
// restore puts the old limit back (after which the same program succeeds).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/faults/common.js';
import { goEnv } from '../support/faults/goModule.js';
import {
  WATCHER_EXIT_ENOSPC,
  countInotifyWatches,
  lowerInotifyWatches,
  readMaxUserWatches,
  writeWatcherProgram,
  type LoweredInotifyWatches,
} from '../support/faults/inotifyLimit.js';

let workDir: string;
let watcherBin: string;
let lowered: LoweredInotifyWatches | undefined;

/** Runs the watcher binary; resolves with its exit code and output instead of throwing. */
async function runWatcher(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const r = await run(watcherBin, args, { cwd: workDir, timeoutMs: 30_000 });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as Error & { exitCode?: number };
    return { code: Number(e.exitCode), output: e.message };
  }
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gostall-inotify-test-'));
  const src = await writeWatcherProgram(join(workDir, 'watcher'), 200);
  watcherBin = join(workDir, 'watcher.bin');
  // Built before any limit is lowered, with private caches and no network.
  const env = goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir });
  await run('go', ['build', '-o', watcherBin, '.'], { cwd: src.dir, env });
});

afterEach(async () => {
  await lowered?.restore(); // the sysctl is machine-wide: put it back even after a failure
  lowered = undefined;
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('lowerInotifyWatches + writeWatcherProgram', () => {
  it('makes the watcher fail with ENOSPC, and restore brings back the old limit', async () => {
    const original = await readMaxUserWatches();
    // Just above root's current usage, so other root processes are barely affected.
    const inUse = await countInotifyWatches(0);
    lowered = await lowerInotifyWatches(inUse + 20);
    expect(lowered.previous).toBe(original);
    expect(await readMaxUserWatches()).toBe(inUse + 20);

    const limited = await runWatcher(['-root', join(workDir, 'tree1')]);
    await lowered.restore();
    console.log(`limit ${inUse + 20} (root had ${inUse} watches): exit ${limited.code}: ${limited.output.trim().split('\n').at(-1)}`);
    expect(limited.code).toBe(WATCHER_EXIT_ENOSPC);
    expect(limited.output).toMatch(/inotify_add_watch .*no space left on device \(after \d+ watches\)/);

    expect(await readMaxUserWatches()).toBe(original);
    await lowered.restore(); // idempotent
    expect(await readMaxUserWatches()).toBe(original);

    const unlimited = await runWatcher(['-root', join(workDir, 'tree2')]);
    expect(unlimited).toEqual({ code: 0, output: 'watching 200 directories\n' });
  });

  it('rejects a nonsensical limit without touching the sysctl', async () => {
    const original = await readMaxUserWatches();
    await expect(lowerInotifyWatches(0)).rejects.toThrow(/positive integer/);
    expect(await readMaxUserWatches()).toBe(original);
  });
});
