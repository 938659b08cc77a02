// A module on a disk whose reads are throttled (cgroup v1 blkio on an ext4 loop device, page
// cache dropped): the go command waits in D state for every source file. gostall blames
// fs.slow_io and/or sched.uninterruptible on the go process, naming the mount, and nothing else.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import { setupThrottledLoopDisk, type ThrottledLoopDisk } from '../support/faults/throttledLoop.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, ensureBuilt, expectOnlyCauses, logOutcome, rootPid, traced } from './harness.js';
import { writeMultiPackageModule } from './modules.js';

let workDir: string;
let disk: ThrottledLoopDisk | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-slowio-'));
});

afterAll(async () => {
  await disk?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it('go list ./... of a module on a read-throttled disk is blamed on slow I/O on that mount, and nothing else', async () => {
  // 64 KiB/s and 8 packages with one 24 KiB file each: ~3 s of reads, each waiting in D.
  disk = await setupThrottledLoopDisk({ sizeMiB: 32, readBps: 64 * 1024, files: [] });
  const moduleDir = join(disk.mountPoint, 'module');
  await writeMultiPackageModule(moduleDir, { packages: 8, filesPerPackage: 1, padBytes: 24 * 1024 });
  await disk.dropCaches();
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  // The command moves itself into the throttled cgroup before it becomes go.
  const run = await traced(['sh', '-c', 'echo $$ > "$1" && exec go list ./...', 'sh', disk.cgroupProcsPath], { cwd: moduleDir, env });
  logOutcome('module on a read-throttled disk (go list ./...)', run);
  expect(run.exitCode).toBe(0);
  const causes = expectOnlyCauses(run, ['fs.slow_io', 'sched.uninterruptible'], []);
  expect(causes.length).toBeGreaterThan(0);
  for (const c of causes) {
    expect(c.pid).toBe(rootPid(run));
    expect(c.process).toBe('go list');
    expect(c.evidence).toContain(disk.mountPoint);
  }
  const io = causes.find((c) => c.id === 'fs.slow_io');
  if (io) expect(io.evidence).toContain('uninterruptible sleep (D');
});
