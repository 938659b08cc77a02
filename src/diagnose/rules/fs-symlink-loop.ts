/**
 * fs.symlink_loop: a path the tool resolved loops through symbolic links (`x -> ..`,
 * `a -> b -> a`, link farms), so the kernel gave up with ELOOP.
 */
import { walk } from '../../model/tree.js';
import { SYSCALLS } from '../../events/schema.js';
import { ERRNO } from '../../vocabulary/errno.js';
import { SC } from '../../vocabulary/syscalls.js';
import type { Cause, Rule } from '../types.js';
import { absolutePath } from '../context-paths.js';
import { distinct, exitedWithFailure, failedCalls, wallNs } from '../evidence.js';
import { listSome, plural } from '../format.js';

export const ID = 'fs.symlink_loop';

const ELOOP = ERRNO.ELOOP;
const OPENAT = SC.openat;
/**
 * Path lookups that only fail with ELOOP when a path really loops (stat follows links and
 * gives up after 40 of them). Not openat: O_NOFOLLOW on a plain link also says ELOOP, so an
 * openat failure only counts when the path still loops when gostall looks at it.
 */
const LOOKUPS = new Set([SC.newfstatat, SC.statx, SC.faccessat, SC.faccessat2, SC.readlinkat, SC.inotify_add_watch, SC.mkdirat, SC.renameat2, SC.unlinkat, SC.renameat]);

export const THRESHOLDS = {
  /** Any loop counts: the kernel's own limit (40 links) already rules out a legitimate path. */
  minFailures: 1,
} as const;

/** The shortest prefix of the path that loops by itself: the link to remove, not a path below it. */
function loopingPrefix(path: string, loops: ((p: string) => boolean) | undefined): string {
  if (!loops || !path.startsWith('/')) return path;
  const parts = path.split('/');
  for (let i = 2; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (loops(prefix)) return prefix;
  }
  return path;
}

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    const loops = failedCalls(p, (e) => {
      if (e.ret !== -ELOOP || e.path === undefined) return false;
      if (LOOKUPS.has(e.sc)) return true;
      if (e.sc !== OPENAT || !ctx.pathLoops) return false;
      const abs = absolutePath(e.path, ctx.workspace);
      return abs !== undefined && ctx.pathLoops(abs);
    });
    if (loops.length < THRESHOLDS.minFailures) continue;
    const paths = distinct(loops.map((e) => loopingPrefix(absolutePath(e.path!, ctx.workspace) ?? e.path!, ctx.pathLoops)));
    const calls = distinct(loops.map((e) => SYSCALLS[e.sc] ?? `syscall ${e.sc}`));
    const evidence = `could not resolve ${listSome(paths)}: ${listSome(calls)} failed with ELOOP ` +
      `(too many levels of symbolic links) ${plural(loops.length, 'time')}${exitedWithFailure(p) ? '; the process failed' : ''}`;
    const hint = `remove the symbolic-link loop at ${paths[0]} (ls -l shows where it points), or keep the tool out of that ` +
      'directory (gopls "directoryFilters", VS Code "files.watcherExclude")';
    out.push({
      id: ID, process: p, evidence, hint,
      weightNs: exitedWithFailure(p) ? wallNs(p, ctx) : loops.reduce((s, e) => s + e.latencyNs, 0), explainsFailure: exitedWithFailure(p),
      attributes: { 'gostall.cause.path': paths[0]! },
    });
  }
  return out;
};
