/**
 * The roots registry: which trees the pipeline follows, and what it keeps per tree until
 * the tree is published (its diagnosis context, container, causes found so far, counters
 * at its start). Roots come from the R record's root pid (`gostall run`), from G records
 * (agent: a watched executable was exec'd), from adoption (processes running when the
 * tracer (re)started) and from orphans that outlive their tree's root.
 */
import type { SpanContext } from '@opentelemetry/api';
import type { ProcessNode } from '../model/process.js';
import { walk, type ProcessTree } from '../model/tree.js';
import type { ContextCollector, RootContext } from './context.js';
import type { AdoptedProcess } from '../vocabulary/procfs.js';
import { rootOf, type IdRegistry } from './span-ids.js';


/** The record counters a tree's root span reports as deltas since the tree began. */
export interface StreamCounters { lostEvents: number; malformed: number; orphanRecords: number }

export interface RootInfo {
  atStart: StreamCounters;
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

export interface RootRegistry {
  /** Follow a new tree rooted at pid; undefined when maxOpenTrees are followed already. */
  add(pid: number, startNs: number): ProcessNode | undefined;
  /** Follow a process found running (its exec is taken from /proc). */
  adopt(a: AdoptedProcess): void;
  /** A running process of a tree becomes the root of its own (an orphan). */
  detach(top: ProcessNode, from: RootInfo): void;
  info(root: ProcessNode): RootInfo | undefined;
  remove(root: ProcessNode): void;
  roots(): IterableIterator<ProcessNode>;
  count(): number;
  /** Processes believed running, roots first. */
  liveNodes(): ProcessNode[];
  readonly adopted: WeakSet<ProcessNode>;
}

export function createRootRegistry(x: {
  tree: ProcessTree; ids: IdRegistry; context: ContextCollector; maxOpenTrees: number;
  counters: () => StreamCounters; onRefused: () => void; onAdded: () => void;
}): RootRegistry {
  const infos = new Map<ProcessNode, RootInfo>();
  const adopted = new WeakSet<ProcessNode>();
  const fresh = (ctx: RootContext, containerId: string | undefined): RootInfo => ({
    atStart: x.counters(), causeIds: new Set(), episodes: 0, subtrees: 0, orphans: 0, containerId, ctx,
  });

  function add(pid: number, startNs: number): ProcessNode | undefined {
    if (infos.size >= x.maxOpenTrees) {
      x.onRefused();
      return undefined;
    }
    const node = x.tree.addRoot(pid, startNs);
    x.onAdded();
    infos.set(node, fresh(x.context.root(pid), x.context.containerId(pid)));
    x.ids.of(node);
    return node;
  }

  return {
    add,
    adopted,
    adopt(a) {
      if (x.tree.get(a.pid)) return;
      const node = add(a.pid, a.startNs);
      if (!node) return;
      node.uid = a.uid;
      node.exec = {
        ts: a.startNs, filename: a.exe, filenameTruncated: false, comm: a.comm, argvLen: a.argv.length,
        argvParts: [a.argv], argvBytes: a.argv.length,
      };
      adopted.add(node);
    },
    detach(top, from) {
      const origin = from.detachedFrom?.origin ?? rootOf(top);
      // ids first: the orphan keeps the trace id it got from its old root
      x.ids.of(top);
      const parentSpan = x.ids.of(top.parent!);
      x.tree.detach(top);
      infos.set(top, { ...fresh(from.ctx, from.containerId), detachedFrom: { origin, parentSpan } });
      from.orphans++;
    },
    info: (root) => infos.get(root),
    remove: (root) => { infos.delete(root); },
    roots: () => infos.keys(),
    count: () => infos.size,
    liveNodes() {
      const roots: ProcessNode[] = [];
      const rest: ProcessNode[] = [];
      for (const root of infos.keys()) {
        for (const p of walk(root)) {
          if (p.endNs !== undefined) continue;
          (p === root ? roots : rest).push(p);
        }
      }
      return [...roots, ...rest];
    },
  };
}
