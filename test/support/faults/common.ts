// Shared plumbing for the fault fixtures: running commands, waiting, cleanup stacks, mounts.
// Everything here is test support; nothing is imported by src/.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

/** Result of a finished command. */
export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and rejects with its stderr in the message if it fails. */
export function run(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args as string[],
      {
        env: opts.env,
        cwd: opts.cwd,
        // A fixture command that hangs would hang the whole test run; cap it.
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const e = error as Error & { code?: number | string | null; killed?: boolean; signal?: string | null };
          const status =
            typeof e.code === 'number'
              ? `exit code ${e.code}`
              : e.killed || e.signal
                ? `killed by ${e.signal ?? 'signal'}${e.killed ? ' (timeout)' : ''}`
                : (e.code ?? e.message);
          const detail = String(stderr).trim() || String(stdout).trim();
          const wrapped = new Error(
            `command failed: ${file} ${args.join(' ')} (${status})${detail ? `\n${detail}` : ''}`,
          ) as Error & { exitCode?: number | string | null; stderr?: string };
          wrapped.exitCode = e.code ?? null;
          wrapped.stderr = String(stderr);
          reject(wrapped);
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; throws a descriptive error after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Short random hex tag so concurrent or leftover fixtures never collide on names. */
export function randomTag(): string {
  return randomBytes(4).toString('hex');
}

/** True if a process with this pid exists (and is not a zombie we already reaped). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else; as root we will not see it.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while the process runs: not gone, and not a zombie waiting for its parent to reap it. */
export function isPidRunning(pid: number): boolean {
  if (!isPidAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves true once the child has exited, false if it is still running after `timeoutMs`. */
export function waitForChildExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Stops a child we spawned: optionally waits for it to exit by itself, then SIGTERM, then SIGKILL.
 * Signals go to the child's own pid only, never to a name or process group.
 */
export async function stopChild(
  child: ChildProcess,
  { graceMs = 0, termMs = 2_000 }: { graceMs?: number; termMs?: number } = {},
): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return; // never started
  if (graceMs > 0 && (await waitForChildExit(child, graceMs))) return;
  for (const [signal, waitMs] of [
    ['SIGTERM', termMs],
    ['SIGKILL', 5_000],
  ] as const) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw err;
    }
    if (await waitForChildExit(child, waitMs)) return;
  }
  throw new Error(`process ${pid} did not exit after SIGKILL`);
}

/**
 * Ordered list of undo steps. `restore()` runs them last-in-first-out, keeps going past failures,
 * forgets the steps that succeeded (so calling it again is a no-op or retries only what failed)
 * and throws one error listing every failure.
 */
export class RestoreStack {
  private readonly steps: { what: string; undo: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  /** Registers an undo step; register it right after the action it undoes succeeded. */
  push(what: string, undo: () => Promise<void> | void): void {
    this.steps.push({ what, undo });
  }

  /** Runs all pending undo steps (concurrent callers share one run). */
  restore(): Promise<void> {
    this.running ??= this.runSteps().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runSteps(): Promise<void> {
    const failures: string[] = [];
    const kept: typeof this.steps = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
      } catch (err) {
        failures.push(`${step.what}: ${(err as Error).message}`);
        kept.unshift(step); // keep it so a later restore() can retry
      }
    }
    this.steps.push(...kept);
    if (failures.length > 0) throw new Error(`restore failed:\n  ${failures.join('\n  ')}`);
  }
}

/**
 * Runs `build` with a fresh RestoreStack. If `build` throws, everything it registered is undone
 * before the original error is rethrown, so a half-built fixture never leaks.
 */
export async function buildWithRollback<T>(build: (stack: RestoreStack) => Promise<T>): Promise<T> {
  const stack = new RestoreStack();
  try {
    return await build(stack);
  } catch (err) {
    try {
      await stack.restore();
    } catch (cleanupErr) {
      (err as Error).message += `\n(also, rollback failed: ${(cleanupErr as Error).message})`;
    }
    throw err;
  }
}

/** One line of /proc/self/mountinfo, reduced to what the fixtures need. */
export interface MountInfo {
  majMin: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes mountinfo's octal escaping (`\040` for space and so on). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5) format) into entries. */
export async function readMountInfo(): Promise<MountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const left = before.split(' ');
    const right = after.split(' ');
    mounts.push({
      majMin: left[2] ?? '',
      mountPoint: unescapeMountField(left[4] ?? ''),
      fsType: right[0] ?? '',
      source: unescapeMountField(right[1] ?? ''),
    });
  }
  return mounts;
}

/** The topmost mount at exactly `mountPoint` (an absolute, symlink-free path), if any. */
export async function findMount(mountPoint: string): Promise<MountInfo | undefined> {
  const matches = (await readMountInfo()).filter((m) => m.mountPoint === mountPoint);
  return matches.at(-1);
}

/** Scheduler state letter of a process or thread ("R", "S", "D", …) from /proc/PID/stat, if alive. */
export async function procState(pid: number, tid: number = pid): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The comm field may contain spaces and parentheses; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's state every `intervalMs` until it exits and returns how many samples
 * saw each state letter. Shows where a fault puts a process: D for the throttled disk, S for slow FUSE.
 */
export async function sampleProcStates(
  pid: number,
  { intervalMs = 10, maxMs = 120_000 }: { intervalMs?: number; maxMs?: number } = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const state = await procState(pid);
    if (state === undefined || state === 'Z') break;
    counts[state] = (counts[state] ?? 0) + 1;
    await sleep(intervalMs);
  }
  return counts;
}
