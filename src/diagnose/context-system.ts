/**
 * Machine facts the rules compare against: machine-wide CPU time (/proc/stat, to tell other
 * work from the traced build's own parallelism), inotify limits and the open-file limit of
 * the traced root. Each reader is one small file read; failures leave the fact unknown.
 */
import { NS_PER_TICK, readProcNumber, readProcText, readStat } from '../vocabulary/procfs.js';
import type { Limits } from './types.js';

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture gostall runs on. */

export interface ProcStatReading { busyNs: number; stealNs: number }

/** The aggregate "cpu" line of /proc/stat: busy = user+nice+system+irq+softirq+steal. */
export function parseProcStat(text: string): ProcStatReading | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 8 || v.some((n) => !Number.isFinite(n))) return undefined;
  const [user, nice, system, , , irq, softirq, steal] = v as [number, number, number, number, number, number, number, number];
  return { busyNs: (user + nice + system + irq + softirq + steal) * NS_PER_TICK, stealNs: steal * NS_PER_TICK };
}

export function readProcStat(procRoot = '/proc'): ProcStatReading | undefined {
  const text = readProcText(`${procRoot}/stat`);
  return text === undefined ? undefined : parseProcStat(text);
}

/** utime+stime of a process in ns, from /proc/PID/stat (fields 14 and 15). */
function processCpuNs(pid: number | 'self', procRoot: string): number {
  const s = readStat(pid, procRoot);
  return s ? (s.utime + s.stime) * NS_PER_TICK : 0;
}

/**
 * CPU time gostall itself has used: this process and its other children (bpftrace), not the
 * traced root. Subtracted from machine-wide CPU time, so the tracer is never counted as
 * "other work" competing with the traced tool.
 * Node starts every child from its main thread (libuv spawns on the event loop), whose
 * children file lists them all: the other threads' (V8's and libuv's ~10) were read as well
 * before, ~20 of the 24 reads of every call, twice at a run's start and at every poll.
 */
export function readOwnCpuNs(tracedRootPid: number, procRoot = '/proc'): number {
  let total = processCpuNs('self', procRoot);
  const children = readProcText(`${procRoot}/self/task/${process.pid}/children`) ?? '';
  for (const c of children.split(' ')) {
    const pid = Number(c);
    if (Number.isInteger(pid) && pid > 0 && pid !== tracedRootPid) total += processCpuNs(pid, procRoot);
  }
  return total;
}

/** "Max open files  1024  4096  files" from /proc/PID/limits. */
export function parseNofile(text: string): { soft: number | undefined; hard: number | undefined } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const num = (s: string | undefined): number | undefined => (s === undefined || s === 'unlimited' ? undefined : Number(s));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

export function readLimits(pid: number, procRoot = '/proc'): Limits {
  const text = readProcText(`${procRoot}/${pid}/limits`);
  const nofile = text === undefined ? { soft: undefined, hard: undefined } : parseNofile(text);
  return {
    maxUserWatches: readProcNumber(`${procRoot}/sys/fs/inotify/max_user_watches`),
    maxUserInstances: readProcNumber(`${procRoot}/sys/fs/inotify/max_user_instances`),
    nofileSoft: nofile.soft,
    nofileHard: nofile.hard,
    fileMax: readProcNumber(`${procRoot}/sys/fs/file-max`),
  };
}
