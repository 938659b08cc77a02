/**
 * fs.fd_exhaustion: a process ran out of file descriptors (EMFILE: its RLIMIT_NOFILE) or the
 * system ran out of open files (ENFILE: fs.file-max) while opening files or sockets.
 */
import { walk } from '../../model/tree.js';
import { SYSCALLS } from '../../events/schema.js';
import { ERRNO } from '../../vocabulary/errno.js';
import { SC } from '../../vocabulary/syscalls.js';
import type { Cause, Rule } from '../types.js';
import { absolutePath } from '../context-paths.js';
import { distinct, exitedWithFailure, failedCalls, wallNs } from '../evidence.js';
import { formatCount, listSome, plural } from '../format.js';

export const ID = 'fs.fd_exhaustion';

const EMFILE = ERRNO.EMFILE;
const ENFILE = ERRNO.ENFILE;
/** inotify_init1's EMFILE is the inotify instance limit (fs.watch_limit), not the fd limit. */
const INOTIFY_INIT1 = SC.inotify_init1;

export const THRESHOLDS = {
  /** Any failure counts: EMFILE/ENFILE mean exactly "no descriptor left". */
  minFailures: 1,
} as const;

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    const fails = failedCalls(p, (e) => (e.ret === -EMFILE || e.ret === -ENFILE) && e.sc !== INOTIFY_INIT1);
    if (fails.length < THRESHOLDS.minFailures) continue;
    const system = fails.some((e) => e.ret === -ENFILE);
    const calls = distinct(fails.map((e) => SYSCALLS[e.sc] ?? `syscall ${e.sc}`));
    const example = fails.find((e) => e.path !== undefined)?.path;
    const l = ctx.limits;
    // The process's own limit as it exec'd (prlimit, ulimit -n in a script), else the root's at the start.
    const own = ctx.nofileOf?.(p);
    const soft = own?.soft ?? l?.nofileSoft, hard = own ? own.hard : l?.nofileHard;
    const whose = own ? 'as the process started' : 'as gostall started it';
    const limit = system
      ? `the system-wide open-file table is full${l?.fileMax !== undefined ? ` (fs.file-max = ${formatCount(l.fileMax)})` : ''}`
      : `the process hit its open-file limit${soft !== undefined ? ` (RLIMIT_NOFILE ${formatCount(soft)} soft / ${hard !== undefined ? formatCount(hard) : 'unlimited'} hard, ${whose})` : ''}`;
    const evidence = `${listSome(calls)} failed with ${system ? 'ENFILE' : 'EMFILE'} ${plural(fails.length, 'time')}` +
      `${example ? `, e.g. ${absolutePath(example, ctx.workspace) ?? example}` : ''}: ${limit}${exitedWithFailure(p) ? '; the process failed' : ''}`;
    const hint = system
      ? 'raise fs.file-max (sysctl -w fs.file-max=…) or find the process holding most files (ls /proc/*/fd | wc -l)'
      : 'raise the open-file limit (ulimit -n 65536; systemd LimitNOFILE=; docker --ulimit nofile=65536:65536), or fix what keeps so many files open';
    out.push({
      id: ID, process: p, evidence, hint,
      weightNs: exitedWithFailure(p) ? wallNs(p, ctx) : fails.reduce((s, e) => s + e.latencyNs, 0), explainsFailure: exitedWithFailure(p),
      ...(soft !== undefined && !system ? { attributes: { 'gostall.cause.limit': soft } } : {}),
    });
  }
  return out;
};
