/**
 * Syscall numbers the probe needs ($49..$68 of probes/linux/gostall.bt): it hooks
 * raw_syscalls entry and exit once and tells calls apart by number, and numbers differ
 * between architectures. Taken from the kernel's unistd tables (x86_64: asm/unistd_64.h;
 * arm64: asm-generic/unistd.h); test/probe-runner/syscall-numbers.test.ts checks them
 * against this machine's headers.
 */

/** The probe's number parameters, in order ($49 first). */
export const PROBE_SYSCALLS = [
  'newfstatat', 'statx', 'faccessat', 'faccessat2', 'readlinkat', 'openat', 'execve',
  'inotify_add_watch', 'mkdirat', 'renameat2', 'unlinkat', 'renameat', 'read', 'pread64',
  'getdents64', 'connect', 'inotify_init1', 'socket', 'close',
  // not timed: the first writes to fd 2 are captured (W records)
  'write',
] as const;
export type ProbeSyscall = (typeof PROBE_SYSCALLS)[number];

/** Position of the first number parameter in the probe. */
export const FIRST_SYSCALL_PARAM = 49;

/** Passed for a call the architecture does not have: no syscall has this number. */
export const NO_SUCH_SYSCALL = 65_535;

const TABLES: Readonly<Record<string, Readonly<Record<ProbeSyscall, number>>>> = {
  x64: {
    newfstatat: 262, statx: 332, faccessat: 269, faccessat2: 439, readlinkat: 267, openat: 257,
    execve: 59, inotify_add_watch: 254, mkdirat: 258, renameat2: 316, unlinkat: 263, renameat: 264,
    read: 0, pread64: 17, getdents64: 217, connect: 42, inotify_init1: 294, socket: 41, close: 3,
    write: 1,
  },
  arm64: {
    newfstatat: 79, statx: 291, faccessat: 48, faccessat2: 439, readlinkat: 78, openat: 56,
    execve: 221, inotify_add_watch: 27, mkdirat: 34, renameat2: 276, unlinkat: 35,
    renameat: NO_SUCH_SYSCALL, read: 63, pread64: 67, getdents64: 61, connect: 203,
    inotify_init1: 26, socket: 198, close: 57, write: 64,
  },
};

/** Architectures (Node's process.arch names) gostall has syscall numbers for. */
export const SUPPORTED_ARCHS = Object.keys(TABLES);

/** This architecture's numbers in parameter order, or undefined when gostall has none for it. */
export function syscallNumbers(arch: string = process.arch): number[] | undefined {
  const table = TABLES[arch];
  return table ? PROBE_SYSCALLS.map((name) => table[name]) : undefined;
}
