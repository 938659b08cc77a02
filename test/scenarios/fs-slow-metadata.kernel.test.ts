// The dev-container story: the workspace is a FUSE mount (like Docker Desktop's bind mounts)
// where every getattr costs milliseconds. `go list ./...` there is blamed on fs.slow_metadata,
// naming the mount, and on nothing else.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import { mountSlowFuse, type SlowFuseMount } from '../support/faults/slowFuse.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, rootPid, traced } from './harness.js';
import { writeMultiPackageModule } from './modules.js';

let workDir: string;
let fuse: SlowFuseMount | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-fuse-'));
  // 12 packages of 3 files: enough lookups for a clear signal (~3 s) without a slow test.
  await writeMultiPackageModule(join(workDir, 'backing'), { packages: 12, filesPerPackage: 3 });
});

afterEach(async () => {
  await fuse?.restore();
  fuse = undefined;
});

afterAll(async () => {
  await fuse?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it('go list ./... in a workspace on a FUSE mount with 2 ms getattr is blamed on fs.slow_metadata, naming the mount', async () => {
  fuse = await mountSlowFuse({ backingDir: join(workDir, 'backing'), mountPoint: join(workDir, 'workspace'), getattrDelayMs: 2 });
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  const run = await traced(['go', 'list', './...'], { cwd: fuse.mountPoint, env });
  logOutcome('workspace on slow FUSE (go list ./...)', run);
  expect(run.exitCode).toBe(0);
  const cause = expectSoleCause(run, 'fs.slow_metadata', 'go list');
  expect(cause.pid).toBe(rootPid(run));
  expect(cause.evidence).toContain(`${fuse.fsType} ${fuse.mountPoint} (the workspace)`);
  expect(cause.evidence).toMatch(/median \d/);
  expect(cause.attributes['gostall.cause.scope']).toBe('workspace');
  expect(cause.attributes['gostall.cause.fs_type']).toBe(fuse.fsType);
  expect(cause.attributes['gostall.cause.mount_point']).toBe(fuse.mountPoint);
});
