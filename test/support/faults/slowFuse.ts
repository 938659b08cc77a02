// Fixture: a passthrough FUSE filesystem (slowfs.py) whose getattr/read/readdir/open sleep,
// so a Go tool working on it waits off-CPU (state S) inside its syscalls.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, realpath, rmdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildWithRollback, findMount, run, sleep, stopChild, waitForChildExit, waitUntil } from './common.js';

/** The FUSE server script shipped next to this module. */
export const SLOWFS_SCRIPT = fileURLToPath(new URL('./slowfs.py', import.meta.url));

/** Debian's interpreter: python3-fusepy installs `fusepy` for it only (PATH may hold another python3). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface SlowFuseOptions {
  /** Existing directory whose contents the mount mirrors (reads and writes go through to it). */
  backingDir: string;
  /** Where to mount; created (and removed again on restore) if it does not exist. */
  mountPoint: string;
  /** Sleep in every getattr, which the kernel also sends for each path lookup (stat, open, walk). */
  getattrDelayMs: number;
  /** Sleep in every read request. */
  readDelayMs?: number;
  /** Sleep in every readdir request. */
  readdirDelayMs?: number;
  /** Sleep in every open and create. */
  openDelayMs?: number;
  /** How long to wait for the mount to appear. */
  mountTimeoutMs?: number;
}

export interface SlowFuseMount {
  /** Absolute, symlink-free mount point. */
  mountPoint: string;
  /** Absolute, symlink-free backing directory. */
  backingDir: string;
  /** Pid of the python FUSE server. */
  serverPid: number;
  /** Fstype as listed in /proc/self/mountinfo ("fuse.slowfs"). */
  fsType: string;
  /** Everything the server wrote to stderr so far (for debugging a failing test). */
  serverLog: () => string;
  /** Unmounts, waits for the server to exit (killing it by pid if needed); safe to call twice. */
  restore: () => Promise<void>;
}

/** True if `mountPoint` (absolute, symlink-free) currently has a FUSE mount on top. */
export async function isFuseMountedAt(mountPoint: string): Promise<boolean> {
  const mount = await findMount(mountPoint);
  return mount !== undefined && mount.fsType.startsWith('fuse');
}

/** Unmounts a FUSE mount: fusermount3 -u first, lazy umount if it is busy. No-op if not mounted. */
async function unmountFuse(mountPoint: string): Promise<void> {
  if (!(await isFuseMountedAt(mountPoint))) return;
  try {
    await run('fusermount3', ['-u', mountPoint], { timeoutMs: 15_000 });
  } catch (err) {
    // Busy (a test process still has a file open or its cwd there): detach it anyway.
    try {
      await run('umount', ['-l', mountPoint], { timeoutMs: 15_000 });
    } catch (lazyErr) {
      throw new Error(`${(err as Error).message}\nand then: ${(lazyErr as Error).message}`);
    }
  }
  await waitUntil(async () => !(await isFuseMountedAt(mountPoint)), `unmount of ${mountPoint}`, {
    timeoutMs: 5_000,
  });
}

/** Mounts slowfs.py over `mountPoint`, mirroring `backingDir`, and waits until the mount is live. */
export async function mountSlowFuse(opts: SlowFuseOptions): Promise<SlowFuseMount> {
  return buildWithRollback(async (stack) => {
    const backingDir = await realpath(opts.backingDir);
    if (!(await stat(backingDir)).isDirectory()) throw new Error(`${backingDir} is not a directory`);

    let createdMountPoint = false;
    try {
      await stat(opts.mountPoint);
    } catch {
      await mkdir(opts.mountPoint, { recursive: true });
      createdMountPoint = true;
    }
    const mountPoint = await realpath(opts.mountPoint);
    if (createdMountPoint) stack.push(`rmdir ${mountPoint}`, () => rmdir(mountPoint).catch(ignoreMissing));
    if (await isFuseMountedAt(mountPoint)) throw new Error(`${mountPoint} already has a FUSE mount`);

    const args = [
      SLOWFS_SCRIPT,
      backingDir,
      mountPoint,
      '--getattr-delay-ms',
      String(opts.getattrDelayMs),
      '--read-delay-ms',
      String(opts.readDelayMs ?? 0),
      '--readdir-delay-ms',
      String(opts.readdirDelayMs ?? 0),
      '--open-delay-ms',
      String(opts.openDelayMs ?? 0),
    ];
    // -u: unbuffered, so the log is complete even if the server dies.
    const server: ChildProcess = spawn(SYSTEM_PYTHON, ['-u', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    server.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    let spawnFailure: Error | undefined;
    server.once('error', (err) => (spawnFailure = err));
    // Registered before the mount exists, as one step because the order matters: unmounting makes
    // the server exit by itself; if it does not, stop it by pid; and if it only finished mounting
    // after our first check (setup timed out early), the mount is still there: unmount it again.
    stack.push(`unmount ${mountPoint} and stop slowfs (pid ${server.pid})`, async () => {
      const wasMounted = await isFuseMountedAt(mountPoint);
      await unmountFuse(mountPoint);
      // A server that never mounted will not exit by itself: stop it at once.
      if (!wasMounted || !(await waitForChildExit(server, 3_000))) await stopChild(server, { termMs: 3_000 });
      await unmountFuse(mountPoint);
    });

    const deadline = Date.now() + (opts.mountTimeoutMs ?? 10_000);
    let fsType: string | undefined;
    while (fsType === undefined) {
      const mount = await findMount(mountPoint);
      // A mount seen only once the deadline has passed is a timeout too (a loaded machine can
      // delay the first look past a fast mount): the rollback above takes it down.
      const late = Date.now() >= deadline;
      if (mount?.fsType.startsWith('fuse') && !late) fsType = mount.fsType;
      else if (spawnFailure) throw new Error(`cannot start ${SYSTEM_PYTHON}: ${spawnFailure.message}`);
      else if (server.exitCode !== null || server.signalCode !== null)
        throw new Error(`slowfs exited (${server.exitCode ?? server.signalCode}) before mounting:\n${log}`);
      else if (late) throw new Error(`slowfs did not mount ${mountPoint} in time:\n${log}`);
      else await sleep(25);
    }

    return {
      mountPoint,
      backingDir,
      serverPid: server.pid!,
      fsType,
      serverLog: () => log,
      restore: () => stack.restore(),
    };
  });
}

/** Treats "already gone" as success for cleanup steps. */
function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
