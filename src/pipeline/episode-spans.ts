/**
 * A stall episode as a span: what blocked, how long, on which filesystem and path, and
 * (when a cause rule recognises it) the cause with its evidence and hint. The cause rules
 * are the same ones `gostall run` uses: they are run on a stand-in process that holds only
 * the episode's records, from its start to now.
 */
import type { Attributes } from '@opentelemetry/api';
import { probeSyscallName } from '../vocabulary/syscalls.js';
import type { SlowSyscallEvent } from '../events/types.js';
import { diagnose } from '../diagnose/diagnose.js';
import { formatDuration } from '../diagnose/format.js';
import type { Cause, DiagnosisContext } from '../diagnose/types.js';
import { createProcess } from '../model/process.js';
import { addSlowCall } from '../model/slow-sample.js';
import type { EpisodeReport } from './episodes.js';
import { causeAttributes } from './tree-spans.js';
import { episodeStall, ID as LSP_STALL } from '../diagnose/rules/lsp-stall.js';

function topEntries(m: Map<string, number>, n: number): string[] {
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k]) => k);
}

/** In-flight calls as if they ended now, so rules and evidence see them. */
function inflightAsRecords(r: EpisodeReport): SlowSyscallEvent[] {
  const out: SlowSyscallEvent[] = [];
  for (const o of r.episode.ongoing.values()) {
    out.push({
      kind: 'syscall', ts: r.nowNs, pid: r.episode.node.pid, tid: o.tid, sc: o.sc, latencyNs: Math.max(0, r.nowNs - o.startNs),
      runqNs: 0, ret: 0, fd: -1, path: o.path, pathTruncated: false,
    });
  }
  return out;
}

/** Causes the rules find in the episode alone. */
export function diagnoseEpisode(r: EpisodeReport, ctx: DiagnosisContext): Cause[] {
  const ep = r.episode;
  const real = ep.node;
  const stand = createProcess(real.pid, undefined, ep.startNs);
  stand.exec = real.exec;
  stand.uid = real.uid;
  stand.endNs = r.final ? Math.max(ep.startNs + 1, ep.lastEndNs) : r.nowNs;
  const inflight = inflightAsRecords(r);
  stand.slowCalls = structuredClone(ep.slowCalls);
  for (const e of inflight) addSlowCall(stand.slowCalls, e);
  stand.slowSyscalls = [...ep.slowest, ...inflight];
  stand.offCpu = ep.offCpu.slice();
  stand.connects = ep.connects.slice();
  const causes = diagnose(stand, ctx).filter((c) => c.process === stand);
  // an editor tool waiting on this process: only the real tree knows (the stand-in has no parent)
  if (!causes.some((c) => c.id === LSP_STALL)) {
    const stall = episodeStall(real, { nowNs: stand.endNs, blockedNs: r.blockedNs, blockedText: blockedText(r) });
    if (stall) causes.push({ ...stall, process: stand });
  }
  // after the episode's own causes: a child blocked on a slow mount is first of all that
  return causes;
}

/** What the episode's process is blocked on, in words: `12 s in openat of /x/fifo (still in flight)`. */
function blockedText(r: EpisodeReport): string {
  const ep = r.episode;
  const inflight = [...ep.ongoing.values()].sort((a, b) => a.startNs - b.startNs)[0];
  const name = inflight ? probeSyscallName(inflight.sc) : topEntries(ep.syscalls, 1)[0] ?? ep.kind;
  const path = inflight?.path ?? topEntries(ep.paths, 1)[0];
  return `${formatDuration(r.blockedNs)} in ${name}${path ? ` of ${path}` : ''}${inflight ? ' (still in flight)' : ''}`;
}

/** Attributes of an episode span, its evidence text included. */
export function episodeAttributes(r: EpisodeReport, ctx: DiagnosisContext, causes: Cause[], episodeId: string): Attributes {
  const ep = r.episode;
  let longestInflight = 0;
  for (const o of ep.ongoing.values()) longestInflight = Math.max(longestInflight, r.nowNs - o.startNs);
  const syscalls = topEntries(ep.syscalls, 8);
  const inflightNames = [...new Set([...ep.ongoing.values()].map((o) => probeSyscallName(o.sc)))];
  const paths = topEntries(ep.paths, 5);
  const top = paths[0];
  const mount = top?.startsWith('/') ? ctx.mountOf(top) : undefined;
  const endNs = r.final ? ep.lastEndNs : r.nowNs;
  const a: Attributes = {
    'process.pid': ep.node.pid,
    'gostall.episode.id': episodeId,
    'gostall.episode.kind': ep.kind,
    'gostall.episode.in_progress': !r.final,
    'gostall.episode.report': ep.reports + (r.final ? 1 : 0),
    'gostall.episode.duration_ns': Math.max(0, endNs - ep.startNs),
    'gostall.episode.blocked_ns': r.blockedNs,
    'gostall.episode.thread_blocked_ns': ep.threadBlockedNs + [...ep.ongoing.values()].reduce((s, o) => s + Math.max(0, r.nowNs - o.startNs), 0),
    'gostall.episode.calls': ep.calls,
    'gostall.episode.calls_in_flight': ep.ongoing.size,
    'gostall.episode.max_ns': Math.max(ep.maxNs, longestInflight),
    'gostall.episode.threads': ep.tids.size,
  };
  const names = [...new Set([...syscalls, ...inflightNames])];
  if (names.length > 0) a['gostall.episode.syscalls'] = names;
  if (paths.length > 0) a['gostall.episode.paths'] = paths;
  if (top !== undefined) a['file.path'] = top;
  if (mount) {
    a['gostall.episode.fs_type'] = mount.fsType;
    a['gostall.episode.mount_point'] = mount.mountPoint;
  }
  for (const [errno, n] of ep.errors) a[`gostall.episode.errno.${errno}`] = n;

  const what = names.length > 0 ? names.join('/') : ep.kind === 'uninterruptible' ? 'uninterruptible sleep' : ep.kind;
  const parts = [`${ep.calls} ${what} call${ep.calls === 1 ? '' : 's'} blocked ${formatDuration(r.blockedNs)} in ${formatDuration(Math.max(0, endNs - ep.startNs))}`];
  if (ep.kind === 'uninterruptible') parts[0] = `${ep.offCpu.length} uninterruptible waits took ${formatDuration(r.blockedNs)} in ${formatDuration(Math.max(0, endNs - ep.startNs))}`;
  if (ep.ongoing.size > 0) parts.push(`${ep.ongoing.size} still in flight (longest ${formatDuration(longestInflight)})`);
  if (mount) parts.push(`on ${mount.fsType} ${mount.mountPoint}`);
  if (top !== undefined) parts.push(`e.g. ${top}`);
  a['gostall.episode.evidence'] = parts.join(', ');

  if (causes.length > 0) Object.assign(a, causeAttributes(causes));
  return a;
}
