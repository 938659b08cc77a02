/**
 * fs.permission_denied: the tool could not read or write where Go keeps its state
 * (GOMODCACHE, GOCACHE, GOPATH, the workspace, HOME), typically because the container runs
 * as another user than the one who owns those directories (a root-built image used as
 * uid 1000, a module cache shared across users), or they are read-only.
 *
 * Paths are judged with the failing process's own environment (its HOME, GOCACHE,
 * GOMODCACHE, GOPATH), not the traced root's: `runuser -u dev -- go build` fails in
 * /home/dev/.cache, not under root's HOME. Calls a program recovers from are not causes:
 * a PATH lookup that hits a directory it may not enter, a stat of an optional file.
 */
import { dirname } from 'node:path';
import { SYSCALLS, errnoName } from '../../events/schema.js';
import type { SlowSyscallEvent } from '../../events/types.js';
import type { ProcessNode } from '../../model/process.js';
import { ERRNO } from '../../vocabulary/errno.js';
import { SC } from '../../vocabulary/syscalls.js';
import type { Cause, DiagnosisContext, GoEnv, PathRole, Rule } from '../types.js';
import { absolutePath } from '../context-paths.js';
import { distinct, exitedWithFailure, failedCalls, roleName, scopeOf, stderrLine, stderrOf, wallNs, type CauseScope, perProcess } from '../evidence.js';
import { listSome, plural } from '../format.js';

export const ID = 'fs.permission_denied';

const EPERM = ERRNO.EPERM;
const EACCES = ERRNO.EACCES;
const EROFS = ERRNO.EROFS;
/**
 * Calls that read or write a path. Not faccessat: it is how programs ask "may I?" (exec.LookPath,
 * `test -w`), so a "no" is an answer, not a failure. Not execve (exec.failed) nor sockets.
 */
const PATH_CALLS = new Set([SC.newfstatat, SC.statx, SC.readlinkat, SC.openat, SC.mkdirat, SC.renameat2, SC.unlinkat, SC.renameat]);
/** Calls that only look (stat, readlink): programs probe optional files and PATH entries with them. */
const LOOKUP_CALLS = new Set([SC.newfstatat, SC.statx, SC.readlinkat]);
/** Calls that change the tree (mkdir, rename, unlink): what a cache write needs. */
const CHANGE_CALLS = new Set([SC.mkdirat, SC.renameat2, SC.unlinkat, SC.renameat]);

export const THRESHOLDS = {
  /**
   * Any denial under a Go path counts (Go caches must be writable by the user running go).
   * Elsewhere ("other") a denial is only a cause when the process then failed: tools probe
   * paths they may not read (e.g. /root/.config) and carry on. Lookups (stat, readlink) count
   * only for a process that failed, and never when they are a PATH search: measured, a go
   * build run as a user with /root/... entries on PATH stats gccgo there 5 times (EACCES)
   * and succeeds.
   */
  minFailures: 1,
} as const;

const HINTS: Record<CauseScope, string> = {
  gocache: 'make GOCACHE writable for the user running go (chown -R that user, run as the image\'s user), or set GOCACHE to a writable directory such as $HOME/.cache/go-build',
  gomodcache: 'make GOMODCACHE writable for the user running go (chown -R that user, run as the image\'s user), or give each user its own GOMODCACHE; never share one module cache between users',
  gopath: 'make GOPATH writable for the user running go (chown -R), or set GOPATH to a directory that user owns',
  workspace: 'give the user running go write access to the workspace (chown, or run as the owner of the checkout), or build into a writable -o path',
  home: 'give the user running go a writable HOME (or set HOME, GOCACHE and GOMODCACHE to writable directories)',
  other: 'run as a user who may access this path, or point the tool at a writable location',
};

function denied(e: SlowSyscallEvent): boolean {
  return (e.ret === -EACCES || e.ret === -EPERM || e.ret === -EROFS) && PATH_CALLS.has(e.sc) && e.path !== undefined;
}

/** A stat of <PATH entry>/<name>: a PATH search the program goes on from. */
function isPathLookup(e: SlowSyscallEvent, path: string, pathDirs: Set<string>): boolean {
  return LOOKUP_CALLS.has(e.sc) && pathDirs.has(path.slice(0, path.lastIndexOf('/')));
}

function isUnder(path: string, base: string): boolean {
  return path === base || path.startsWith(`${base}/`);
}

/**
 * Creating a directory on the way to GOCACHE or GOMODCACHE (~/.cache for ~/.cache/go-build)
 * is writing that cache; HOME itself and what lies above it keep their own role.
 */
function cacheAncestor(e: SlowSyscallEvent, path: string, go: GoEnv | undefined): { role: PathRole; base: string } | undefined {
  if (e.sc !== 43 || !go) return undefined;
  const home = go.HOME;
  for (const [role, base] of [['gocache', go.GOCACHE], ['gomodcache', go.GOMODCACHE]] as const) {
    if (!base || !base.startsWith(`${path}/`)) continue;
    if (home && isUnder(home, path)) continue;
    return { role, base };
  }
  return undefined;
}

interface Denial { e: SlowSyscallEvent; path: string; base: string | undefined; scope: CauseScope }

/** 2 for a change, 1 for an open, 0 for a lookup: a failed write explains more than a failed look. */
function weightOf(d: Denial): number {
  return CHANGE_CALLS.has(d.e.sc) ? 2 : LOOKUP_CALLS.has(d.e.sc) ? 0 : 1;
}

/** "it ran as uid 1001 with HOME=/home/u; /home/u is owned by uid 0 (root), mode 0755" */
function ownership(p: ProcessNode, path: string, ctx: DiagnosisContext): string {
  const o = ctx.ownerOf?.(path);
  const home = ctx.goEnvOf?.(p)?.HOME;
  const who = p.uid !== undefined ? `it ran as uid ${p.uid}${home ? ` with HOME=${home}` : ''}` : '';
  const name = o ? ctx.userName?.(o.uid) : undefined;
  const owner = o ? `${o.path} is owned by uid ${o.uid}${name ? ` (${name})` : ''} (mode ${o.mode.toString(8).padStart(4, '0')})` : '';
  return [who, owner].filter(Boolean).join(', ');
}

/**
 * Calls Go makes relative to a directory fd (os.RemoveAll unlinks each entry by name in
 * its open parent): their relative path says nothing about where, and the probe does not
 * print the fd. Go's message names the full path of the one that failed it.
 */
const DIRFD_CALLS = new Set([SC.unlinkat]);

/** Absolute paths in what the process wrote to stderr ("unlinkat /x/cache/lock: permission denied"). */
function quotedPaths(p: ProcessNode): string[] {
  return [...(stderrOf(p) ?? '').matchAll(/(?:^|[\s"'(])(\/[^\s"':)]+)/g)].map((m) => m[1]!);
}

/** The absolute path of a record: as printed, named by the process itself, or against the workspace. */
function resolvePath(e: SlowSyscallEvent, quoted: string[], workspace: string | undefined): string | undefined {
  const path = e.path!;
  if (path.startsWith('/')) return path;
  const named = quoted.find((q) => q.endsWith(`/${path}`));
  if (named) return named;
  return DIRFD_CALLS.has(e.sc) ? undefined : absolutePath(path, workspace);
}

/** The denials that count, each with its scope as the process itself sees its paths. */
function denials(p: ProcessNode, ctx: DiagnosisContext, failed: boolean): Denial[] {
  const go = ctx.goEnvOf?.(p) ?? ctx.go;
  const pathDirs = new Set((ctx.envOf?.(p)?.PATH ?? '').split(':').filter((d) => d.startsWith('/')));
  const quoted = quotedPaths(p);
  const out: Denial[] = [];
  for (const e of failedCalls(p, denied)) {
    const path = resolvePath(e, quoted, ctx.workspace);
    if (path === undefined) continue;
    if (isPathLookup(e, path, pathDirs)) continue;
    if (LOOKUP_CALLS.has(e.sc) && !failed) continue;
    const r = cacheAncestor(e, path, go) ?? ctx.roleFor?.(p, path) ?? ctx.roleOf?.(path) ?? { role: 'other' as const, base: undefined };
    out.push({ e, path, base: r.base, scope: scopeOf(r.role) });
  }
  return out;
}

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  const failed = exitedWithFailure(p);
  const all = denials(p, ctx, failed);
  if (all.length < THRESHOLDS.minFailures) return undefined;
  const byScope = new Map<CauseScope, Denial[]>();
  for (const d of all) byScope.set(d.scope, [...(byScope.get(d.scope) ?? []), d]);
  const rank = (list: Denial[]): number => Math.max(...list.map(weightOf));
  const ranked = [...byScope.entries()].filter(([s]) => s !== 'other' || failed)
    .sort((a, b) => rank(b[1]) - rank(a[1]) || Number(b[0] !== 'other') - Number(a[0] !== 'other') || b[1].length - a[1].length);
  if (ranked.length === 0) return undefined;
  const [scope, list] = ranked[0]!;
  // The example: the path the process itself named when it failed, else the strongest, earliest.
  const said = failed ? stderrLine(p, /permission denied|read-only file system|operation not permitted/i) : undefined;
  const named = (d: Denial): number => (said?.includes(`${d.path}:`) ? 1 : 0);
  const first = [...list].sort((a, b) => named(b) - named(a) || weightOf(b) - weightOf(a) || a.e.ts - b.e.ts)[0]!;
  const errnos = distinct(list.map((x) => errnoName(-x.e.ret)));
  const calls = distinct(list.map((x) => SYSCALLS[x.e.sc] ?? `syscall ${x.e.sc}`));
  const where = scope === 'other' ? '' : ` under ${roleName(scope) ?? scope}${first.base ? ` (${first.base})` : ''}`;
  // The owner of what refused: the directory a mkdir, rename or unlink changes; else the path
  // (or its nearest existing ancestor).
  const owner = ownership(p, CHANGE_CALLS.has(first.e.sc) ? dirname(first.path) : first.path, ctx);
  const evidence = `${listSome(calls)} failed with ${errnos.join('/')} ${plural(list.length, 'time')}${where}, ` +
    `e.g. ${SYSCALLS[first.e.sc] ?? 'a call'} ${first.path}${owner ? `; ${owner}` : ''}${failed ? '; the process failed' : ''}` +
    `${said ? `: "${said}"` : ''}`;
  return {
    id: ID, process: p, evidence, hint: HINTS[scope],
    weightNs: failed ? wallNs(p, ctx) : list.reduce((s, x) => s + x.e.latencyNs, 0), explainsFailure: failed,
    attributes: { 'gostall.cause.scope': scope, 'gostall.cause.path': first.path, ...ownerAttributes(first, ctx) },
  };
}

/** The owner of the place that refused, as attributes (gostall.cause.owner_uid). */
function ownerAttributes(d: Denial, ctx: DiagnosisContext): Record<string, number> {
  const o = ctx.ownerOf?.(CHANGE_CALLS.has(d.e.sc) ? dirname(d.path) : d.path);
  return o ? { 'gostall.cause.owner_uid': o.uid } : {};
}

export const rule: Rule = perProcess(judge);
