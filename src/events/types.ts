/** Typed probe events. Times are CLOCK_MONOTONIC nanoseconds as printed by the probe. */

export interface ReadyEvent { kind: 'ready'; ts: number; rootPid: number; syscallThresholdNs: number; offcpuThresholdNs: number }
export interface ForkEvent { kind: 'fork'; ts: number; parentPid: number; parentTid: number; childTid: number }
export interface ExecEvent {
  kind: 'exec'; ts: number; pid: number; oldPid: number; ppid: number; uid: number; argvLen: number;
  comm: string; filename: string; filenameTruncated: boolean;
}
export interface ArgvChunkEvent { kind: 'argv'; pid: number; offset: number; bytes: Buffer }
export interface SyscallSumEvent {
  kind: 'sum'; ts: number; pid: number; tid: number; cls: number; count: number; blockedNs: number; maxNs: number;
  errors: number; enoent: number; buckets: [number, number, number, number];
}
export interface SchedSumEvent {
  kind: 'sched'; ts: number; pid: number; tid: number; onCpuNs: number; runqNs: number; offSNs: number; offDNs: number;
  voluntarySwitches: number; involuntarySwitches: number; maxOffDNs: number;
}
export interface ExitEvent { kind: 'exit'; ts: number; pid: number; tid: number; status: number }
export interface OomEvent { kind: 'oom'; ts: number; pid: number }
export interface SlowSyscallEvent {
  kind: 'syscall'; ts: number; pid: number; tid: number; sc: number; latencyNs: number; runqNs: number; ret: number;
  fd: number; path: string | undefined; pathTruncated: boolean;
}
export interface OffCpuEvent { kind: 'offcpu'; ts: number; pid: number; tid: number; state: 1 | 2; durationNs: number; sc: number }
export interface ConnectEvent {
  kind: 'connect'; ts: number; pid: number; tid: number; durationNs: number; established: boolean; address: string; port: number;
}
/** Agent mode: pid exec'd a watched executable while untraced (G), or named itself gostall-shim (N), and is now a root. */
export interface RootEvent { kind: 'root'; ts: number; pid: number; ppid: number }
/** A chunk of one of a process's first writes to fd 2 (n: which write; len: bytes the write asked for). */
export interface StderrEvent { kind: 'stderr'; ts: number; pid: number; tid: number; n: number; len: number; offset: number; bytes: Buffer }
/** A go process opened a path under its build cache: ret is a fd, or -2 (ENOENT); write: the open could write; entry is the path after GOCACHE. */
export interface GoCacheOpenEvent { kind: 'gocache'; ts: number; pid: number; ret: number; write: boolean; entry: string }
/** bpftrace's own "Lost N events" line: the perf buffer overflowed. */
export interface LostEvent { kind: 'lost'; count: number }

export type ProbeEvent =
  | ReadyEvent | ForkEvent | ExecEvent | ArgvChunkEvent | SyscallSumEvent | SchedSumEvent | ExitEvent | OomEvent
  | SlowSyscallEvent | OffCpuEvent | ConnectEvent | LostEvent | RootEvent | StderrEvent | GoCacheOpenEvent;
