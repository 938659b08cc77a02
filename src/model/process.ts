/** What gostall knows about one traced process. */
import type { GoCacheLookups } from './gocache.js';
import type { ConnectEvent, OffCpuEvent, SlowSyscallEvent } from '../events/types.js';
import { SYSCALL_CLASSES, type SyscallClass } from '../events/schema.js';
import { bytesToText } from '../events/unescape.js';
import { createSlowCalls, type SlowCalls } from './slow-sample.js';
import { SC } from '../vocabulary/syscalls.js';
import { createStderrCapture, type StderrCapture } from './stderr.js';
// go-action.ts imports this module too; only functions cross, called after both loaded.
import { goActionOf, packageLabel } from './go-action.js';

export interface SyscallSums {
  count: number;
  /** time blocked inside the calls (run-queue waits excluded) */
  blockedNs: number;
  maxNs: number;
  errors: number;
  enoent: number;
  /** counts below 16 µs, 256 µs, 4 ms and at or above 4 ms */
  buckets: [number, number, number, number];
}

export interface SchedSums {
  onCpuNs: number;
  runqNs: number;
  offSNs: number;
  offDNs: number;
  maxOffDNs: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
}

export interface ExecInfo {
  ts: number;
  filename: string;
  filenameTruncated: boolean;
  comm: string;
  argvLen: number;
  argvParts: Buffer[];
  argvBytes: number;
}

export interface ProcessNode {
  pid: number;
  /** parent process as seen at fork; undefined for the root */
  parent: ProcessNode | undefined;
  children: ProcessNode[];
  startNs: number;
  endNs: number | undefined;
  /** wait(2) status when it exited */
  status: number | undefined;
  uid: number | undefined;
  oomKilled: boolean;
  exec: ExecInfo | undefined;
  threads: number;
  sums: Record<SyscallClass, SyscallSums>;
  sched: SchedSums;
  /** failures by errno name, from S records (ENOENT and other routine errors are in sums) */
  errnoCounts: Map<string, number>;
  slowSyscalls: SlowSyscallEvent[];
  failedSyscalls: SlowSyscallEvent[];
  offCpu: OffCpuEvent[];
  connects: ConnectEvent[];
  /** every syscall that blocked at least the probe's threshold (failed ones too): totals and a uniform sample */
  slowCalls: SlowCalls;
  /** evidence records not kept because the per-process bound was reached */
  evidenceDropped: number;
  /** the first bytes of its first writes to fd 2 (read them with stderrText) */
  stderr: StderrCapture;
  /** a go process's lookups of its build cache's action entries (H records; src/model/gocache.ts) */
  gocache?: GoCacheLookups;
}

export function emptySums(): SyscallSums {
  return { count: 0, blockedNs: 0, maxNs: 0, errors: 0, enoent: 0, buckets: [0, 0, 0, 0] };
}

export function createProcess(pid: number, parent: ProcessNode | undefined, startNs: number): ProcessNode {
  const sums = Object.fromEntries(SYSCALL_CLASSES.map((c) => [c, emptySums()])) as Record<SyscallClass, SyscallSums>;
  const node: ProcessNode = {
    pid, parent, children: [], startNs, endNs: undefined, status: undefined, uid: undefined, oomKilled: false,
    exec: undefined, threads: 0, sums,
    sched: { onCpuNs: 0, runqNs: 0, offSNs: 0, offDNs: 0, maxOffDNs: 0, voluntarySwitches: 0, involuntarySwitches: 0 },
    errnoCounts: new Map(), slowSyscalls: [], failedSyscalls: [], offCpu: [], connects: [], slowCalls: createSlowCalls(pid), evidenceDropped: 0,
    stderr: createStderrCapture(),
  };
  parent?.children.push(node);
  return node;
}

/** Exit code and signal from a wait(2) status. */
export function decodeWaitStatus(status: number): { code: number | undefined; signal: number | undefined } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: undefined };
  return { code: undefined, signal: sig };
}

/** argv of the process's last exec, and whether the probe cut it short. */
export function argvOf(p: ProcessNode): { argv: string[]; truncated: boolean } {
  const e = p.exec;
  if (!e) return { argv: [], truncated: false };
  const bytes = Buffer.concat(e.argvParts).subarray(0, e.argvLen);
  // Bytes that are not UTF-8 stay visible as \xNN, as in paths (not U+FFFD).
  const parts = bytesToText(bytes).split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return { argv: parts, truncated: e.argvBytes < e.argvLen };
}

/** The last component of a path as the kernel gave it ('' for one ending in '/'). */
export function lastComponent(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The executable's base name (after the last exec), or 'unknown' when it never exec'd while traced. */
export function executableName(p: ProcessNode): string {
  return p.exec ? lastComponent(p.exec.filename) : 'unknown';
}

/**
 * What a process that never exec'd while traced tried to run: the base name of its failed
 * execve calls (`gostall run -- nosuchcmd` searches PATH for nosuchcmd). The span and the
 * summary name the command the user asked for, not "unknown". (A forked child has its
 * parent's exec: a failed exec there leaves it named after the program it still runs.)
 */
function triedExecutable(p: ProcessNode): string | undefined {
  const failed = p.failedSyscalls.find((f) => f.sc === SC.execve && f.path);
  return failed?.path ? lastComponent(failed.path) || undefined : undefined;
}

const GO_FLAGS_WITH_VALUE = new Set(['-C']);

/**
 * Span name: the executable, plus the subcommand for go ("go build"), plus for a toolchain
 * tool the package its action builds ("compile net/http", "link ./cmd/app").
 */
export function displayName(p: ProcessNode): string {
  if (!p.exec) return triedExecutable(p) ?? executableName(p);
  const exe = executableName(p);
  if (exe !== 'go') {
    const action = goActionOf(p);
    const label = action && packageLabel(p, action);
    return label === undefined ? exe : `${exe} ${label}`;
  }
  const { argv } = argvOf(p);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (GO_FLAGS_WITH_VALUE.has(a)) { i++; continue; }
    if (a.startsWith('-')) continue;
    return `go ${a}`;
  }
  return 'go';
}
