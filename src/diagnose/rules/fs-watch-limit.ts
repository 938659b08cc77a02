/**
 * fs.watch_limit: a file watcher (gopls, an editor, air, a test watcher) ran out of inotify
 * watches (inotify_add_watch → ENOSPC) or inotify instances (inotify_init1 → EMFILE). The
 * watcher then silently misses changes, or gives up.
 */
import { walk } from '../../model/tree.js';
import { ERRNO } from '../../vocabulary/errno.js';
import { SC } from '../../vocabulary/syscalls.js';
import type { Cause, Rule } from '../types.js';
import { absolutePath } from '../context-paths.js';
import { exitedWithFailure, failedCalls, wallNs } from '../evidence.js';
import { formatCount, plural } from '../format.js';

export const ID = 'fs.watch_limit';

const INOTIFY_ADD_WATCH = SC.inotify_add_watch;
const INOTIFY_INIT1 = SC.inotify_init1;
const ENOSPC = ERRNO.ENOSPC;
const EMFILE = ERRNO.EMFILE;

export const THRESHOLDS = {
  /** Any failure counts: these errnos from these calls mean exactly "the per-user limit is used up". */
  minFailures: 1,
} as const;

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    const watches = failedCalls(p, (e) => e.sc === INOTIFY_ADD_WATCH && e.ret === -ENOSPC);
    const instances = failedCalls(p, (e) => e.sc === INOTIFY_INIT1 && e.ret === -EMFILE);
    if (watches.length + instances.length < THRESHOLDS.minFailures) continue;
    const parts: string[] = [];
    const limits = ctx.limits;
    if (watches.length > 0) {
      const first = watches[0]!.path ? absolutePath(watches[0]!.path, ctx.workspace) ?? watches[0]!.path : undefined;
      const max = limits?.maxUserWatches !== undefined ? ` (fs.inotify.max_user_watches = ${formatCount(limits.maxUserWatches)}, shared by all processes of the user)` : '';
      parts.push(`inotify_add_watch failed with ENOSPC ${plural(watches.length, 'time')}${first ? `, first for ${first}` : ''}: the user's inotify watches are used up${max}`);
    }
    if (instances.length > 0) {
      const max = limits?.maxUserInstances !== undefined ? ` (fs.inotify.max_user_instances = ${formatCount(limits.maxUserInstances)})` : '';
      parts.push(`inotify_init1 failed with EMFILE ${plural(instances.length, 'time')}: no inotify instances left${max}`);
    }
    const evidence = `${parts.join('; ')}${exitedWithFailure(p) ? '; the process failed' : ''}`;
    const which = watches.length > 0 ? 'fs.inotify.max_user_watches=524288' : 'fs.inotify.max_user_instances=1024';
    const hint = `raise the limit (sysctl -w ${which}, and persist it in /etc/sysctl.d/), or watch less: ` +
      'exclude big trees (VS Code "files.watcherExclude", gopls "directoryFilters") and stop duplicate watchers';
    const failed = exitedWithFailure(p);
    out.push({
      id: ID, process: p, evidence, hint,
      weightNs: failed ? wallNs(p, ctx) : [...watches, ...instances].reduce((s, e) => s + e.latencyNs, 0), explainsFailure: failed,
      attributes: watches.length > 0 && limits?.maxUserWatches !== undefined ? { 'gostall.cause.limit': limits.maxUserWatches } : {},
    });
  }
  return out;
};
