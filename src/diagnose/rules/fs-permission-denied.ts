/**
 * fs.permission_denied: the tool could not read or write where Go keeps its state
 * (GOMODCACHE, GOCACHE, GOPATH, the workspace, HOME), typically because the container runs
 * as another user than the one who owns those directories, or they are read-only.
 */
import { SYSCALLS, errnoName } from '../../events/schema.js';
import type { SlowSyscallEvent } from '../../events/types.js';
import type { ProcessNode } from '../../model/process.js';
import { ERRNO } from '../../vocabulary/errno.js';
import { SC } from '../../vocabulary/syscalls.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { absolutePath } from '../context-paths.js';
import { distinct, exitedWithFailure, failedCalls, roleName, scopeOf, wallNs, type CauseScope, perProcess } from '../evidence.js';
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

export const THRESHOLDS = {
  /**
   * Any denial under a Go path counts (Go caches must be writable by the user running go).
   * Elsewhere ("other") a denial is only a cause when the process then failed: tools probe
   * paths they may not read (e.g. /root/.config) and carry on.
   */
  minFailures: 1,
} as const;

const HINTS: Record<CauseScope, string> = {
  gocache: 'make GOCACHE writable for the user running go (chown -R that user, run as the image\'s user), or set GOCACHE to a writable directory such as $HOME/.cache/go-build',
  gomodcache: 'make GOMODCACHE writable for the user running go (chown -R that user, run as the image\'s user), or set GOMODCACHE to a writable directory',
  gopath: 'make GOPATH writable for the user running go (chown -R), or set GOPATH to a directory that user owns',
  workspace: 'give the user running go write access to the workspace (chown, or run as the owner of the checkout), or build into a writable -o path',
  home: 'give the user running go a writable HOME (or set HOME, GOCACHE and GOMODCACHE to writable directories)',
  other: 'run as a user who may access this path, or point the tool at a writable location',
};

function denied(e: SlowSyscallEvent): boolean {
  return (e.ret === -EACCES || e.ret === -EPERM || e.ret === -EROFS) && PATH_CALLS.has(e.sc) && e.path !== undefined;
}

/** "uid 1001 ran go; /x/gocache is owned by uid 0, mode 0755" */
function ownership(p: ProcessNode, path: string, ctx: DiagnosisContext): string {
  const o = ctx.ownerOf?.(path);
  const who = p.uid !== undefined ? `it ran as uid ${p.uid}` : '';
  const owner = o ? `${o.path} is owned by uid ${o.uid} (mode ${o.mode.toString(8).padStart(4, '0')})` : '';
  return [who, owner].filter(Boolean).join(', ');
}

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  const fails = failedCalls(p, denied);
  if (fails.length < THRESHOLDS.minFailures) return undefined;
  const byScope = new Map<CauseScope, { e: SlowSyscallEvent; path: string; base: string | undefined }[]>();
  for (const e of fails) {
    const path = absolutePath(e.path!, ctx.workspace) ?? e.path!;
    const r = ctx.roleOf?.(path) ?? { role: 'other' as const, base: undefined };
    const scope = scopeOf(r.role);
    const list = byScope.get(scope) ?? [];
    list.push({ e, path, base: r.base });
    byScope.set(scope, list);
  }
  const ranked = [...byScope.entries()].filter(([s]) => s !== 'other').sort((a, b) => b[1].length - a[1].length);
  const failed = exitedWithFailure(p);
  if (ranked.length === 0) {
    if (!failed) return undefined;
    ranked.push(['other', byScope.get('other')!]);
  }
  const [scope, list] = ranked[0]!;
  const first = list[0]!;
  const errnos = distinct(list.map((x) => errnoName(-x.e.ret)));
  const calls = distinct(list.map((x) => SYSCALLS[x.e.sc] ?? `syscall ${x.e.sc}`));
  const where = scope === 'other' ? '' : ` under ${roleName(scope) ?? scope}${first.base ? ` (${first.base})` : ''}`;
  const owner = ownership(p, first.base ?? first.path, ctx);
  const evidence = `${listSome(calls)} failed with ${errnos.join('/')} ${plural(list.length, 'time')}${where}, ` +
    `e.g. ${first.path}${owner ? `; ${owner}` : ''}${failed ? '; the process failed' : ''}`;
  return {
    id: ID, process: p, evidence, hint: HINTS[scope],
    weightNs: failed ? wallNs(p, ctx) : list.reduce((s, x) => s + x.e.latencyNs, 0),
    attributes: { 'gostall.cause.scope': scope, 'gostall.cause.path': first.path },
  };
}

export const rule: Rule = perProcess(judge);
