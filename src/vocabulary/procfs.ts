/**
 * The /proc readers of the live commands, in one place: a process's stat fields, cwd,
 * container, RSS; processes to adopt when the tracer (re)starts; whether a process the
 * model believes running still is (same pid, same start time); CPU, RSS and I/O counts
 * for activity windows. All reads are small and tolerate the process vanishing between
 * two of them (they answer undefined). Every synchronous /proc read of gostall goes
 * through here; the parsers of what the rules need (mountinfo, limits, cgroups, environ)
 * live with the rules' context in src/diagnose. (The agent's in-flight poll reads /proc
 * asynchronously, a few files at a time, in src/agent/inflight-*.ts: a stuck task's files
 * must not stall the event loop.)
 */
import { isAbsolute } from 'node:path';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/** CPU time, RSS, threads and I/O counts of a live process at one moment. */
export interface ProcSample {
  cpuNs: number;
  rssBytes: number;
  threads: number;
  /** /proc/PID/io (absent when not readable: another user's process without CAP_SYS_PTRACE) */
  io: { syscr: number; syscw: number; rchar: number; wchar: number } | undefined;
}

/** A process as the model knows it: its pid and monotonic start. */
export interface KnownProcess { pid: number; startNs: number }

/** USER_HZ: /proc/PID/stat and /proc/stat times are in these ticks (100 on every Linux gostall supports). */
const TICKS_PER_SECOND = 100;
export const NS_PER_TICK = 1e9 / TICKS_PER_SECOND;
const PAGE_BYTES = 4096;

export interface AdoptedProcess {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  exe: string;
  argv: Buffer;
  /** monotonic ns when it started (from its start time since boot) */
  startNs: number;
}

export interface StatFields {
  comm: string;
  /** R, S, D, Z (exited, not yet reaped), …: field 3 */
  state: string;
  ppid: number;
  startTicks: number;
  utime: number;
  stime: number;
  threads: number;
  rssPages: number;
}

/** Fields of /proc/PID/stat; comm may hold spaces and parentheses, so split after the last ')'. */
export function readStat(pid: number | 'self', procRoot = '/proc'): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    comm: text.slice(open + 1, close), state: f[0] ?? '', ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), threads: Number(f[17]),
    startTicks: Number(f[19]), rssPages: Number(f[21]),
  };
}

/** Seconds since boot including suspend (what start times count) minus CLOCK_MONOTONIC. */
function bootToMonotonicOffsetNs(): number {
  try {
    const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e9;
    return up - Number(process.hrtime.bigint());
  } catch {
    return 0;
  }
}

/** CPU time, RSS, threads and I/O syscall counts of a live process (for activity windows). */
export function readProcSample(pid: number): ProcSample | undefined {
  const s = readStat(pid);
  if (!s) return undefined;
  return { cpuNs: (s.utime + s.stime) * NS_PER_TICK, rssBytes: s.rssPages * PAGE_BYTES, threads: s.threads, io: readIo(pid) };
}

/** /proc/PID/io counters: whole thread group, dead threads included. */
function readIo(pid: number): ProcSample['io'] {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    const io = { syscr: get('syscr'), syscw: get('syscw'), rchar: get('rchar'), wchar: get('wchar') };
    return Object.values(io).every(Number.isFinite) ? io : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process the model holds is still the one running under its pid: a pid is
 * reused only by a process that started later, so a start time well after the model's
 * start says "gone, pid reused". 1 s of slack covers tick rounding and the fork-to-exec delay.
 */
export function createLivenessCheck(): (p: KnownProcess) => boolean {
  const offset = bootToMonotonicOffsetNs();
  return (p) => {
    const s = readStat(p.pid);
    if (!s) return false;
    const startNs = s.startTicks * NS_PER_TICK - offset;
    return startNs <= p.startNs + 1e9;
  };
}

/** One process for adoption, read from /proc, or undefined when it is gone or unreadable. */
export function readAdoptable(pid: number, offsetNs = bootToMonotonicOffsetNs()): AdoptedProcess | undefined {
  const s = readStat(pid);
  if (!s) return undefined;
  try {
    const exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
    const argv = readFileSync(`/proc/${pid}/cmdline`).subarray(0, 512);
    const uid = statSync(`/proc/${pid}`).uid;
    return { pid, ppid: s.ppid, uid, comm: s.comm, exe, argv: Buffer.from(argv), startNs: s.startTicks * NS_PER_TICK - offsetNs };
  } catch {
    return undefined;
  }
}

/**
 * Running processes whose command name is one of names (and, when cgroupPath is set, that
 * are in that cgroup v2 directory), oldest first: what a (re)started tracer should follow.
 * Processes whose parent is also a match are left out: following the parent's fork records
 * covers their future children, and the slots ($18..$49) are few.
 */
export function scanForAdoption(names: readonly string[], opts: { cgroupV2Path?: string; selfPid?: number } = {}): AdoptedProcess[] {
  const wanted = new Set(names);
  const offset = bootToMonotonicOffsetNs();
  const found: AdoptedProcess[] = [];
  const matched = new Set<number>();
  const parents = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === opts.selfPid) continue;
    const s = readStat(pid);
    if (!s || !wanted.has(s.comm)) continue;
    if (opts.cgroupV2Path !== undefined && !inCgroup(pid, opts.cgroupV2Path)) continue;
    const a = readAdoptable(pid, offset);
    if (!a) continue;
    matched.add(pid);
    parents.set(pid, s.ppid);
    found.push(a);
  }
  return found.filter((a) => !matched.has(parents.get(a.pid) ?? -1)).sort((x, y) => x.startNs - y.startNs);
}

/** Whether /proc/PID/cgroup puts the process in exactly this cgroup v2 path (e.g. /kubepods/pod1). */
export function inCgroup(pid: number, path: string): boolean {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3) === path;
  } catch {
    return false;
  }
}

/** The working directory of a process, or undefined when it is gone or not readable. */
export function readCwd(pid: number, procRoot = '/proc'): string | undefined {
  const cwd = readProcLink(`${procRoot}/${pid}/cwd`);
  return cwd !== undefined && isAbsolute(cwd) ? cwd.replace(/ \(deleted\)$/, '') : undefined;
}

/** Container id from a process's cgroup paths (docker, containerd, cri-o, podman), if any. */
export function readContainerId(pid: number | 'self' = 'self'): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    return /([0-9a-f]{64})/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

/** Resident memory of a process from /proc/PID/status, in bytes (0 when unknown). */
export function readRssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /^VmRSS:\s*(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A /proc (or /sys, cgroupfs) file as text, or undefined when it is gone or not ours to read. */
export function readProcText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A /proc file as bytes (environ, cmdline: NUL-separated, not necessarily UTF-8). */
export function readProcBytes(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** A file holding one number (/proc/sys/...), or undefined. */
export function readProcNumber(path: string): number | undefined {
  const text = readProcText(path);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** Entries of a /proc directory, or none. */
export function readProcDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** Where a /proc symlink points (cwd, exe, fd/N), or undefined when it is gone or not ours. */
export function readProcLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
