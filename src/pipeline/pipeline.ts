/**
 * The one path from probe lines to spans, for `gostall run` (live, one root), `gostall
 * agent` (live, roots by exec name) and `gostall replay` (a recording, on its own clock):
 *
 *   lines → records (./records) → process tree (src/model) → diagnosis (src/diagnose)
 *     → spans (./tree-spans), handed to emit() in order
 *
 * Roots are registered in ./roots, published by ./publish-queue; agent streams (R record
 * with root pid 0) also get stall episodes and activity windows (./live-spans). A run
 * capture's root starts when it execs CMD (before that it is gostall's shim, waiting
 * while the probes attach), live or replayed. Every process gets its span ids when first
 * seen; time is the probe's, so replaying a recording gives the spans a live run made.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { diagnose } from '../diagnose/diagnose.js';
import { buildParallelism, buildParallelismAttributes } from '../diagnose/build-parallelism.js';
import { buildActionsOf, summarizeBuild } from '../model/build-insight.js';
import type { DiagnosisContext } from '../diagnose/types.js';
import type { RebuildFindings } from '../diagnose/rebuild-diff.js';
import type { ProbeEvent } from '../events/types.js';
import type { ProcessNode } from '../model/process.js';
import { createProcessTree, walk } from '../model/tree.js';
import { createGapLog } from './gaps.js';
import type { AdoptedProcess } from '../vocabulary/procfs.js';
import { createLiveSpans } from './live-spans.js';
import { createPublishQueue, type PublishJob } from './publish-queue.js';
import { createRecordReader } from './records.js';
import { createRootRegistry, type RootInfo } from './roots.js';
import { createIdRegistry, rootOf } from './span-ids.js';
import { buildTreeSpans } from './tree-spans.js';
import type { Pipeline, PipelineOptions, PipelineStats } from './types.js';

export type { Pipeline, PipelineOptions, PipelineSettings, PipelineStats, PublishedTrace } from './types.js';

const TICK_NS = 1e9;

export function createPipeline(opts: PipelineOptions): Pipeline {
  const { settings, clock } = opts;
  const tree = createProcessTree({ keepExitedUntilRelease: true });
  const ids = createIdRegistry();
  const stats: PipelineStats = {
    lines: 0, events: 0, malformed: 0, malformedReasons: new Map(), lostEvents: 0, orphanRecords: 0, roots: 0, rootsRefused: 0,
    tracesPublished: 0, subtreesPublished: 0, treesDropped: 0, treesForced: 0, orphansDetached: 0, spansProduced: 0, episodes: 0, episodeSpans: 0, windowSpans: 0,
    adopted: 0, exitsInferred: 0, gapNs: 0,
  };
  const exitUnknown = new WeakSet<ProcessNode>();
  /** run capture roots: they start when the shim execs CMD */
  const startsAtExec = new WeakSet<ProcessNode>();
  const gaps = createGapLog();
  let pendingAdoptions: AdoptedProcess[] = [];
  let slowNs = 1e6;
  /** live spans (episodes, windows) only for agent-mode streams; a run capture gives run's spans */
  let agentStream = false;
  let nowNs = 0;
  let lastTickNs = 0;

  const emit = (spans: ReadableSpan[]): void => {
    if (spans.length === 0) return;
    stats.spansProduced += spans.length;
    opts.emit(spans);
  };
  const counters = () => ({ lostEvents: tree.stats.lostEvents, malformed: stats.malformed, orphanRecords: tree.stats.orphanRecords });
  const roots = createRootRegistry({
    tree, ids, context: opts.context, maxOpenTrees: settings.maxOpenTrees, counters,
    onRefused: () => { stats.rootsRefused++; }, onAdded: () => { stats.roots++; },
  });
  /** service.name and container of a trace: an orphan's are those of the tree it left. */
  const resourceOf = (root: ProcessNode, info: RootInfo): Resource => opts.resourceFor(info.detachedFrom?.origin ?? root, info.containerId);
  const queue = createPublishQueue({ tree, roots, longLivedNs: settings.longLivedNs, maxQueuedTrees: settings.maxQueuedTrees, stats, publish });
  const live = createLiveSpans({
    episodes: settings.episodes, windowNs: settings.windowNs, roots, ids, clock, context: opts.context, resourceOf, emit, stats,
  });
  const reader = createRecordReader(stats, feedEvent);
  if (opts.context.noteExec) tree.onExec = (p) => opts.context.noteExec!(p);
  tree.onTreeComplete = (root) => {
    queue.treeComplete(root, nowNs);
    opts.onTreeComplete?.(root);
  };

  /** What the process span says about how the process was followed: tracer gaps, adoption, an exit not seen. */
  function processExtras(p: ProcessNode, endNs: number): Attributes | undefined {
    let a: Attributes | undefined;
    const gap = gaps.overlapNs(p.startNs, p.endNs ?? endNs);
    if (gap > 0) (a ??= {})['gostall.tracer.gap_ns'] = gap;
    if (roots.adopted.has(p)) (a ??= {})['gostall.process.adopted'] = true;
    if (exitUnknown.has(p)) {
      a ??= {};
      a['gostall.process.exit_unknown'] = true;
      a['gostall.process.still_running'] = false;
    }
    return a;
  }

  /** The root span's account of the stream while the tree was followed. */
  function rootAttributes(info: RootInfo): Attributes {
    const now = counters();
    const a: Attributes = {
      'gostall.lost_events': now.lostEvents - info.atStart.lostEvents,
      'gostall.malformed_records': now.malformed - info.atStart.malformed,
      'gostall.unattributed_records': now.orphanRecords - info.atStart.orphanRecords,
    };
    if (agentStream) a['gostall.episodes'] = info.episodes;
    if (info.subtrees > 0) a['gostall.agent.subtrees_published_early'] = info.subtrees;
    if (info.orphans > 0) a['gostall.agent.orphans_published_later'] = info.orphans;
    return a;
  }

  /** The findings a recorded context holds for the tree's go commands. */
  function recordedRebuilds(root: ProcessNode, ctx: DiagnosisContext): RebuildFindings[] | undefined {
    if (!ctx.rebuildOf) return undefined;
    const out: RebuildFindings[] = [];
    for (const p of walk(root)) { const f = ctx.rebuildOf(p); if (f) out.push(f); }
    return out;
  }

  async function publish(job: PublishJob): Promise<void> {
    const root = rootOf(job.node);
    const info = roots.info(root);
    if (!info) return;
    const detached = job.node === root ? info.detachedFrom : undefined;
    try {
      const ctx = info.ctx.at(job.endNs, root);
      // a whole trace's builds are compared with the history (a subtree published early is not a build yet)
      const rebuild = job.isRoot && !detached ? await opts.buildHistory?.compare(root, ctx) : undefined;
      const byGo = new Map(rebuild?.findings.map((f) => [f.go, f]));
      const causes = diagnose(job.node, rebuild ? { ...ctx, rebuildOf: (p) => byGo.get(p) } : ctx);
      // a replay: the findings run recorded with its history (the context carries them)
      const rebuilds = rebuild?.findings ?? (job.isRoot && !detached ? recordedRebuilds(root, ctx) : undefined);
      // the build's account, made once: the root span's attributes and the parallelism verdict both read it
      const build = job.node === root ? summarizeBuild(buildActionsOf(root, job.endNs)) : undefined;
      const parallelism = build ? buildParallelism(root, build, ctx) : undefined;
      const spans = await buildTreeSpans({
        node: job.node, parentContext: detached?.parentSpan, ids, clock, thresholdNs: settings.evidenceThresholdNs, endNs: job.endNs,
        causes, resource: resourceOf(root, info), build, rootAttributes: { ...rootAttributes(info), ...buildParallelismAttributes(parallelism) },
        earlierCauseIds: [...info.causeIds], processExtras: (p) => processExtras(p, job.endNs), goPhasesOf: ctx.goDebugTraceOf, rebuilds,
      });
      rebuild?.commit();
      for (const n of opts.buildHistory?.takeNotices() ?? []) process.stderr.write(`gostall: ${n}\n`);
      for (const c of causes) info.causeIds.add(c.id);
      emit(spans);
      if (job.isRoot && !detached) {
        opts.onTracePublished?.({ root, traceId: ids.of(root).traceId, causes, spanCount: spans.length, endNs: job.endNs, parallelism, rebuilds });
      }
    } catch (err) {
      process.stderr.write(`gostall: could not build the spans of pid ${job.node.pid}: ${(err as Error).message}\n`);
    }
    if (job.isRoot && !detached) stats.tracesPublished++;
    else { stats.subtreesPublished++; info.subtrees++; }
  }

  function tick(now: number): void {
    lastTickNs = now;
    if (agentStream) live.tick(now);
    queue.tick(now);
  }

  function processEnded(node: ProcessNode, atNs: number): void {
    live.processEnded(node, atNs);
    queue.processEnded(node, atNs);
  }

  function onReady(e: Extract<ProbeEvent, { kind: 'ready' }>): void {
    slowNs = e.syscallThresholdNs;
    agentStream = e.rootPid === 0;
    tree.add(e);
    if (e.rootPid > 0 && !tree.get(e.rootPid)) {
      const root = roots.add(e.rootPid, e.ts);
      if (root) startsAtExec.add(root);
    }
    for (const a of pendingAdoptions) {
      const before = stats.roots;
      roots.adopt(a);
      if (stats.roots > before) stats.adopted++;
    }
    pendingAdoptions = [];
  }

  /** Follow a record of a traced process into the live spans (agent streams only). */
  function liveNode(pid: number): ProcessNode | undefined {
    return agentStream ? tree.get(pid) : undefined;
  }

  function feedEvent(e: ProbeEvent): void {
    stats.events++;
    if ('ts' in e && e.ts > nowNs) nowNs = e.ts;
    switch (e.kind) {
      case 'ready':
        onReady(e);
        break;
      case 'root':
        if (!tree.get(e.pid)) roots.add(e.pid, e.ts);
        break;
      case 'exec': {
        const node = tree.get(e.pid);
        if (node && startsAtExec.has(node) && !node.exec) node.startNs = e.ts;
        tree.add(e);
        break;
      }
      case 'exit': {
        const node = tree.get(e.pid);
        tree.add(e);
        if (node && node.endNs !== undefined) processEnded(node, e.ts);
        break;
      }
      case 'syscall': {
        opts.context.resolveFd?.(e);
        tree.add(e);
        const node = liveNode(e.pid);
        if (node) live.syscall(node, e, slowNs);
        break;
      }
      case 'offcpu': {
        tree.add(e);
        const node = liveNode(e.pid);
        if (node) live.offcpu(node, e);
        break;
      }
      case 'connect': {
        tree.add(e);
        const node = liveNode(e.pid);
        if (node) live.connect(node, e, settings.evidenceThresholdNs);
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
    feedLine: reader.line,
    malformed: reader.refuse,
    advance(now) {
      if (now > nowNs) nowNs = now;
      tick(nowNs);
    },
    inflight(byNode, now) {
      if (!agentStream) return;
      // The poll ran asynchronously: a process may have exited (and been closed) meanwhile.
      for (const node of [...byNode.keys()]) if (node.endNs !== undefined || !roots.info(rootOf(node))) byNode.delete(node);
      live.inflight(byNode);
      if (now > nowNs) nowNs = now;
      tick(nowNs);
    },
    expectAdoptions(list) {
      pendingAdoptions = list;
    },
    gap(startNs, endNs) {
      if (endNs <= startNs) return;
      gaps.add(startNs, endNs);
      stats.gapNs += endNs - startNs;
      // In-flight calls seen before the gap cannot be followed across it.
      live.inflight(new Map());
    },
    reconcile(isAlive, atNs) {
      let ended = 0;
      for (const root of [...roots.roots()]) {
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
    liveProcesses: roots.liveNodes,
    openTrees: roots.count,
    openEpisodes: live.openEpisodes,
    queuedTrees: queue.length,
    async finish(endNs) {
      if (endNs > nowNs) nowNs = endNs;
      live.closeAll(nowNs);
      queue.flushAll(nowNs);
      await queue.idle();
    },
    idle: queue.idle,
  };
}
