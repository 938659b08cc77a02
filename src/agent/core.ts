/**
 * The agent's event pipeline, shared by `gostall agent` (live) and `gostall replay`
 * (a recording): probe lines in, spans out.
 *
 *   lines → parse → process tree (src/model) ─┬→ finished trees → diagnose + spans
 *                                             ├→ stall episodes (src/agent/episodes)
 *                                             └→ activity windows (src/agent/windows)
 *
 * Roots come from G records (agent mode: a watched executable was exec'd), from the R
 * record's root pid (a `gostall run` capture), or from adoption (processes running when
 * the tracer (re)started). Every process gets its span ids when first seen, so spans of a
 * process still running (episodes, windows) are exported under it at once; its own span
 * follows when it exits. Time is the probe's: replaying a recording gives the same spans.
 */
import type { Attributes, SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parseLine } from '../events/parse.js';
import type { ProbeEvent } from '../events/types.js';
import type { MountTable } from '../diagnose/mounts.js';
import type { WallClock } from '../model/clock.js';
import { resolveFdPath } from '../model/fd-path.js';
import type { ProcessNode } from '../model/process.js';
import { createProcessTree, walk } from '../model/tree.js';
import { diagnoseEpisode, episodeAttributes } from './episode-spans.js';
import { createEpisodeTracker, type EpisodeReport, type EpisodeSettings, type Ongoing } from './episodes.js';
import { readProcSample, type AdoptedProcess } from './procfs.js';
import { captureLiveRootContext, replayRootContext, type RootContext } from './root-context.js';
import { createIdRegistry, makeLiveSpan, newSpanId, rootOf } from './span-context.js';
import { buildTreeSpans, containerIdOf, createResourceCache } from './tree-publish.js';
import { createWindowTracker } from './windows.js';

export interface CoreSettings {
  evidenceThresholdNs: number;
  episodes: EpisodeSettings & { stuckAfterNs: number };
  /** activity window length; 0 = no windows */
  windowNs: number;
  longLivedNs: number;
  /** unfinished trees kept at most; roots beyond are counted and not traced */
  maxOpenTrees: number;
  /** finished trees waiting to be published at most; beyond, they are counted and dropped */
  maxQueuedTrees: number;
}

export interface CoreOptions {
  settings: CoreSettings;
  clock: WallClock;
  /** /proc describes the traced processes (live agent); false for a recording */
  live: boolean;
  env: NodeJS.ProcessEnv;
  mounts: () => MountTable;
  /** spans ready for export; called in order, never with an empty list */
  emit: (spans: ReadableSpan[]) => void;
}

export interface CoreStats {
  lines: number;
  events: number;
  malformed: number;
  /** malformed lines by reason (at most MAX_REASONS reasons, the rest under "other") */
  malformedReasons: Map<string, number>;
  lostEvents: number;
  orphanRecords: number;
  roots: number;
  rootsRefused: number;
  tracesPublished: number;
  subtreesPublished: number;
  treesDropped: number;
  /** finished trees published although a task they forked was never seen again */
  treesForced: number;
  /** running processes split off a tree whose root exited, published later into its trace */
  orphansDetached: number;
  spansProduced: number;
  episodes: number;
  episodeSpans: number;
  windowSpans: number;
  adopted: number;
  exitsInferred: number;
  gapNs: number;
}

export interface AgentCore {
  stats: CoreStats;
  /** One line of probe output (stdout). */
  feedLine(line: string): void;
  feedEvent(e: ProbeEvent): void;
  /** Count a line the caller refused before feeding it (e.g. too long to read whole). */
  malformed(reason: string): void;
  /** Advance time when no events arrive (tracer down, idle host). */
  advance(nowNs: number): void;
  /** Calls found in flight (live agent, from /proc) as of nowNs; replaces the previous set. */
  inflight(byNode: Map<ProcessNode, Ongoing[]>, nowNs: number): void;
  /** Roots to create when the next R record arrives (processes the new tracer adopts). */
  expectAdoptions(list: AdoptedProcess[]): void;
  /** The tracer was not running from startNs to endNs. */
  gap(startNs: number, endNs: number): void;
  /** End processes that are gone although no exit was seen (lost records, tracer gaps). */
  reconcile(isAlive: (p: ProcessNode) => boolean, atNs: number): number;
  /** Processes believed running, roots first (seeds for a restarted tracer). */
  liveProcesses(): ProcessNode[];
  openTrees(): number;
  openEpisodes(): number;
  queuedTrees(): number;
  /** Close episodes, publish every tree (unfinished ones as still running), wait for it. */
  finish(endNs: number): Promise<void>;
  /** Resolves when the publish queue is empty. */
  idle(): Promise<void>;
}

const MAX_REASONS = 32;
const NOT_PRINTABLE = /[^\t\x20-\x7e]/;
const SUBTREE_GRACE_NS = 2e9;
const STALE_TREE_NS = 5e9;
const COMPLETE_GRACE_NS = 1e9;
/** A root that exited this long ago while descendants still run is published without them. */
const ORPHAN_GRACE_NS = 2e9;
const TICK_NS = 1e9;

interface RootInfo {
  lostAtStart: number;
  malformedAtStart: number;
  causeIds: Set<string>;
  episodes: number;
  subtrees: number;
  containerId: string | undefined;
  ctx: RootContext;
  /**
   * Set for an orphan that outlived its tree's root: the root published without it, and it
   * is published later into the same trace, under the span of the process that forked it.
   */
  detachedFrom?: { origin: ProcessNode; parentSpan: SpanContext };
  /** orphans detached from this tree, to be published after it */
  orphans: number;
}

interface PublishJob { node: ProcessNode; isRoot: boolean; endNs: number }

export function createAgentCore(opts: CoreOptions): AgentCore {
  const { settings, clock } = opts;
  const tree = createProcessTree({ keepExitedUntilRelease: true });
  const ids = createIdRegistry();
  const resourceFor = createResourceCache(opts.env);
  const stats: CoreStats = {
    lines: 0, events: 0, malformed: 0, malformedReasons: new Map(), lostEvents: 0, orphanRecords: 0, roots: 0, rootsRefused: 0,
    tracesPublished: 0, subtreesPublished: 0, treesDropped: 0, treesForced: 0, orphansDetached: 0, spansProduced: 0, episodes: 0, episodeSpans: 0, windowSpans: 0,
    adopted: 0, exitsInferred: 0, gapNs: 0,
  };
  const rootInfo = new Map<ProcessNode, RootInfo>();
  const adopted = new WeakSet<ProcessNode>();
  const exitUnknown = new WeakSet<ProcessNode>();
  const published = new WeakSet<ProcessNode>();
  const reportedEpisodes = new WeakSet<object>();
  const episodeIds = new WeakMap<object, string>();
  const gaps: { startNs: number; endNs: number }[] = [];
  let pendingAdoptions: AdoptedProcess[] = [];
  let subtreeCandidates: { node: ProcessNode; dueNs: number }[] = [];
  let slowNs = 1e6;
  /** live spans (episodes, windows) only for agent-mode streams; a run capture gives run's spans */
  let agentStream = false;
  let nowNs = 0;
  let lastTickNs = 0;
  const queue: PublishJob[] = [];
  let publishing: Promise<void> | undefined;

  const emit = (spans: ReadableSpan[]): void => {
    if (spans.length === 0) return;
    stats.spansProduced += spans.length;
    opts.emit(spans);
  };

  function malformed(reason: string): void {
    stats.malformed++;
    const key = stats.malformedReasons.has(reason) || stats.malformedReasons.size < MAX_REASONS ? reason : 'other';
    stats.malformedReasons.set(key, (stats.malformedReasons.get(key) ?? 0) + 1);
  }

  // ---- roots and trees ----------------------------------------------------------------

  function newRoot(pid: number, startNs: number): ProcessNode | undefined {
    if (rootInfo.size >= settings.maxOpenTrees) {
      stats.rootsRefused++;
      return undefined;
    }
    const node = tree.addRoot(pid, startNs);
    stats.roots++;
    rootInfo.set(node, {
      lostAtStart: tree.stats.lostEvents, malformedAtStart: stats.malformed, causeIds: new Set(), episodes: 0, subtrees: 0, orphans: 0,
      containerId: opts.live ? containerIdOf(pid) : undefined,
      ctx: opts.live ? captureLiveRootContext(pid, opts.mounts) : replayRootContext(opts.mounts),
    });
    ids.of(node);
    return node;
  }

  function adopt(a: AdoptedProcess): void {
    if (tree.get(a.pid)) return;
    const node = newRoot(a.pid, a.startNs);
    if (!node) return;
    node.uid = a.uid;
    node.exec = {
      ts: a.startNs, filename: a.exe, filenameTruncated: false, comm: a.comm, argvLen: a.argv.length,
      argvParts: [a.argv], argvBytes: a.argv.length,
    };
    adopted.add(node);
    stats.adopted++;
  }

  /** Finished trees wait COMPLETE_GRACE_NS: records of their last threads may still be in another CPU's buffer. */
  let completedTrees: { root: ProcessNode; dueNs: number }[] = [];
  tree.onTreeComplete = (root) => {
    completedTrees.push({ root, dueNs: nowNs + COMPLETE_GRACE_NS });
  };

  function publishCompletedTrees(now: number): void {
    if (completedTrees.length === 0) return;
    const due = completedTrees.filter((c) => c.dueNs <= now);
    if (due.length === 0) return;
    completedTrees = completedTrees.filter((c) => c.dueNs > now);
    for (const c of due) schedule({ node: c.root, isRoot: true, endNs: c.root.endNs ?? now });
  }

  function subtreeComplete(n: ProcessNode): boolean {
    for (const p of walk(n)) if (p.endNs === undefined) return false;
    return true;
  }

  /** A process of a long-lived tree exited: publish its finished subtree soon, then forget it. */
  function considerSubtree(node: ProcessNode, atNs: number): void {
    if (!node.parent) return;
    const root = rootOf(node);
    const origin = rootInfo.get(root)?.detachedFrom?.origin ?? root;
    if (atNs - origin.startNs < settings.longLivedNs) return;
    subtreeCandidates.push({ node, dueNs: atNs + SUBTREE_GRACE_NS });
  }

  function publishDueSubtrees(now: number): void {
    if (subtreeCandidates.length === 0) return;
    const keep: typeof subtreeCandidates = [];
    for (const c of subtreeCandidates) {
      if (c.dueNs > now) { keep.push(c); continue; }
      let top = c.node;
      if (published.has(top) || !subtreeComplete(top)) continue;
      const root = rootOf(top);
      if (published.has(root) || !rootInfo.has(root)) continue;
      while (top.parent && top.parent !== root && top.parent.endNs !== undefined && subtreeComplete(top.parent)) top = top.parent;
      if (published.has(top)) continue;
      schedule({ node: top, isRoot: false, endNs: now });
    }
    subtreeCandidates = keep;
  }

  function schedule(job: PublishJob): void {
    if (published.has(job.node)) return;
    published.add(job.node);
    if (queue.length >= settings.maxQueuedTrees) {
      stats.treesDropped++;
      forget(job);
      return;
    }
    queue.push(job);
    // Publish after the current event is fully handled (the caller may still adjust the tree).
    if (!publishing) publishing = Promise.resolve().then(drainQueue).finally(() => { publishing = undefined; });
  }

  function forget(job: PublishJob): void {
    tree.release(job.node);
    if (job.isRoot) rootInfo.delete(job.node);
  }

  function gapOverlapNs(startNs: number, endNs: number): number {
    let total = 0;
    for (const g of gaps) total += Math.max(0, Math.min(endNs, g.endNs) - Math.max(startNs, g.startNs));
    return total;
  }

  /** service.name and container of a trace: an orphan's are those of the tree it left. */
  function resourceOf(root: ProcessNode, info: RootInfo): Resource {
    return resourceFor(info.detachedFrom?.origin ?? root, info.containerId);
  }

  function processExtras(p: ProcessNode, endNs: number): Attributes | undefined {
    let a: Attributes | undefined;
    const gap = gaps.length > 0 ? gapOverlapNs(p.startNs, p.endNs ?? endNs) : 0;
    if (gap > 0) (a ??= {})['gostall.tracer.gap_ns'] = gap;
    if (adopted.has(p)) (a ??= {})['gostall.process.adopted'] = true;
    if (exitUnknown.has(p)) {
      a ??= {};
      a['gostall.process.exit_unknown'] = true;
      a['gostall.process.still_running'] = false;
    }
    return a;
  }

  async function publish(job: PublishJob): Promise<void> {
    const root = rootOf(job.node);
    const info = rootInfo.get(root);
    if (!info) { tree.release(job.node); return; }
    const rootAttributes: Attributes = {
      'gostall.lost_events': tree.stats.lostEvents - info.lostAtStart,
      'gostall.malformed_records': stats.malformed - info.malformedAtStart,
    };
    if (agentStream) rootAttributes['gostall.episodes'] = info.episodes;
    if (info.subtrees > 0) rootAttributes['gostall.agent.subtrees_published_early'] = info.subtrees;
    if (info.orphans > 0) rootAttributes['gostall.agent.orphans_published_later'] = info.orphans;
    const detached = job.node === root ? info.detachedFrom : undefined;
    try {
      const out = await buildTreeSpans({
        node: job.node, parentContext: detached?.parentSpan, ids, clock, thresholdNs: settings.evidenceThresholdNs, endNs: job.endNs,
        ctx: info.ctx.at(job.endNs, root), resource: resourceOf(root, info), rootAttributes,
        earlierCauseIds: [...info.causeIds], processAttributes: (p) => processExtras(p, job.endNs),
      });
      for (const c of out.causes) info.causeIds.add(c.id);
      emit(out.spans);
    } catch (err) {
      process.stderr.write(`gostall agent: could not build the spans of pid ${job.node.pid}: ${(err as Error).message}\n`);
    }
    if (job.isRoot && !detached) stats.tracesPublished++;
    else { stats.subtreesPublished++; info.subtrees++; }
    forget(job);
  }

  async function drainQueue(): Promise<void> {
    while (queue.length > 0) {
      const job = queue.shift()!;
      await publish(job);
    }
  }

  // ---- episodes and windows ---------------------------------------------------------------

  function onEpisode(r: EpisodeReport): void {
    const ep = r.episode;
    const node = ep.node;
    const root = rootOf(node);
    const info = rootInfo.get(root);
    if (!info) return;
    let id = episodeIds.get(ep);
    if (!id) { id = newSpanId(); episodeIds.set(ep, id); }
    const ctx = info.ctx.at(r.nowNs, root);
    const causes = diagnoseEpisode(r, ctx);
    for (const c of causes) info.causeIds.add(c.id);
    const attributes = episodeAttributes(r, ctx, causes, id);
    if (!reportedEpisodes.has(ep)) {
      reportedEpisodes.add(ep);
      info.episodes++;
      stats.episodes++;
      windows.episode(node);
    }
    stats.episodeSpans++;
    emit([makeLiveSpan({
      name: `stall ${ep.kind}`, parent: ids.contextOf(node), startNs: ep.startNs, endNs: r.final ? ep.lastEndNs : r.nowNs,
      attributes, resource: resourceOf(root, info), clock,
    })]);
  }

  const episodes = createEpisodeTracker(settings.episodes, onEpisode);
  const windows = createWindowTracker({ windowNs: settings.windowNs, procSample: opts.live ? readProcSample : undefined });

  function emitWindows(now: number): void {
    if (!agentStream || settings.windowNs <= 0) return;
    for (const w of windows.tick(now, liveNodes)) {
      const root = rootOf(w.node);
      const info = rootInfo.get(root);
      if (!info) continue;
      stats.windowSpans++;
      emit([makeLiveSpan({
        name: 'activity window', parent: ids.contextOf(w.node), startNs: w.startNs, endNs: w.endNs, attributes: w.attributes,
        resource: resourceOf(root, info), clock,
      })]);
    }
  }

  /** Processes believed running, roots first. */
  function liveNodes(): ProcessNode[] {
    const roots: ProcessNode[] = [];
    const rest: ProcessNode[] = [];
    for (const root of rootInfo.keys()) {
      for (const p of walk(root)) {
        if (p.endNs !== undefined) continue;
        (p === root ? roots : rest).push(p);
      }
    }
    return [...roots, ...rest];
  }

  function tick(now: number): void {
    lastTickNs = now;
    if (agentStream) episodes.tick(now);
    emitWindows(now);
    publishCompletedTrees(now);
    publishDueSubtrees(now);
    publishStaleTrees(now);
    detachOrphans(now);
  }

  /**
   * A root that exited while processes it started still run (gopls killed by its editor,
   * its go list left behind) is published ORPHAN_GRACE_NS after its exit, without waiting
   * for them: its span must not wait on an orphan that may hang for good. Each orphan
   * becomes a tree of its own in the model, published when it finishes, into the same
   * trace under the span of the process that forked it.
   */
  function detachOrphans(now: number): void {
    for (const [root, info] of [...rootInfo]) {
      if (root.endNs === undefined || now - root.endNs < ORPHAN_GRACE_NS || published.has(root)) continue;
      const tops: ProcessNode[] = [];
      const stack = [...root.children];
      while (stack.length > 0) {
        const p = stack.pop()!;
        if (p.endNs === undefined) tops.push(p);
        else stack.push(...p.children);
      }
      if (tops.length === 0) continue;
      const origin = info.detachedFrom?.origin ?? root;
      for (const top of tops) {
        // ids first: the orphan keeps the trace id it got from its old root
        ids.of(top);
        const parentSpan = ids.contextOf(top.parent!);
        tree.detach(top);
        rootInfo.set(top, {
          lostAtStart: tree.stats.lostEvents, malformedAtStart: stats.malformed, causeIds: new Set(), episodes: 0, subtrees: 0, orphans: 0,
          containerId: info.containerId, ctx: info.ctx, detachedFrom: { origin, parentSpan },
        });
        info.orphans++;
        stats.orphansDetached++;
      }
      // The rest of the tree has exited and waited its grace already: publish it now.
      completedTrees = completedTrees.filter((c) => c.root !== root);
      schedule({ node: root, isRoot: true, endNs: root.endNs });
    }
  }

  /**
   * A tree whose processes have all exited is finished even if the model still waits for a
   * task it saw forked (its records were lost, or fell into a tracer gap): publish it after
   * a grace period instead of keeping it forever.
   */
  function publishStaleTrees(now: number): void {
    for (const root of rootInfo.keys()) {
      if (root.endNs === undefined || now - root.endNs < STALE_TREE_NS || published.has(root)) continue;
      if (completedTrees.some((c) => c.root === root)) continue;
      if (!subtreeComplete(root)) continue;
      stats.treesForced++;
      schedule({ node: root, isRoot: true, endNs: now });
    }
  }

  function processEnded(node: ProcessNode, atNs: number): void {
    episodes.processEnded(node, atNs);
    windows.processEnded(node);
    considerSubtree(node, atNs);
  }

  // ---- events ---------------------------------------------------------------------------------

  function feedEvent(e: ProbeEvent): void {
    stats.events++;
    if ('ts' in e && e.ts > nowNs) nowNs = e.ts;
    switch (e.kind) {
      case 'ready': {
        slowNs = e.syscallThresholdNs;
        agentStream = e.rootPid === 0;
        tree.add(e);
        if (e.rootPid > 0 && !tree.get(e.rootPid)) newRoot(e.rootPid, e.ts);
        for (const a of pendingAdoptions) adopt(a);
        pendingAdoptions = [];
        break;
      }
      case 'root':
        if (!tree.get(e.pid)) newRoot(e.pid, e.ts);
        break;
      case 'exit': {
        const node = tree.get(e.pid);
        tree.add(e);
        if (node && node.endNs !== undefined) processEnded(node, e.ts);
        break;
      }
      case 'syscall': {
        if (opts.live) resolveFdPath(e);
        tree.add(e);
        const node = agentStream ? tree.get(e.pid) : undefined;
        if (node) {
          episodes.syscall(node, e, slowNs);
          windows.syscall(node, e, slowNs);
        }
        break;
      }
      case 'offcpu': {
        tree.add(e);
        const node = agentStream ? tree.get(e.pid) : undefined;
        if (node) {
          episodes.offcpu(node, e);
          windows.offcpu(node, e);
        }
        break;
      }
      case 'connect': {
        tree.add(e);
        const node = agentStream ? tree.get(e.pid) : undefined;
        if (node) {
          episodes.connect(node, e, settings.evidenceThresholdNs);
          windows.connect(node, e);
        }
        break;
      }
      default:
        tree.add(e);
    }
    stats.lostEvents = tree.stats.lostEvents;
    stats.orphanRecords = tree.stats.orphanRecords;
    if (nowNs - lastTickNs >= TICK_NS) tick(nowNs);
  }

  return {
    stats,
    feedEvent,
    malformed,
    feedLine(line) {
      stats.lines++;
      // The probe prints only printable ASCII and TAB (%r escapes everything else); anything
      // else is a damaged or foreign line, and is refused before it reaches a parser.
      if (NOT_PRINTABLE.test(line)) {
        malformed('non-ASCII or control bytes');
        return;
      }
      const r = parseLine(line);
      if (r.ok === true) feedEvent(r.event);
      else if (r.ok === false) malformed(r.reason);
    },
    advance(now) {
      if (now > nowNs) nowNs = now;
      tick(nowNs);
    },
    inflight(byNode, now) {
      if (!agentStream) return;
      // The poll ran asynchronously: a process may have exited (and been closed) meanwhile.
      for (const node of [...byNode.keys()]) if (node.endNs !== undefined || !rootInfo.has(rootOf(node))) byNode.delete(node);
      episodes.inflight(byNode);
      if (now > nowNs) nowNs = now;
      tick(nowNs);
    },
    expectAdoptions(list) {
      pendingAdoptions = list;
    },
    gap(startNs, endNs) {
      if (endNs <= startNs) return;
      gaps.push({ startNs, endNs });
      if (gaps.length > 256) gaps.shift();
      stats.gapNs += endNs - startNs;
      // In-flight calls seen before the gap cannot be followed across it.
      episodes.inflight(new Map());
    },
    reconcile(isAlive, atNs) {
      let ended = 0;
      for (const root of [...rootInfo.keys()]) {
        for (const p of [...walk(root)]) {
          if (p.endNs !== undefined || isAlive(p)) continue;
          if (!tree.get(p.pid)) continue;
          exitUnknown.add(p);
          feedEvent({ kind: 'exit', ts: Math.max(atNs, p.startNs), pid: p.pid, tid: p.pid, status: 0 });
          p.status = undefined;
          ended++;
        }
      }
      stats.exitsInferred += ended;
      return ended;
    },
    liveProcesses: liveNodes,
    openTrees: () => rootInfo.size,
    openEpisodes: () => episodes.openCount(),
    queuedTrees: () => queue.length,
    async finish(endNs) {
      if (endNs > nowNs) nowNs = endNs;
      episodes.closeAll(nowNs);
      publishCompletedTrees(Infinity);
      publishDueSubtrees(Infinity);
      for (const root of [...rootInfo.keys()]) schedule({ node: root, isRoot: true, endNs: nowNs });
      await this.idle();
    },
    async idle() {
      while (publishing) await publishing;
    },
  };
}
