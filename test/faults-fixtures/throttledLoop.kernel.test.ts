// Proves the throttled loop disk makes reads slow with real D-state waits, and is fully torn down.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { findMount, run, sampleProcStates } from '../support/faults/common.js';
import {
  BLKIO_ROOT,
  isLoopAttached,
  setupThrottledLoopDisk,
  type ThrottledLoopDisk,
} from '../support/faults/throttledLoop.js';

let disk: ThrottledLoopDisk | undefined;

afterEach(async () => {
  // Runs even when an assertion failed: no cgroup, mount or loop device may survive.
  await disk?.restore();
  disk = undefined;
});

describe('setupThrottledLoopDisk', () => {
  it('makes a reader in the cgroup slow and in D state, while the same read outside is fast', async () => {
    const files = Array.from({ length: 30 }, (_, i) => ({ path: `pkg/f${String(i).padStart(2, '0')}.go`, bytes: 4096 }));
    disk = await setupThrottledLoopDisk({ sizeMiB: 32, readBps: 64 * 1024, files });
    const d = disk;

    expect(d.device).toMatch(/^\/dev\/loop\d+$/);
    expect(d.majMin).toMatch(/^7:\d+$/);
    expect((await findMount(d.mountPoint))?.fsType).toBe('ext4');
    expect(await readFile(`${d.cgroupDir}/blkio.throttle.read_bps_device`, 'utf8')).toContain(`${d.majMin} 65536`);

    let readerPid = 0;
    const reading = d.runInCgroup('cat', d.files, {
      onSpawn: (child) => (readerPid = child.pid!),
    });
    const states = await sampleProcStates(readerPid, { intervalMs: 10 });
    const throttled = await reading;
    expect(throttled.exitCode).toBe(0);

    await d.dropCaches();
    const started = performance.now();
    await run('cat', d.files);
    const unthrottledMs = performance.now() - started;

    console.log(
      `30 x 4 KiB at 64 KiB/s: ${(throttled.elapsedMs / 1000).toFixed(2)} s in the cgroup ` +
        `(states sampled every 10 ms: ${JSON.stringify(states)}), ${unthrottledMs.toFixed(0)} ms outside`,
    );
    expect(throttled.elapsedMs).toBeGreaterThan(1_000);
    expect(states.D ?? 0).toBeGreaterThan(20);
    expect(unthrottledMs).toBeLessThan(throttled.elapsedMs / 4);
  });

  it('restore removes cgroup, mount, loop device and image, stops stray readers, and is idempotent', async () => {
    disk = await setupThrottledLoopDisk({
      sizeMiB: 16,
      readBps: 4096,
      files: [{ path: 'big.bin', bytes: 256 * 1024 }],
    });
    const d = disk;
    // A reader still stuck in the throttle when restore runs (at 4 KiB/s this takes a minute).
    const straggler = d.spawnInCgroup('cat', d.files, { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    expect(straggler.exitCode).toBeNull();

    await d.restore();
    expect(straggler.exitCode !== null || straggler.signalCode !== null).toBe(true);
    expect(existsSync(d.cgroupDir)).toBe(false);
    expect(await findMount(d.mountPoint)).toBeUndefined();
    expect(await isLoopAttached(d.device)).toBe(false);
    expect(existsSync(d.imagePath)).toBe(false);
    await d.restore();
  });

  it('cleans up what it created when setup fails half-way', async () => {
    const before = (await run('losetup', ['-a'])).stdout;
    const leftovers = async (): Promise<string[]> => [
      ...(await readdir(tmpdir())).filter((n) => n.startsWith('gostall-loop-')),
      ...(await readdir(BLKIO_ROOT)).filter((n) => n.startsWith('gostall-test-')),
    ];
    const leftBefore = await leftovers();
    // 'a/b' cannot be created once 'a' is a file: this fails after the loop device is set up,
    // formatted and mounted.
    await expect(
      setupThrottledLoopDisk({
        sizeMiB: 16,
        readBps: 65536,
        files: [
          { path: 'a', bytes: 1 },
          { path: 'a/b', bytes: 1 },
        ],
      }),
    ).rejects.toThrow(/EEXIST|ENOTDIR/);
    expect((await run('losetup', ['-a'])).stdout).toBe(before);
    expect(await leftovers()).toEqual(leftBefore);
  });

  it('rejects file paths outside the filesystem before touching anything', async () => {
    await expect(
      setupThrottledLoopDisk({ sizeMiB: 16, readBps: 65536, files: [{ path: '../escape', bytes: 1 }] }),
    ).rejects.toThrow(/must be relative/);
  });
});
