/**
 * Where `gostall run` puts its trace when no destination is named: the user's state
 * directory — under `sudo`, the invoking user's ($SUDO_USER, from the password database),
 * with every directory it creates and the file owned by that user, not by root.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { openUserDirectory } from './user-directory.js';
import type { BuildHistoryOptions } from '../pipeline/build-history.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The user a default trace belongs to: under sudo, the invoking user (not root). */
export interface TraceOwner { home: string; uid?: number; gid?: number }

/** Under `sudo`, $SUDO_USER's home from the password database; otherwise our own. */
export function traceOwner(env: NodeJS.ProcessEnv = process.env, passwd = readPasswd()): TraceOwner {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (process.getuid?.() === 0 && env.SUDO_USER && Number.isInteger(uid) && uid > 0 && Number.isInteger(gid)) {
    const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === env.SUDO_USER && Number(f[2]) === uid);
    if (entry?.[5]) return { home: entry[5], uid, gid };
  }
  return { home: homedir() };
}

function readPasswd(): string {
  try { return readFileSync('/etc/passwd', 'utf8'); } catch { return ''; }
}

/** The user's gostall state directory (not made here). */
function stateBase(owner: TraceOwner, env: NodeJS.ProcessEnv): string {
  // XDG_STATE_HOME is root's own under sudo: the invoking user's default is used instead.
  return join(owner.uid === undefined && env.XDG_STATE_HOME ? env.XDG_STATE_HOME : join(owner.home, '.local/state'), 'gostall');
}

/**
 * A directory of the state directory: `path` for messages, `openPath` to open files in.
 * Under sudo it is made and opened part by part with no link followed (./user-directory);
 * otherwise, as the user runs gostall themselves, it is made as it is.
 */
function stateDirectory(owner: TraceOwner, env: NodeJS.ProcessEnv, sub: string, make: boolean): { path: string; openPath: string } {
  if (owner.uid !== undefined) return openUserDirectory(owner.home, ['.local', 'state', 'gostall', sub], { uid: owner.uid, gid: owner.gid! });
  const path = join(stateBase(owner, env), sub);
  if (make) mkdirSync(path, { recursive: true, mode: 0o700 });
  return { path, openPath: path };
}

/**
 * Where `run` keeps its build history (issue 13): the same user's state directory as its
 * traces, as the history takes it (src/pipeline/build-history.ts). Under sudo it is opened
 * now, for the invoking user, and a directory that does not allow it turns the history off
 * with the reason (notice).
 */
export function buildHistoryDir(env: NodeJS.ProcessEnv = process.env): Pick<BuildHistoryOptions, 'dir' | 'openedFor'> | { notice: string } {
  const owner = traceOwner(env);
  if (owner.uid === undefined) return { dir: stateDirectory(owner, env, 'builds', false).path };
  try {
    const d = stateDirectory(owner, env, 'builds', false);
    return { dir: d.openPath, openedFor: { path: d.path, owner: { uid: owner.uid, gid: owner.gid! } } };
  } catch (err) {
    return { notice: `build history off: ${(err as Error).message}` };
  }
}

/** The default trace file: `path` for messages, `openPath` to open it by (the same file). */
export function defaultOutPath(cmd: string, env: NodeJS.ProcessEnv = process.env): { path: string; openPath: string; owner: TraceOwner } {
  const owner = traceOwner(env);
  const dir = stateDirectory(owner, env, 'traces', true);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const name = `${stamp}-${cmd.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'cmd'}.otlp.jsonl`;
  return { path: join(dir.path, name), openPath: join(dir.openPath, name), owner };
}
