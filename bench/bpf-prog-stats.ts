/**
 * Kernel-side cost of the probe: with kernel.bpf_stats_enabled=1 the kernel times every
 * BPF program run, and /proc/PID/fdinfo of each program fd a process holds shows run_cnt
 * and run_time_ns. The sysctl is global, so it is switched on only around one run and
 * always restored, also when the bench is interrupted.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

export interface ProgStat { id: number; name: string; runCount: number; runTimeNs: number }

/** Run fn with BPF run-time statistics enabled, restoring the previous setting afterwards. */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const previous = readFileSync(STATS_SYSCTL, 'utf8').trim();
  const restore = () => { try { writeFileSync(STATS_SYSCTL, previous); } catch { /* nothing more to do */ } };
  const onSignal = (sig: NodeJS.Signals) => { restore(); process.kill(process.pid, sig); };
  process.once('exit', restore);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  writeFileSync(STATS_SYSCTL, '1');
  try {
    return await fn();
  } finally {
    restore();
    process.off('exit', restore);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** prog_id → counters for every BPF program fd the process holds. */
export function readProgCounters(pid: number): Map<number, { runCount: number; runTimeNs: number }> {
  const out = new Map<number, { runCount: number; runTimeNs: number }>();
  let fds: string[];
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return out; }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-prog') continue;
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
      const id = field('prog_id');
      if (Number.isFinite(id)) out.set(id, { runCount: field('run_cnt'), runTimeNs: field('run_time_ns') });
    } catch { /* fd closed meanwhile */ }
  }
  return out;
}

/** The program's name from bpftool, when it is installed (fdinfo has no name). */
async function progName(id: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bpftool', ['prog', 'show', 'id', String(id), '--json'], { timeout: 5000 });
    return (JSON.parse(stdout) as { name?: string }).name ?? `prog ${id}`;
  } catch {
    return `prog ${id}`;
  }
}

/** What each program ran between two readings of readProgCounters, named, costliest first. */
export async function progStatsBetween(
  before: Map<number, { runCount: number; runTimeNs: number }>, after: Map<number, { runCount: number; runTimeNs: number }>,
): Promise<ProgStat[]> {
  const ran: Array<Omit<ProgStat, 'name'>> = [];
  for (const [id, a] of after) {
    const b = before.get(id) ?? { runCount: 0, runTimeNs: 0 };
    if (a.runCount > b.runCount) ran.push({ id, runCount: a.runCount - b.runCount, runTimeNs: a.runTimeNs - b.runTimeNs });
  }
  const stats = await Promise.all(ran.map(async (r) => ({ ...r, name: await progName(r.id) })));
  return stats.sort((x, y) => y.runTimeNs - x.runTimeNs);
}

export interface ProgPoller { stop(): Promise<ProgStat[]> }

/** Poll pid's BPF programs until stopped, keeping each counter's highest value (they only grow). */
export function pollProgStats(getPid: () => number | undefined, intervalMillis = 500): ProgPoller {
  const best = new Map<number, { runCount: number; runTimeNs: number }>();
  const names = new Map<number, Promise<string>>();
  const tick = () => {
    const pid = getPid();
    if (pid === undefined) return;
    for (const [id, c] of readProgCounters(pid)) {
      const b = best.get(id);
      if (!b || c.runTimeNs >= b.runTimeNs) best.set(id, c);
      if (!names.has(id)) names.set(id, progName(id));
    }
  };
  const timer = setInterval(tick, intervalMillis);
  return {
    async stop() {
      clearInterval(timer);
      const stats: ProgStat[] = [];
      for (const [id, c] of best) stats.push({ id, name: await names.get(id)!, ...c });
      return stats.sort((a, b) => b.runTimeNs - a.runTimeNs);
    },
  };
}
