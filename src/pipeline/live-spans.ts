/**
 * Spans of processes that are still running (agent streams only): stall episodes (a call
 * blocked for seconds, reported every reportEvery while it lasts, diagnosed by the same
 * rules as finished trees) and activity windows (what a long-lived process did in each
 * window). They hang under the process's pre-assigned span id, so they are exported at
 * once and join the process span that comes when it exits.
 */
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ConnectEvent, OffCpuEvent, SlowSyscallEvent } from '../events/types.js';
import type { WallClock } from '../model/clock.js';
import type { ProcessNode } from '../model/process.js';
import type { ContextCollector } from './context.js';
import { diagnoseEpisode, episodeAttributes } from './episode-spans.js';
import { createEpisodeTracker, type EpisodeReport, type EpisodeSettings, type Ongoing } from './episodes.js';
import type { RootInfo, RootRegistry } from './roots.js';
import { newSpanId, rootOf, spanContextOf, type IdRegistry } from './span-ids.js';
import { makeSpan } from './spans.js';
import { createWindowTracker } from './windows.js';

export interface LiveSpanStats { episodes: number; episodeSpans: number; windowSpans: number }

export interface LiveSpans {
  syscall(node: ProcessNode, e: SlowSyscallEvent, slowNs: number): void;
  offcpu(node: ProcessNode, e: OffCpuEvent): void;
  connect(node: ProcessNode, e: ConnectEvent, slowNs: number): void;
  /** Calls found in flight, per process, as of one look (replaces the previous set). */
  inflight(byNode: Map<ProcessNode, Ongoing[]>): void;
  processEnded(node: ProcessNode, atNs: number): void;
  /** Report episodes and windows due at nowNs. */
  tick(nowNs: number): void;
  closeAll(nowNs: number): void;
  openEpisodes(): number;
}

export function createLiveSpans(x: {
  episodes: EpisodeSettings; windowNs: number; roots: RootRegistry; ids: IdRegistry; clock: WallClock;
  context: ContextCollector; resourceOf: (root: ProcessNode, info: RootInfo) => Resource;
  emit: (spans: ReadableSpan[]) => void; stats: LiveSpanStats;
}): LiveSpans {
  const { roots, ids, clock, stats } = x;
  const reported = new WeakSet<object>();
  const episodeIds = new WeakMap<object, string>();

  function onEpisode(r: EpisodeReport): void {
    const ep = r.episode;
    const node = ep.node;
    const root = rootOf(node);
    const info = roots.info(root);
    if (!info) return;
    let id = episodeIds.get(ep);
    if (!id) { id = newSpanId(); episodeIds.set(ep, id); }
    const ctx = info.ctx.at(r.nowNs, root);
    const causes = diagnoseEpisode(r, ctx);
    for (const c of causes) info.causeIds.add(c.id);
    const attributes = episodeAttributes(r, ctx, causes, id);
    if (!reported.has(ep)) {
      reported.add(ep);
      info.episodes++;
      stats.episodes++;
      windows.episode(node);
    }
    stats.episodeSpans++;
    const parent = ids.of(node);
    x.emit([makeSpan({
      name: `stall ${ep.kind}`, context: spanContextOf(parent.traceId, newSpanId()), parent,
      startNs: ep.startNs, endNs: r.final ? ep.lastEndNs : r.nowNs, attributes, resource: x.resourceOf(root, info), clock,
    })]);
  }

  const episodes = createEpisodeTracker(x.episodes, onEpisode);
  const windows = createWindowTracker({ windowNs: x.windowNs, procSample: x.context.procSample });

  function emitWindows(now: number): void {
    if (x.windowNs <= 0) return;
    for (const w of windows.tick(now, roots.liveNodes)) {
      const root = rootOf(w.node);
      const info = roots.info(root);
      if (!info) continue;
      stats.windowSpans++;
      const parent = ids.of(w.node);
      x.emit([makeSpan({
        name: 'activity window', context: spanContextOf(parent.traceId, newSpanId()), parent, startNs: w.startNs, endNs: w.endNs,
        attributes: w.attributes, resource: x.resourceOf(root, info), clock,
      })]);
    }
  }

  return {
    syscall(node, e, slowNs) {
      episodes.syscall(node, e, slowNs);
      windows.syscall(node, e, slowNs);
    },
    offcpu(node, e) {
      episodes.offcpu(node, e);
      windows.offcpu(node, e);
    },
    connect(node, e, slowNs) {
      episodes.connect(node, e, slowNs);
      windows.connect(node, e);
    },
    inflight: (byNode) => episodes.inflight(byNode),
    processEnded(node, atNs) {
      episodes.processEnded(node, atNs);
      windows.processEnded(node);
    },
    tick(now) {
      episodes.tick(now);
      emitWindows(now);
    },
    closeAll: (now) => episodes.closeAll(now),
    openEpisodes: () => episodes.openCount(),
  };
}
