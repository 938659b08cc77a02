// Cgroup plumbing shared by the blkio (throttledLoop) and cpu (cpuQuota) fixtures.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFile, rmdir } from 'node:fs/promises';
import { sleep, stopChild } from './common.js';

/** Prefix of every cgroup the fixtures create, so leftovers are easy to recognise. */
export const TEST_CGROUP_PREFIX = 'gostall-test-';

/**
 * argv that starts `cmd args…` already inside the cgroup whose `cgroup.procs` is `procsPath`:
 * the shell writes its own pid there and then execs the command, so the command (same pid)
 * never runs a single instruction outside the group.
 */
export function argvInCgroup(
  procsPath: string,
  cmd: string,
  args: readonly string[] = [],
): { file: string; args: string[] } {
  return {
    file: '/bin/sh',
    args: ['-c', 'p=$1; shift; echo $$ > "$p" && exec "$@"', 'gostall-cgroup-exec', procsPath, cmd, ...args],
  };
}

/** Spawns `cmd args…` inside the cgroup (see argvInCgroup); the child's pid is the command's pid. */
export function spawnInCgroup(
  procsPath: string,
  cmd: string,
  args: readonly string[] = [],
  opts: SpawnOptions = {},
): ChildProcess {
  const argv = argvInCgroup(procsPath, cmd, args);
  return spawn(argv.file, argv.args, opts);
}

/** Outcome of a command run to completion by runInCgroup. */
export interface CgroupRunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs `cmd args…` inside the cgroup to completion and reports exit status, output and wall time. */
export function runInCgroup(
  procsPath: string,
  cmd: string,
  args: readonly string[] = [],
  opts: Omit<SpawnOptions, 'stdio'> & { timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<CgroupRunResult> {
  const { timeoutMs = 60_000, onSpawn, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawnInCgroup(procsPath, cmd, args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Bound the run: a throttled child must not outlive the test.
    const timer = setTimeout(() => void stopChild(child).catch(() => undefined), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderr, elapsedMs: performance.now() - started });
    });
    onSpawn?.(child);
  });
}

/** Pids currently in the cgroup directory `dir`. */
export async function cgroupPids(dir: string): Promise<number[]> {
  const text = await readFile(`${dir}/cgroup.procs`, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/**
 * Removes a cgroup directory, retrying while the kernel still reports it busy (a process that
 * just exited can linger in the group for a moment). A missing directory counts as removed.
 */
export async function removeCgroupDir(dir: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() >= deadline) {
        let pids = '';
        try {
          pids = ` (pids still inside: ${(await cgroupPids(dir)).join(' ') || 'none'})`;
        } catch {
          /* directory state unknown; report the rmdir error alone */
        }
        throw new Error(`rmdir ${dir}: ${(err as Error).message}${pids}`);
      }
      await sleep(100);
    }
  }
}

/**
 * Remembers the children a fixture spawned into its cgroup, so restore() can stop the ones
 * a test forgot (by pid, our own children only) before removing the group.
 */
export class SpawnedChildren {
  private readonly children = new Set<ChildProcess>();

  /** Records a child and forgets it once it has exited. */
  track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Stops every tracked child that is still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c, { termMs: 1_000 })));
    this.children.clear();
  }
}
