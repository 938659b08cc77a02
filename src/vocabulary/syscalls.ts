/**
 * Every syscall gostall knows, in one table: the id the probe prints for it in S and O
 * records (probes/linux/gostall.bt numbers calls by class: 1-9 stat, 10-19 open, 20-29
 * read, 30-39 readdir, 40+ other), its kernel number per architecture (the probe hooks
 * raw_syscalls once and tells calls apart by number, and numbers differ between
 * architectures), and which argument holds its path or fd (for calls found in flight in
 * /proc/PID/syscall). Kernel numbers are from the unistd tables (x86_64:
 * asm/unistd_64.h; arm64: asm-generic/unistd.h); test/vocabulary/syscalls.test.ts checks
 * them against this machine's headers.
 */

/** Passed for a call the architecture does not have: no syscall has this number. */
export const NO_SUCH_SYSCALL = 65_535;

interface SyscallRow {
  /** id in the probe's records; undefined for calls the probe hooks but never reports */
  probeId?: number;
  x64: number;
  arm64: number;
  /** argument index of the path (or fd) of a call found in flight; undefined: not followed in flight */
  pathArg?: 0 | 1;
}

/** In the order of the probe's number parameters ($49 first). */
const ROWS = {
  newfstatat: { probeId: 1, x64: 262, arm64: 79, pathArg: 1 },
  statx: { probeId: 2, x64: 332, arm64: 291, pathArg: 1 },
  faccessat: { probeId: 5, x64: 269, arm64: 48, pathArg: 1 },
  faccessat2: { probeId: 6, x64: 439, arm64: 439, pathArg: 1 },
  readlinkat: { probeId: 8, x64: 267, arm64: 78, pathArg: 1 },
  openat: { probeId: 10, x64: 257, arm64: 56, pathArg: 1 },
  execve: { probeId: 40, x64: 59, arm64: 221, pathArg: 0 },
  inotify_add_watch: { probeId: 41, x64: 254, arm64: 27, pathArg: 1 },
  mkdirat: { probeId: 43, x64: 258, arm64: 34, pathArg: 1 },
  renameat2: { probeId: 44, x64: 316, arm64: 276, pathArg: 1 },
  unlinkat: { probeId: 45, x64: 263, arm64: 35, pathArg: 1 },
  renameat: { probeId: 49, x64: 264, arm64: NO_SUCH_SYSCALL, pathArg: 1 },
  read: { probeId: 20, x64: 0, arm64: 63, pathArg: 0 },
  pread64: { probeId: 21, x64: 17, arm64: 67, pathArg: 0 },
  getdents64: { probeId: 30, x64: 217, arm64: 61, pathArg: 0 },
  // Go's connects are non-blocking (the wait is in the netpoller): never followed in flight.
  connect: { probeId: 46, x64: 42, arm64: 203 },
  inotify_init1: { probeId: 42, x64: 294, arm64: 26 },
  socket: { probeId: 47, x64: 41, arm64: 198 },
  close: { x64: 3, arm64: 57 },
  // not timed: the first writes to fd 2 are captured (W records)
  write: { x64: 1, arm64: 64 },
} as const satisfies Record<string, SyscallRow>;

export type ProbeSyscall = keyof typeof ROWS;

/** The probe's number parameters, in order ($49 first). */
export const PROBE_SYSCALLS = Object.keys(ROWS) as ProbeSyscall[];

/** Position of the first number parameter in the probe. */
export const FIRST_SYSCALL_PARAM = 49;

/** The probe's id of each reported syscall, by name (for code that tests a record's sc). */
export const SC = Object.fromEntries(
  Object.entries(ROWS).flatMap(([name, row]) => ('probeId' in row ? [[name, row.probeId]] : [])),
) as { readonly [K in ProbeSyscall as (typeof ROWS)[K] extends { probeId: number } ? K : never]: number };

/** Probe id → syscall name (the S and O records' sc field). */
export const PROBE_SYSCALL_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(SC).map(([name, id]) => [id, name]),
);

/** Name of a probe syscall id; syscall_<id> for one gostall does not know. */
export function probeSyscallName(id: number): string {
  return PROBE_SYSCALL_NAMES[id] ?? `syscall_${id}`;
}

type Arch = 'x64' | 'arm64';

/** Architectures (Node's process.arch names) gostall has syscall numbers for. */
export const SUPPORTED_ARCHS: string[] = ['x64', 'arm64'];

const isArch = (arch: string): arch is Arch => SUPPORTED_ARCHS.includes(arch);

/** This architecture's numbers in parameter order, or undefined when gostall has none for it. */
export function syscallNumbers(arch: string = process.arch): number[] | undefined {
  if (!isArch(arch)) return undefined;
  return PROBE_SYSCALLS.map((name) => ROWS[name][arch]);
}

/** Kernel number → the probe's id and the argument holding the path or fd, for calls followed in flight. */
export function inflightSyscalls(arch: string = process.arch): Map<number, { sc: number; arg: number }> {
  const out = new Map<number, { sc: number; arg: number }>();
  if (!isArch(arch)) return out;
  for (const row of Object.values(ROWS) as SyscallRow[]) {
    if (row.probeId === undefined || row.pathArg === undefined || row[arch] === NO_SUCH_SYSCALL) continue;
    out.set(row[arch], { sc: row.probeId, arg: row.pathArg });
  }
  return out;
}
