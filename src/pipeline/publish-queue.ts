/**
 * When trees are published, and in what order: a finished tree after a grace period (the
 * records of its last threads may still sit in another CPU's buffer); a finished subtree
 * of a long-lived root (gopls's go list children) while the root still runs; a tree whose
 * processes all exited although the model still waits for a task it saw forked; a root
 * whose orphans outlive it, without them. Jobs are published one at a time, in order, off
 * the current event (the caller may still adjust the tree); a bounded queue drops (and
 * counts) trees beyond maxQueuedTrees instead of growing without end.
 */
import type { ProcessNode } from '../model/process.js';
import { walk, type ProcessTree } from '../model/tree.js';
import type { RootRegistry } from './roots.js';
import { rootOf } from './span-ids.js';

export interface PublishJob { node: ProcessNode; isRoot: boolean; endNs: number }

export interface QueueStats { treesDropped: number; treesForced: number; orphansDetached: number }

export interface PublishQueue {
  /** A tree finished at nowNs (the model says so): publish it after the grace period. */
  treeComplete(root: ProcessNode, nowNs: number): void;
  /** A process exited: if its tree is long-lived, publish its finished subtree soon. */
  processEnded(node: ProcessNode, atNs: number): void;
  /** Publish what is due at nowNs. */
  tick(nowNs: number): void;
  /** Publish every followed tree now, finished or not. */
  flushAll(endNs: number): void;
  length(): number;
  /** Resolves when the queue is empty. */
  idle(): Promise<void>;
}

const SUBTREE_GRACE_NS = 2e9;
const STALE_TREE_NS = 5e9;
const COMPLETE_GRACE_NS = 1e9;
/** A root that exited this long ago while descendants still run is published without them. */
const ORPHAN_GRACE_NS = 2e9;

function subtreeComplete(n: ProcessNode): boolean {
  for (const p of walk(n)) if (p.endNs === undefined) return false;
  return true;
}

export function createPublishQueue(x: {
  tree: ProcessTree; roots: RootRegistry; longLivedNs: number; maxQueuedTrees: number; stats: QueueStats;
  publish: (job: PublishJob) => Promise<void>;
}): PublishQueue {
  const { tree, roots, stats } = x;
  const published = new WeakSet<ProcessNode>();
  const queue: PublishJob[] = [];
  let publishing: Promise<void> | undefined;
  let completed: { root: ProcessNode; dueNs: number }[] = [];
  let subtrees: { node: ProcessNode; dueNs: number }[] = [];

  function forget(job: PublishJob): void {
    tree.release(job.node);
    if (job.isRoot) roots.remove(job.node);
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const job = queue.shift()!;
      await x.publish(job);
      forget(job);
    }
  }

  function schedule(job: PublishJob): void {
    if (published.has(job.node)) return;
    published.add(job.node);
    if (queue.length >= x.maxQueuedTrees) {
      stats.treesDropped++;
      forget(job);
      return;
    }
    queue.push(job);
    if (!publishing) publishing = Promise.resolve().then(drain).finally(() => { publishing = undefined; });
  }

  function publishCompleted(now: number): void {
    if (completed.length === 0) return;
    const due = completed.filter((c) => c.dueNs <= now);
    if (due.length === 0) return;
    completed = completed.filter((c) => c.dueNs > now);
    // a tree reopened by a late fork record is published when it completes again (or as an orphan's origin)
    for (const c of due) if (tree.isComplete(c.root)) schedule({ node: c.root, isRoot: true, endNs: c.root.endNs ?? now });
  }

  function publishDueSubtrees(now: number): void {
    if (subtrees.length === 0) return;
    const keep: typeof subtrees = [];
    for (const c of subtrees) {
      if (c.dueNs > now) { keep.push(c); continue; }
      let top = c.node;
      if (published.has(top) || !subtreeComplete(top)) continue;
      const root = rootOf(top);
      if (published.has(root) || !roots.info(root)) continue;
      while (top.parent && top.parent !== root && top.parent.endNs !== undefined && subtreeComplete(top.parent)) top = top.parent;
      if (published.has(top)) continue;
      schedule({ node: top, isRoot: false, endNs: now });
    }
    subtrees = keep;
  }

  /**
   * A tree whose processes have all exited is finished even if the model still waits for a
   * task it saw forked (its records were lost, or fell into a tracer gap): publish it after
   * a grace period instead of keeping it forever.
   */
  function publishStale(now: number): void {
    for (const root of roots.roots()) {
      if (root.endNs === undefined || now - root.endNs < STALE_TREE_NS || published.has(root)) continue;
      if (completed.some((c) => c.root === root)) continue;
      if (!subtreeComplete(root)) continue;
      stats.treesForced++;
      schedule({ node: root, isRoot: true, endNs: now });
    }
  }

  /**
   * A root that exited while processes it started still run (gopls killed by its editor,
   * its go list left behind) is published ORPHAN_GRACE_NS after its exit, without waiting
   * for them: its span must not wait on an orphan that may hang for good. Each orphan
   * becomes a tree of its own in the model, published when it finishes, into the same
   * trace under the span of the process that forked it.
   */
  function detachOrphans(now: number): void {
    for (const root of [...roots.roots()]) {
      if (root.endNs === undefined || now - root.endNs < ORPHAN_GRACE_NS || published.has(root)) continue;
      const tops: ProcessNode[] = [];
      const stack = [...root.children];
      while (stack.length > 0) {
        const p = stack.pop()!;
        if (p.endNs === undefined) tops.push(p);
        else stack.push(...p.children);
      }
      if (tops.length === 0) continue;
      const info = roots.info(root)!;
      for (const top of tops) {
        roots.detach(top, info);
        stats.orphansDetached++;
      }
      // The rest of the tree has exited and waited its grace already: publish it now.
      completed = completed.filter((c) => c.root !== root);
      schedule({ node: root, isRoot: true, endNs: root.endNs });
    }
  }

  return {
    treeComplete(root, nowNs) {
      completed.push({ root, dueNs: nowNs + COMPLETE_GRACE_NS });
    },
    processEnded(node, atNs) {
      if (!node.parent) return;
      const root = rootOf(node);
      const origin = roots.info(root)?.detachedFrom?.origin ?? root;
      if (atNs - origin.startNs < x.longLivedNs) return;
      subtrees.push({ node, dueNs: atNs + SUBTREE_GRACE_NS });
    },
    tick(now) {
      publishCompleted(now);
      publishDueSubtrees(now);
      publishStale(now);
      detachOrphans(now);
    },
    flushAll(endNs) {
      publishCompleted(Infinity);
      publishDueSubtrees(Infinity);
      for (const root of [...roots.roots()]) schedule({ node: root, isRoot: true, endNs });
    },
    length: () => queue.length,
    async idle() {
      while (publishing) await publishing;
    },
  };
}
