// A Go file watcher on a tree larger than fs.inotify.max_user_watches allows: it fails with
// ENOSPC, and gostall blames fs.watch_limit on it, quoting the limit.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run as runCommand } from '../support/faults/common.js';
import { goEnv } from '../support/faults/goModule.js';
import {
  WATCHER_EXIT_ENOSPC, countInotifyWatches, lowerInotifyWatches, writeWatcherProgram, type LoweredInotifyWatches,
} from '../support/faults/inotifyLimit.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, rootPid, traced } from './harness.js';

let workDir: string;
let watcher: string;
let lowered: LoweredInotifyWatches | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-inotify-'));
  const program = await writeWatcherProgram(join(workDir, 'watcher-src'), 300);
  watcher = join(workDir, 'watcher');
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  await runCommand('go', ['build', '-o', watcher, '.'], { cwd: program.dir, env, timeoutMs: 120_000 });
});

afterAll(async () => {
  await lowered?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it('a Go watcher that needs 300 watches under a limit of (in use + 100) is blamed on fs.watch_limit', async () => {
  // The limit is per user and system-wide: leave room for what root already watches, not for 300 more.
  lowered = await lowerInotifyWatches((await countInotifyWatches(0)) + 100);
  let result;
  try {
    result = await traced([watcher, '-n', '300', '-root', join(workDir, 'watched')], { cwd: workDir, env: cleanEnv({}) });
  } finally {
    await lowered.restore();
  }
  logOutcome('inotify watches used up (Go watcher)', result);
  expect(result.exitCode).toBe(WATCHER_EXIT_ENOSPC);
  const cause = expectSoleCause(result, 'fs.watch_limit', 'watcher');
  expect(cause.pid).toBe(rootPid(result));
  expect(cause.evidence).toContain('ENOSPC');
  expect(cause.evidence).toContain(`fs.inotify.max_user_watches = ${lowered.current}`);
  expect(cause.evidence).toContain(join(workDir, 'watched'));
  expect(cause.attributes['gostall.cause.limit']).toBe(lowered.current);
});
