/**
 * Names the file behind an fd in a slow-syscall record, by reading /proc/PID/fd/N while
 * the process is (usually) still alive. The probe cannot do it on every kernel: struct
 * file's layout is not readable by bpftrace 0.17 on recent kernels. Best effort: a
 * process that has already exited leaves the path unknown.
 */
import { readlinkSync } from 'node:fs';
import type { SlowSyscallEvent } from '../events/types.js';

/** "pipe:[123]", "socket:[4]", "anon_inode:[eventfd]" are not files on a filesystem. */
export function isFilesystemPath(target: string): boolean {
  return target.startsWith('/');
}

/** Fill in e.path from /proc when the record carries only an fd. */
export function resolveFdPath(e: SlowSyscallEvent, procRoot = '/proc'): void {
  if (e.path !== undefined || e.fd < 0) return;
  try {
    e.path = readlinkSync(`${procRoot}/${e.pid}/fd/${e.fd}`);
  } catch {
    /* gone already, or not ours to read */
  }
}
