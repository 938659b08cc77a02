/**
 * The probe record format, defined once. probes/linux/gostall.bt prints these records
 * (TAB-separated, tag first); test/events/probe-schema.test.ts checks every printf in the
 * probe against FIELDS so the two cannot drift apart.
 */

/** Field names per record tag, in print order (the tag itself excluded). */
export const FIELDS = {
  /** ready: printed by BEGIN. bpftrace (0.17 and later) runs BEGIN before attaching the other
   *  probes but reads output only once all are attached, so reading R means tracing is on */
  R: ['ts', 'rootPid', 'syscallThresholdNs', 'offcpuThresholdNs'],
  /** a task (process or thread) was created by a traced task */
  F: ['ts', 'parentPid', 'parentTid', 'childTid'],
  /** a traced process called execve successfully */
  E: ['ts', 'pid', 'oldPid', 'ppid', 'uid', 'argvLen', 'comm', 'filename'],
  /** one chunk of the argv of the preceding E record for pid (NUL-separated, escaped) */
  V: ['pid', 'offset', 'chunk'],
  /** per-thread, per-syscall-class sums printed when the thread exits */
  A: ['ts', 'pid', 'tid', 'cls', 'count', 'blockedNs', 'maxNs', 'errors', 'enoent', 'lt16us', 'lt256us', 'lt4ms', 'ge4ms'],
  /** per-thread scheduler sums printed at the thread's last context switch, after its A records
   *  (the kernel's counts from the task's start; for run's root, from CMD's exec) */
  Q: ['ts', 'pid', 'tid', 'onCpuNs', 'runqNs', 'offSNs', 'offDNs', 'voluntarySwitches', 'involuntarySwitches', 'maxOffDNs'],
  /** the last thread of a process exited (printed after its Q record); status is the wait(2) status */
  X: ['ts', 'pid', 'tid', 'status'],
  /** the OOM killer chose this process */
  K: ['ts', 'pid'],
  /** a slow or failed syscall: ts is its end; ret is the raw return (negative errno); path is
   *  the call's path, or for read/pread64/getdents64 the path the fd was opened with (two
   *  64-byte halves back to back; empty when the fd was not opened while traced) */
  S: ['ts', 'pid', 'tid', 'sc', 'latencyNs', 'runqNs', 'ret', 'fd', 'path'],
  /** a long off-CPU interval: state 1 = S (interruptible), 2 = D (uninterruptible) */
  O: ['ts', 'pid', 'tid', 'state', 'durationNs', 'sc'],
  /** a TCP handshake finished: newState 1 = established, anything else = failed */
  C: ['ts', 'pid', 'tid', 'durationNs', 'newState', 'address', 'port'],
  /** agent mode: an untraced process exec'd a watched executable and is now a root (its E record follows) */
  G: ['ts', 'pid', 'ppid'],
  /** agent mode: an untraced process named itself gostall-shim (bin/gostall's fork, the first
   *  process of a run through the agent, without an exec) and is now a root; CMD's E record follows */
  N: ['ts', 'pid', 'ppid'],
  /** stderr: bytes from offset of the process's write number n (0-based) to fd 2 of len bytes
   *  (the probe prints at most STDERR_WRITES_PER_PROCESS writes, STDERR_BYTES_PER_WRITE bytes of each) */
  W: ['ts', 'pid', 'tid', 'n', 'len', 'offset', 'chunk'],
  /** a go process opened an action entry of its build cache (GOCACHE/xx/<hash>-a): ret is the raw return
   *  (a fd, or -2 for ENOENT); write is 1 when the flags could write (O_WRONLY, O_RDWR,
   *  O_CREAT); path is the path after the GOCACHE prefix (at most GOCACHE_ENTRY_BYTES) */
  H: ['ts', 'pid', 'ret', 'write', 'path'],
} as const;

export type RecordTag = keyof typeof FIELDS;

/** Where a field sits in a record line split on TAB (the tag is field 0). */
export function fieldIndex<T extends RecordTag>(tag: T, name: (typeof FIELDS)[T][number]): number {
  return (FIELDS[tag] as readonly string[]).indexOf(name) + 1;
}

import { SC } from '../vocabulary/syscalls.js';

/** Syscall ids used in S, O records and by the probe's entry hooks (the table is src/vocabulary/syscalls.ts). */
export { PROBE_SYSCALL_NAMES as SYSCALLS } from '../vocabulary/syscalls.js';

/** Syscall classes the probe sums per thread (A records); the id ranges match the probe. */
export const SYSCALL_CLASSES = ['stat', 'open', 'read', 'readdir', 'other'] as const;
export type SyscallClass = (typeof SYSCALL_CLASSES)[number];

/** Class of a syscall id, by the same id ranges the probe uses. */
export function classOfSyscall(sc: number): SyscallClass {
  if (sc < 10) return 'stat';
  if (sc < 20) return 'open';
  if (sc < 30) return 'read';
  if (sc < 40) return 'readdir';
  return 'other';
}

/** Syscalls whose S record carries an fd instead of a path. */
export const FD_SYSCALLS = new Set([SC.read, SC.pread64, SC.getdents64, SC.connect]);

/** Upper bounds (ns) of the A record's latency buckets; the last bucket is open. */
export const BUCKET_BOUNDS_NS = [16_000, 256_000, 4_000_000] as const;

/** Writes to fd 2 the probe captures per process, and bytes of each (two chunks: 128 + 72). */
export const STDERR_WRITES_PER_PROCESS = 4;
export const STDERR_BYTES_PER_WRITE = 200;
export const STDERR_CHUNK_OFFSETS = [0, 128] as const;

/** Bytes the probe reads of a path (BPFTRACE_STRLEN); a path this long minus the NUL may be cut. */
export const PROBE_STRLEN = 128;

/** Bytes of a build cache path the probe prints after the GOCACHE prefix (H records). */
export const GOCACHE_ENTRY_BYTES = 80;

/** Linux errno names (the table is src/vocabulary/errno.ts). */
export { ERRNO_NAMES, errnoName } from '../vocabulary/errno.js';
