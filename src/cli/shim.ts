/**
 * The shim: CMD's first process, started before the tracer follows it and released once it
 * does (shim/gostall-shim, a Perl script: perl-base is on every Debian machine).
 *
 * The shim gets CMD's argv and environment as the bytes gostall itself was given
 * (/proc/self/cmdline, /proc/self/environ), not as Node re-encoded them: names that are not
 * shell identifiers (`odd.name`, bash's `BASH_FUNC_f%%`) and non-UTF-8 bytes reach CMD as
 * they would untraced. Frame on fd 3: for each of env, argv: a 32-bit big-endian count,
 * then each item as a 32-bit big-endian length and its bytes; then fd 3 closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { restoreMovedEntries } from './moved-env.js';

export const shimPath = (): string => join(packageRoot(), 'shim/gostall-shim');

export interface Shim {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** let the shim exec CMD */
  release(): void;
}

function splitNul(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) { out.push(buf.subarray(start, i)); start = i + 1; }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

function readProcSelf(name: string): Buffer[] | undefined {
  try { return splitNul(readFileSync(`/proc/self/${name}`)); } catch { return undefined; }
}

/** CMD's argv as raw bytes: the tail of our own cmdline when it decodes to `command`. */
export function rawArgv(command: readonly string[], cmdline = readProcSelf('cmdline')): Buffer[] {
  const tail = cmdline?.slice(-command.length);
  if (tail && tail.length === command.length && tail.every((b, i) => b.toString('utf8') === command[i])) return tail;
  return command.map((a) => Buffer.from(a));
}

/**
 * The environment as raw bytes when process.env still says what the kernel gave us (the
 * usual case; with what bin/gostall moved put back: moved-env.ts); otherwise (an in-process
 * caller changed it) process.env as UTF-8.
 */
export function rawEnvironment(env: NodeJS.ProcessEnv = process.env, given = readProcSelf('environ')): Buffer[] {
  const fromEnv = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => Buffer.from(`${k}=${v}`));
  if (!given) return fromEnv;
  // what the user gave, before bin/gostall moved anything out of Node's way (main.ts put it back in env)
  const environ = restoreMovedEntries(given);
  const decoded = new Map<string, string>();
  for (const e of environ) {
    const s = e.toString('utf8');
    const eq = s.indexOf('=', 1);
    if (eq > 0) decoded.set(s.slice(0, eq), s.slice(eq + 1));
  }
  const same = fromEnv.length === decoded.size && Object.entries(env).every(([k, v]) => decoded.get(k) === v);
  return same ? environ.filter((e) => e.indexOf(0x3d, 1) > 0) : fromEnv;
}

function frame(lists: Buffer[][]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  for (const list of lists) {
    parts.push(u32(4), u32(list.length));
    for (const item of list) parts.push(u32(item.length), item);
  }
  return Buffer.concat(parts);
}

/** Start the shim for `command`; CMD inherits stdio, cwd, umask, rlimits and the process group. */
export function spawnShim(command: readonly string[], env: NodeJS.ProcessEnv = process.env): Shim {
  // Perl starts with an empty environment (PERL5OPT, PERL5LIB and friends in the user's
  // environment must not change the shim); CMD gets the whole environment from the frame.
  const child = spawn(shimPath(), [], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], argv0: 'gostall-shim', env: {} });
  const gate = child.stdio[3] as NodeJS.WritableStream;
  // A shim killed before its release (Ctrl-C while the probes attach) closes the gate.
  gate.on('error', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal })));
  const payload = frame([rawEnvironment(env), rawArgv(command)]);
  return {
    child, pid: child.pid!, exited,
    release() { gate.end(payload); },
  };
}
