/**
 * Samples a process found under a parent (e.g. the bpftrace child of gostall) from /proc:
 * CPU time and peak RSS. Sampling is coarse (the last interval before it exits is missed),
 * so the numbers are labelled "sampled" wherever they are shown.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks: number | undefined;

/** USER_HZ, for the utime/stime fields of /proc/PID/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try { clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clockTicks = 100; }
  }
  return clockTicks;
}

interface StatFields { comm: string; ppid: number; cpuSeconds: number }

/** Parse /proc/PID/stat: the comm may hold spaces and parentheses, so split after the last ')'. */
function readStat(pid: number): StatFields | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return {
    comm: text.slice(open + 1, close),
    ppid: Number(rest[1]),
    cpuSeconds: (Number(rest[11]) + Number(rest[12])) / ticksPerSecond(),
  };
}

/** VmHWM (peak RSS) in KiB, or undefined once the process is gone. */
export function readPeakRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS (current RSS) in KiB, or undefined when there is no such process. */
export function readRssKiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a live process has used so far. */
export function readCpuSeconds(pid: number): number | undefined {
  return readStat(pid)?.cpuSeconds;
}

/**
 * On-CPU time (ns, from the scheduler: /proc/PID/task/TID/schedstat) of a process's main
 * thread and of all its threads, finer than the 10 ms ticks of /proc/PID/stat: a run through
 * the agent costs its Node ~20 ms. Threads that ended meanwhile are not counted.
 */
export function readThreadsCpuNs(pid: number): { mainNs: number; allNs: number } | undefined {
  const onCpu = (tid: string): number => Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  try {
    let allNs = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) { try { allNs += onCpu(tid); } catch { /* ended */ } }
    return { mainNs: onCpu(String(pid)), allNs };
  } catch {
    return undefined;
  }
}

/** First child of parentPid whose comm is `comm`. */
export function findChild(parentPid: number, comm: string): number | undefined {
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return undefined; }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 0x30 || c > 0x39) continue;
    const st = readStat(Number(e));
    if (st && st.ppid === parentPid && st.comm === comm) return Number(e);
  }
  return undefined;
}

/** One process's CPU time over wall-clock time (epoch milliseconds). */
export interface CpuSeries { pid: number | undefined; points: [epochMillis: number, cpuSeconds: number][]; peakRssKiB: number | undefined }



export interface TreeSampler {
  /** stop polling; returns the series for the parent itself and for its child */
  stop(): { parent: CpuSeries; child: CpuSeries };
}

/**
 * Poll a process and its child called `childComm` every intervalMillis until stopped, so
 * the CPU they use inside a time window (the traced command's runtime) can be separated
 * from start-up work such as bpftrace compiling the probe.
 */
export function sampleProcessAndChild(parentPid: number, childComm: string, intervalMillis = 250): TreeSampler {
  const parent: CpuSeries = { pid: parentPid, points: [], peakRssKiB: undefined };
  const child: CpuSeries = { pid: undefined, points: [], peakRssKiB: undefined };
  const sample = (s: CpuSeries) => {
    if (s.pid === undefined) return;
    const cpu = readCpuSeconds(s.pid);
    const hwm = readPeakRssKiB(s.pid);
    if (cpu !== undefined) s.points.push([Date.now(), cpu]);
    if (hwm !== undefined) s.peakRssKiB = hwm;
  };
  const tick = () => {
    if (child.pid === undefined) child.pid = findChild(parentPid, childComm);
    sample(parent);
    sample(child);
  };
  const timer = setInterval(tick, intervalMillis);
  return { stop() { clearInterval(timer); return { parent, child }; } };
}

/** Last sampled CPU seconds of a series. */
export function lastCpuSeconds(s: CpuSeries): number | undefined {
  return s.points.at(-1)?.[1];
}

/** CPU seconds used between two epoch times, linearly interpolated between samples. */
export function cpuSecondsInWindow(s: CpuSeries, fromMillis: number, toMillis: number): number | undefined {
  const pts = s.points;
  if (pts.length < 2 || pts[0]![0] > fromMillis || pts.at(-1)![0] < toMillis) return undefined;
  const at = (t: number): number => {
    for (let i = 1; i < pts.length; i++) {
      const [t1, c1] = pts[i]!;
      if (t1 >= t) {
        const [t0, c0] = pts[i - 1]!;
        return t1 === t0 ? c1 : c0 + ((c1 - c0) * (t - t0)) / (t1 - t0);
      }
    }
    return pts.at(-1)![1];
  };
  return at(toMillis) - at(fromMillis);
}
