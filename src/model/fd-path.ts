/**
 * Names the file behind an fd in a slow-syscall record, by reading /proc/PID/fd/N. Only
 * for fds the probe could not name (it records the path of every fd opened while traced):
 * the answer is racy, because by the time the record is read the fd may have been closed
 * and reused for another file (measured: a `cat` had its read of libc.so.6 named after the
 * file it opened next). `gostall run` traces CMD from its first instruction and never
 * needs it; it is for processes that were already running when tracing began. A process
 * that has already exited leaves the path unknown.
 */
import { readProcLink } from '../vocabulary/procfs.js';
import type { SlowSyscallEvent } from '../events/types.js';

/** "pipe:[123]", "socket:[4]", "anon_inode:[eventfd]" are not files on a filesystem. */
export function isFilesystemPath(target: string): boolean {
  return target.startsWith('/');
}

/** Fill in e.path from /proc when the record carries only an fd. */
export function resolveFdPath(e: SlowSyscallEvent, procRoot = '/proc'): void {
  if (e.path !== undefined || e.fd < 0) return;
  // gone already, or not ours to read: the path stays unknown
  e.path = readProcLink(`${procRoot}/${e.pid}/fd/${e.fd}`);
}
