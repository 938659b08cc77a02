/**
 * Stall episodes: a stretch of time in which a process was blocked on the same kind of
 * thing (stat calls, reads, directory reads, a TCP handshake, uninterruptible sleep)
 * for longer than a threshold. Observations are slow syscalls (S records), off-CPU waits
 * outside any traced syscall in D state (O records), slow handshakes (C records), and
 * calls still in flight, found by the live agent in /proc (a stat on a hung FUSE server
 * never returns, so no record ever shows it).
 *
 * Blocked time is the union of the observed intervals (eight threads stuck in the same
 * second count one second), so "blocked 30 s" means the process waited 30 s of wall time.
 * An episode ends when nothing of its kind was seen for mergeGap and nothing is in flight;
 * it is reported once it has lasted minDuration, then every reportEvery while it lasts
 * (in progress), and a last time when it ends. Time is the probe's monotonic clock, so
 * replaying a recording gives the same episodes (minus the in-flight looks, which need /proc).
 */
import { classOfSyscall } from '../events/schema.js';
import { errnoName } from '../vocabulary/errno.js';
import { SC, probeSyscallName } from '../vocabulary/syscalls.js';
import type { ConnectEvent, OffCpuEvent, SlowSyscallEvent } from '../events/types.js';
import type { ProcessNode } from '../model/process.js';
import { addSlowCall, createSlowCalls, type SlowCalls } from '../model/slow-sample.js';

export type EpisodeKind = 'stat' | 'open' | 'read' | 'readdir' | 'other' | 'net' | 'uninterruptible';

export interface EpisodeSettings {
  minDurationNs: number;
  mergeGapNs: number;
  reportEveryNs: number;
}

export interface Ongoing { tid: number; startNs: number; sc: number; path: string | undefined }

export interface Episode {
  id: number;
  node: ProcessNode;
  kind: EpisodeKind;
  startNs: number;
  /** end of the last observation (or now, while something is in flight) */
  lastEndNs: number;
  /** union of observed intervals up to coveredUntilNs */
  unionNs: number;
  coveredUntilNs: number;
  /** sum over threads (≥ unionNs) */
  threadBlockedNs: number;
  calls: number;
  maxNs: number;
  tids: Set<number>;
  paths: Map<string, number>;
  syscalls: Map<string, number>;
  errors: Map<string, number>;
  /** every slow call, summarised for the cause rules (exact totals, uniform sample) */
  slowCalls: SlowCalls;
  /** the slowest calls, for evidence */
  slowest: SlowSyscallEvent[];
  offCpu: OffCpuEvent[];
  connects: ConnectEvent[];
  ongoing: Map<number, Ongoing>;
  reports: number;
  lastReportNs: number;
}

export interface EpisodeReport {
  episode: Episode;
  /** false while it lasts, true for the last report */
  final: boolean;
  nowNs: number;
  /** blocked wall time up to now, in-flight calls included */
  blockedNs: number;
}

const KEEP = 64;
const KEEP_PATHS = 32;
const KEEP_TIDS = 256;

/** The kind of a slow syscall record. */
export function kindOfSyscall(sc: number): EpisodeKind {
  return classOfSyscall(sc);
}

/** fd targets that are not files ("pipe:[12]", "socket:[3]"): a blocking read there is waiting for a peer, not a stall. */
function isNonFileTarget(path: string | undefined): boolean {
  return path !== undefined && !path.startsWith('/');
}

export interface EpisodeTracker {
  /** a slow syscall that finished */
  syscall(node: ProcessNode, e: SlowSyscallEvent, slowNs: number): void;
  offcpu(node: ProcessNode, e: OffCpuEvent): void;
  connect(node: ProcessNode, e: ConnectEvent, slowNs: number): void;
  /** the calls in flight for at least stuckAfter, per process, as of one look (replaces the previous set) */
  inflight(byNode: Map<ProcessNode, Ongoing[]>): void;
  /** advance time: report and close what is due */
  tick(nowNs: number): void;
  /** a process exited: its episodes end now */
  processEnded(node: ProcessNode, atNs: number): void;
  /** close every episode (shutdown, end of a replay) */
  closeAll(nowNs: number): void;
  openCount(): number;
}

export function createEpisodeTracker(settings: EpisodeSettings, report: (r: EpisodeReport) => void): EpisodeTracker {
  const open = new Map<ProcessNode, Map<EpisodeKind, Episode>>();
  let nextId = 1;
  let count = 0;

  function blockedSoFar(ep: Episode, nowNs: number): number {
    let extra = 0;
    if (ep.ongoing.size > 0) {
      let earliest = Infinity;
      for (const o of ep.ongoing.values()) earliest = Math.min(earliest, o.startNs);
      extra = Math.max(0, nowNs - Math.max(ep.coveredUntilNs, earliest));
    }
    return ep.unionNs + extra;
  }

  function close(ep: Episode, atNs: number): void {
    const byKind = open.get(ep.node);
    byKind?.delete(ep.kind);
    if (byKind && byKind.size === 0) open.delete(ep.node);
    count--;
    const blocked = blockedSoFar(ep, atNs);
    if (blocked >= settings.minDurationNs) report({ episode: ep, final: true, nowNs: atNs, blockedNs: blocked });
  }

  /** The open episode of this kind for the process, continuing it or starting a new one. */
  function episodeFor(node: ProcessNode, kind: EpisodeKind, startNs: number): Episode {
    let byKind = open.get(node);
    const cur = byKind?.get(kind);
    if (cur && (startNs <= cur.lastEndNs + settings.mergeGapNs || cur.ongoing.size > 0)) return cur;
    if (cur) close(cur, cur.lastEndNs);
    if (!byKind || !open.has(node)) {
      byKind = new Map();
      open.set(node, byKind);
    }
    const ep: Episode = {
      id: nextId++, node, kind, startNs, lastEndNs: startNs, unionNs: 0, coveredUntilNs: startNs, threadBlockedNs: 0,
      calls: 0, maxNs: 0, tids: new Set(), paths: new Map(), syscalls: new Map(), errors: new Map(),
      slowCalls: createSlowCalls(node.pid), slowest: [], offCpu: [], connects: [], ongoing: new Map(), reports: 0, lastReportNs: 0,
    };
    byKind.set(kind, ep);
    count++;
    return ep;
  }

  /** Add one finished interval [startNs, endNs] on thread tid. */
  function cover(ep: Episode, tid: number, startNs: number, endNs: number): void {
    const blocked = endNs - startNs;
    if (endNs > ep.coveredUntilNs) {
      ep.unionNs += endNs - Math.max(startNs, ep.coveredUntilNs);
      ep.coveredUntilNs = endNs;
    }
    if (startNs < ep.startNs) {
      // Records from other CPUs arrive slightly out of order; an earlier start widens the episode.
      ep.unionNs += Math.min(ep.startNs, endNs) - startNs;
      ep.startNs = startNs;
    }
    ep.lastEndNs = Math.max(ep.lastEndNs, endNs);
    ep.threadBlockedNs += blocked;
    ep.calls++;
    if (blocked > ep.maxNs) ep.maxNs = blocked;
    if (ep.tids.size < KEEP_TIDS) ep.tids.add(tid);
  }

  function notePath(ep: Episode, path: string | undefined): void {
    if (path === undefined) return;
    const n = ep.paths.get(path);
    if (n !== undefined) ep.paths.set(path, n + 1);
    else if (ep.paths.size < KEEP_PATHS) ep.paths.set(path, 1);
  }

  function keepSlowest(ep: Episode, e: SlowSyscallEvent): void {
    if (ep.slowest.length < KEEP) { ep.slowest.push(e); return; }
    let min = 0;
    for (let i = 1; i < ep.slowest.length; i++) if (ep.slowest[i]!.latencyNs < ep.slowest[min]!.latencyNs) min = i;
    if (ep.slowest[min]!.latencyNs < e.latencyNs) ep.slowest[min] = e;
  }

  return {
    syscall(node, e, slowNs) {
      const blocked = e.latencyNs - e.runqNs;
      if (blocked < slowNs) return;
      if ((e.sc === SC.read || e.sc === SC.pread64) && isNonFileTarget(e.path)) return;
      if (e.sc === SC.connect || e.sc === SC.socket) return; // Go connects are non-blocking; C records time handshakes
      const kind = kindOfSyscall(e.sc);
      const ep = episodeFor(node, kind, e.ts - blocked);
      ep.ongoing.delete(e.tid);
      cover(ep, e.tid, e.ts - blocked, e.ts);
      const name = probeSyscallName(e.sc);
      ep.syscalls.set(name, (ep.syscalls.get(name) ?? 0) + 1);
      if (e.ret < 0) {
        const errno = errnoName(-e.ret);
        ep.errors.set(errno, (ep.errors.get(errno) ?? 0) + 1);
      }
      notePath(ep, e.path);
      addSlowCall(ep.slowCalls, e);
      keepSlowest(ep, e);
    },
    offcpu(node, e) {
      // Waits inside a traced syscall are covered by its S record; idle S sleeps are not stalls.
      if (e.sc !== 0 || e.state !== 2) return;
      const ep = episodeFor(node, 'uninterruptible', e.ts - e.durationNs);
      cover(ep, e.tid, e.ts - e.durationNs, e.ts);
      if (ep.offCpu.length < KEEP) ep.offCpu.push(e);
    },
    connect(node, e, slowNs) {
      if (e.established && e.durationNs < slowNs) return;
      const ep = episodeFor(node, 'net', e.ts - e.durationNs);
      cover(ep, e.tid, e.ts - e.durationNs, e.ts);
      notePath(ep, `${e.address}:${e.port}`);
      if (!e.established) ep.errors.set('handshake_failed', (ep.errors.get('handshake_failed') ?? 0) + 1);
      if (ep.connects.length < KEEP) ep.connects.push(e);
    },
    inflight(byNode) {
      for (const [node, calls] of byNode) {
        for (const c of calls) {
          // An fd call counts once its fd is known to name a file (pipes and sockets wait for a peer).
          if ((c.sc === SC.read || c.sc === SC.pread64 || c.sc === SC.getdents64) && !c.path?.startsWith('/')) continue;
          if (c.sc === SC.connect || c.sc === SC.socket) continue;
          const ep = episodeFor(node, kindOfSyscall(c.sc), c.startNs);
          if (c.startNs < ep.startNs) ep.startNs = c.startNs;
          ep.ongoing.set(c.tid, c);
          if (ep.tids.size < KEEP_TIDS) ep.tids.add(c.tid);
          notePath(ep, c.path);
        }
      }
      // Calls no longer in flight have returned. Their S record counts the call; the
      // time they were seen in flight counts now, in case that record was lost.
      for (const [node, byKind] of open) {
        const current = new Set(byNode.get(node) ?? []);
        for (const ep of byKind.values()) {
          for (const [tid, o] of [...ep.ongoing]) {
            if (current.has(o)) continue;
            ep.ongoing.delete(tid);
            const seenUntil = Math.max(o.startNs, ep.lastEndNs);
            if (seenUntil > ep.coveredUntilNs) {
              ep.unionNs += seenUntil - Math.max(o.startNs, ep.coveredUntilNs);
              ep.coveredUntilNs = seenUntil;
            }
          }
        }
      }
    },
    tick(nowNs) {
      for (const byKind of [...open.values()]) {
        for (const ep of [...byKind.values()]) {
          if (ep.ongoing.size > 0) ep.lastEndNs = Math.max(ep.lastEndNs, nowNs);
          else if (nowNs - ep.lastEndNs > settings.mergeGapNs) { close(ep, ep.lastEndNs); continue; }
          const blocked = blockedSoFar(ep, nowNs);
          if (blocked < settings.minDurationNs) continue;
          // In progress: first after reportEvery of episode, then every reportEvery; a
          // stall shorter than that is reported once, when it ends.
          if (nowNs - (ep.reports === 0 ? ep.startNs : ep.lastReportNs) >= settings.reportEveryNs) {
            ep.reports++;
            ep.lastReportNs = nowNs;
            report({ episode: ep, final: false, nowNs, blockedNs: blocked });
          }
        }
      }
    },
    processEnded(node, atNs) {
      const byKind = open.get(node);
      if (!byKind) return;
      for (const ep of [...byKind.values()]) {
        if (ep.ongoing.size > 0) ep.lastEndNs = Math.max(ep.lastEndNs, atNs);
        close(ep, ep.lastEndNs);
      }
    },
    closeAll(nowNs) {
      for (const byKind of [...open.values()]) {
        for (const ep of [...byKind.values()]) {
          if (ep.ongoing.size > 0) ep.lastEndNs = Math.max(ep.lastEndNs, nowNs);
          close(ep, Math.min(ep.lastEndNs, nowNs));
        }
      }
    },
    openCount: () => count,
  };
}
