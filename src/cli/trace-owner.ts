/**
 * Where `gostall run` puts its trace when no destination is named: the user's state
 * directory — under `sudo`, the invoking user's ($SUDO_USER, from the password database),
 * with every directory it creates and the file owned by that user, not by root.
 */
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

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

/** Where `run` keeps its build history (issue 13): the same user's state directory as its traces. */
export function buildHistoryDir(env: NodeJS.ProcessEnv = process.env): { dir: string; owner: TraceOwner } {
  const owner = traceOwner(env);
  return { dir: join(stateBase(owner, env), 'builds'), owner };
}

export function defaultOutPath(cmd: string, env: NodeJS.ProcessEnv = process.env): { path: string; owner: TraceOwner } {
  const owner = traceOwner(env);
  const dir = join(stateBase(owner, env), 'traces');
  mkdirOwned(dir, owner);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const safe = cmd.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'cmd';
  return { path: join(dir, `${stamp}-${safe}.otlp.jsonl`), owner };
}

/** mkdir -p, each directory it creates owned by the trace's owner. */
function mkdirOwned(dir: string, owner: TraceOwner): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined || owner.uid === undefined) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    chownSync(d, owner.uid, owner.gid!);
    if (d === first) break;
  }
}

