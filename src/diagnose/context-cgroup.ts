/**
 * CPU quota and throttling of the cgroup a traced process runs in, for cgroup v1 (the cpu
 * controller, e.g. /sys/fs/cgroup/cpu/<path>) and v2 (cpu.max / cpu.stat). A process can be
 * moved into a cgroup after it started (`echo $$ > cgroup.procs; exec go build`), so the
 * caller reads the process's cgroup repeatedly while it runs and keeps a first reading of
 * every cgroup it saw; throttling is the difference to the last reading.
 */
import { readProcText } from '../vocabulary/procfs.js';
import { join, posix } from 'node:path';
import type { MountEntry } from './mounts.js';
import type { CgroupCpuUsage } from './types.js';

export interface CgroupRef { version: 1 | 2; path: string; dir: string }

export interface CpuStatReading {
  periods: number;
  throttledPeriods: number;
  throttledNs: number;
}

export interface CpuQuota { quotaUs: number | undefined; periodUs: number | undefined; quotaCpus: number | undefined }

/** "hierarchy:controllers:path" lines of /proc/PID/cgroup → cpu controller path (v1) and the v2 path. */
export function parseProcCgroup(text: string): { v1Cpu: string | undefined; v2: string | undefined } {
  let v1Cpu: string | undefined;
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const controllers = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (line.slice(0, a) === '0' && controllers === '') v2 = path;
    else if (controllers.split(',').includes('cpu')) v1Cpu = path;
  }
  return { v1Cpu, v2 };
}

/** Where the cgroup directory for a path is, given the cgroup mount (its root may be a namespace root). */
function cgroupDir(mount: MountEntry, path: string): string {
  const root = mount.root === '/' ? '' : mount.root;
  const rel = root && (path === root || path.startsWith(`${root}/`)) ? path.slice(root.length) : path;
  return join(mount.mountPoint, rel || '/');
}

/** The cgroup of pid that holds its CPU accounting: v1 cpu controller if mounted, else v2. */
export function cpuCgroupOf(pid: number, mounts: MountEntry[], procRoot = '/proc'): CgroupRef | undefined {
  const text = readProcText(`${procRoot}/${pid}/cgroup`);
  if (text === undefined) return undefined;
  const { v1Cpu, v2 } = parseProcCgroup(text);
  if (v1Cpu !== undefined) {
    const m = mounts.find((e) => e.fsType === 'cgroup' && e.superOptions.split(',').includes('cpu'));
    if (m) return { version: 1, path: v1Cpu, dir: cgroupDir(m, v1Cpu) };
  }
  if (v2 !== undefined) {
    const m = mounts.find((e) => e.fsType === 'cgroup2');
    if (m) return { version: 2, path: v2, dir: cgroupDir(m, v2) };
  }
  return undefined;
}


/** cpu.stat of either version, throttled time in ns; undefined when the file has no throttling fields. */
export function parseCpuStat(text: string, version: 1 | 2): CpuStatReading | undefined {
  const f = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) f.set(k, Number(v));
  }
  const periods = f.get('nr_periods');
  const throttled = f.get('nr_throttled');
  const time = version === 1 ? f.get('throttled_time') : (f.get('throttled_usec') ?? NaN) * 1000;
  if (periods === undefined || throttled === undefined || time === undefined || Number.isNaN(time)) return undefined;
  return { periods, throttledPeriods: throttled, throttledNs: time };
}

export function readCpuStat(ref: CgroupRef): CpuStatReading | undefined {
  const text = readProcText(join(ref.dir, 'cpu.stat'));
  return text === undefined ? undefined : parseCpuStat(text, ref.version);
}

/** Quota of one cgroup directory in µs per period (undefined: unlimited). */
function quotaOfDir(dir: string, version: 1 | 2): { quotaUs: number; periodUs: number } | undefined {
  if (version === 1) {
    const q = Number(readProcText(join(dir, 'cpu.cfs_quota_us'))?.trim());
    const p = Number(readProcText(join(dir, 'cpu.cfs_period_us'))?.trim());
    return q > 0 && p > 0 ? { quotaUs: q, periodUs: p } : undefined;
  }
  const [q, p] = (readProcText(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
  const quota = Number(q);
  const period = Number(p);
  return q !== 'max' && quota > 0 && period > 0 ? { quotaUs: quota, periodUs: period } : undefined;
}

/**
 * The quota that binds: the smallest quota/period on the path from this cgroup up to the
 * hierarchy root (a parent's limit caps its children; Go 1.25 itself reads only the leaf).
 */
export function readCpuQuota(ref: CgroupRef): CpuQuota {
  let best: { quotaUs: number; periodUs: number } | undefined;
  let dir = ref.dir;
  let path = ref.path;
  for (let i = 0; i < 32; i++) {
    const q = quotaOfDir(dir, ref.version);
    if (q && (!best || q.quotaUs / q.periodUs < best.quotaUs / best.periodUs)) best = q;
    if (path === '/' || path === '') break;
    path = posix.dirname(path);
    dir = posix.dirname(dir);
  }
  return best ? { ...best, quotaCpus: best.quotaUs / best.periodUs } : { quotaUs: undefined, periodUs: undefined, quotaCpus: undefined };
}

interface Watched { ref: CgroupRef; first: CpuStatReading; last: CpuStatReading; seenFirst: boolean }

/** Follows one process's CPU cgroup over a run. */
export interface CgroupWatch {
  /** Read the process's cgroup now (call at start and then periodically while it lives). */
  sample(): void;
  /** Read every seen cgroup's counters once more and report the one that throttled most. */
  finish(): CgroupCpuUsage | undefined;
}

export function watchCpuCgroup(pid: number, mounts: MountEntry[], procRoot = '/proc'): CgroupWatch {
  const seen = new Map<string, Watched>();
  let samples = 0;
  return {
    sample() {
      const ref = cpuCgroupOf(pid, mounts, procRoot);
      samples++;
      if (!ref || seen.has(ref.dir)) return;
      const first = readCpuStat(ref);
      if (first) seen.set(ref.dir, { ref, first, last: first, seenFirst: samples === 1 });
    },
    finish() {
      let best: CgroupCpuUsage | undefined;
      for (const w of seen.values()) {
        const end = readCpuStat(w.ref) ?? w.last;
        const q = readCpuQuota(w.ref);
        const usage: CgroupCpuUsage = {
          version: w.ref.version, path: w.ref.path, quotaCpus: q.quotaCpus, quotaUs: q.quotaUs, periodUs: q.periodUs,
          periods: Math.max(0, end.periods - w.first.periods),
          throttledPeriods: Math.max(0, end.throttledPeriods - w.first.throttledPeriods),
          throttledNs: Math.max(0, end.throttledNs - w.first.throttledNs),
          movedDuringRun: !w.seenFirst,
        };
        // The cgroup the process ended in wins ties: with no throttling anywhere, report where it ran.
        if (!best || usage.throttledNs >= best.throttledNs) best = usage;
      }
      return best;
    },
  };
}
