// Fixture: a slow disk with real D-state waits. An ext4 image on a loop device, caches dropped,
// and a cgroup v1 blkio group that throttles reads from that loop device to a few KiB/s.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { buildWithRollback, findMount, randomTag, run } from './common.js';
import {
  SpawnedChildren,
  TEST_CGROUP_PREFIX,
  removeCgroupDir,
  runInCgroup,
  spawnInCgroup,
  type CgroupRunResult,
} from './cgroups.js';

/** Where the cgroup v1 blkio hierarchy is mounted on our machines. */
export const BLKIO_ROOT = '/sys/fs/cgroup/blkio';

export interface ThrottledLoopOptions {
  /** Size of the ext4 image (sparse file). */
  sizeMiB: number;
  /** Read limit for processes in the cgroup, bytes per second, on the loop device. */
  readBps: number;
  /** Files to create, `path` relative to the mount point; contents are random bytes. */
  files: { path: string; bytes: number }[];
  /** Parent for the temporary directory holding image and mount point (default: os.tmpdir()). */
  parentDir?: string;
}

export interface ThrottledLoopDisk {
  /** Where the ext4 filesystem is mounted. */
  mountPoint: string;
  /** Absolute paths of the created files, in the order given. */
  files: string[];
  /** The backing image file. */
  imagePath: string;
  /** Loop device, e.g. /dev/loop3. */
  device: string;
  /** "MAJ:MIN" of the loop device, as written to blkio.throttle.read_bps_device. */
  majMin: string;
  /** The blkio cgroup directory. */
  cgroupDir: string;
  /** Write a pid here to move that process into the throttled group. */
  cgroupProcsPath: string;
  /** Spawns `cmd args…` inside the throttled group; restore() stops it if still running. */
  spawnInCgroup: (cmd: string, args?: readonly string[], opts?: SpawnOptions) => ChildProcess;
  /** Runs `cmd args…` inside the throttled group to completion. */
  runInCgroup: (
    cmd: string,
    args?: readonly string[],
    opts?: Parameters<typeof runInCgroup>[3],
  ) => Promise<CgroupRunResult>;
  /** Drops the page, dentry and inode caches again (system-wide), so the next read hits the disk. */
  dropCaches: () => Promise<void>;
  /** Stops leftover children we spawned, removes cgroup, unmounts, detaches loop, deletes image. */
  restore: () => Promise<void>;
}

/** Flushes dirty data and drops the page cache plus dentries and inodes (system-wide). */
export async function dropCaches(): Promise<void> {
  await run('sync', []);
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

/** True if `device` (e.g. /dev/loop3) is still attached to a backing file. */
export async function isLoopAttached(device: string): Promise<boolean> {
  try {
    const backing = await readFile(`/sys/class/block/${basename(device)}/loop/backing_file`, 'utf8');
    return backing.trim() !== '';
  } catch {
    return false;
  }
}

/** Creates, fills and throttles the loop-backed ext4 filesystem described by `opts`. */
export async function setupThrottledLoopDisk(opts: ThrottledLoopOptions): Promise<ThrottledLoopDisk> {
  if (!(opts.readBps > 0)) throw new Error('readBps must be > 0 (0 would mean "no limit")');
  for (const f of opts.files) {
    const rel = normalize(f.path);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith('../')) throw new Error(`file path must be relative: ${f.path}`);
  }
  return buildWithRollback(async (stack) => {
    const workDir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'gostall-loop-'));
    stack.push(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));

    const imagePath = join(workDir, 'disk.img');
    const image = await open(imagePath, 'w');
    try {
      await image.truncate(opts.sizeMiB * 1024 * 1024); // sparse: costs no real space up front
    } finally {
      await image.close();
    }

    const device = (await run('losetup', ['--find', '--show', imagePath])).stdout.trim();
    stack.push(`losetup -d ${device}`, async () => {
      if (await isLoopAttached(device)) await run('losetup', ['-d', device]);
    });
    const majMin = (await readFile(`/sys/class/block/${basename(device)}/dev`, 'utf8')).trim();

    // Initialise inode tables and journal now; the lazy-init kernel thread would otherwise
    // write to the device in the background while the test measures reads.
    await run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device]);

    const mountPoint = join(workDir, 'mnt');
    await mkdir(mountPoint);
    await run('mount', ['-t', 'ext4', device, mountPoint]);
    stack.push(`umount ${mountPoint}`, async () => {
      if (!(await findMount(mountPoint))) return;
      try {
        await run('umount', [mountPoint]);
      } catch {
        // Still busy (a stray reader): detach now, the kernel frees it once the last user is gone.
        await run('umount', ['-l', mountPoint]);
      }
    });

    const files: string[] = [];
    for (const f of opts.files) {
      const full = join(mountPoint, normalize(f.path));
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, randomBytes(f.bytes));
      files.push(full);
    }

    const cgroupDir = join(BLKIO_ROOT, `${TEST_CGROUP_PREFIX}${randomTag()}`);
    await mkdir(cgroupDir);
    const children = new SpawnedChildren();
    stack.push(`remove cgroup ${cgroupDir}`, async () => {
      await children.stopAll();
      // Lift the limit first so bios still queued in the throttle drain at once.
      await writeFile(join(cgroupDir, 'blkio.throttle.read_bps_device'), `${majMin} 0\n`).catch(() => undefined);
      await removeCgroupDir(cgroupDir);
    });
    await writeFile(join(cgroupDir, 'blkio.throttle.read_bps_device'), `${majMin} ${Math.floor(opts.readBps)}\n`);
    const cgroupProcsPath = join(cgroupDir, 'cgroup.procs');

    // Written files are still in the page cache; throw them out so reads must go to the device.
    await dropCaches();

    return {
      mountPoint,
      files,
      imagePath,
      device,
      majMin,
      cgroupDir,
      cgroupProcsPath,
      spawnInCgroup: (cmd, args = [], spawnOpts = {}) =>
        children.track(spawnInCgroup(cgroupProcsPath, cmd, args, spawnOpts)),
      runInCgroup: (cmd, args = [], runOpts = {}) =>
        runInCgroup(cgroupProcsPath, cmd, args, {
          ...runOpts,
          onSpawn: (child) => {
            children.track(child);
            runOpts.onSpawn?.(child);
          },
        }),
      dropCaches,
      restore: () => stack.restore(),
    };
  });
}
