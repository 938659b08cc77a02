/** Runs one command with its output in a log file and measures its wall time. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface TimedRun {
  wallNs: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface TimedCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr go here, so the bench's own event loop does no work while timing */
  logPath: string;
  /** called right after spawn with the child's pid (to start samplers) */
  onSpawn?: (pid: number) => void;
}

export async function runTimed(file: string, args: string[], opts: TimedCommandOptions): Promise<TimedRun> {
  const log = openSync(opts.logPath, 'w', 0o600);
  try {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', log, log] });
    const done = new Promise<TimedRun>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode, signal) => resolve({ wallNs: Number(process.hrtime.bigint() - t0), exitCode, signal }));
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    return await done;
  } finally {
    closeSync(log);
  }
}
