/**
 * Builds the process tree of a trace from probe events. Fork records arrive for threads
 * too; a task becomes a process when an event names it as a pid, and a thread's pending
 * entry is dropped when the thread exits, so memory follows live tasks, not history.
 *
 * A tree is complete when every process in it has exited and every task forked in it has
 * shown what it was: a child forked just before its parent exits (`sh -c 'cmd &'`) is still
 * part of the tree, and its parent is the process that forked it, whether or not that
 * parent is still alive when the child's first record arrives.
 *
 * Records come from per-CPU buffers, read a batch per CPU at a time: under load a child's
 * exec and exit can be read before the fork record its parent's CPU printed (measured: a
 * go build traced with every syscall printed lost 409 records that way). Records about a
 * pid the tree does not know yet wait (bounded) for that pid's fork, and a thread whose exit
 * is read before its creation is remembered, so the order of reading does not matter.
 *
 * (Over 300 lines on purpose: the event switch and the tree's bookkeeping share private
 * state per tree; split apart, that state would be passed around on the per-event hot path.)
 */
import { addGoCacheOpen, emptyGoCacheLookups } from './gocache.js';
import type { ProbeEvent, SlowSyscallEvent } from '../events/types.js';
import { SYSCALL_CLASSES, errnoName } from '../events/schema.js';
import { createProcess, type ProcessNode } from './process.js';
import { addSlowCall } from './slow-sample.js';
import { addStderrChunk } from './stderr.js';
import { SC } from '../vocabulary/syscalls.js';

/** Evidence records kept per process and kind; the rest are counted in evidenceDropped. */
export const MAX_EVIDENCE_PER_PROCESS = 64;
/** argv bytes the probe prints at most (4 chunks of 128). */
const ARGV_LIMIT = 512;
const EXECVE = SC.execve;
/** The probe's syscall threshold until its R record says otherwise (run caps it at 1 ms). */
const DEFAULT_SLOW_NS = 1_000_000;

export interface TreeStats {
  events: number;
  lostEvents: number;
  /** records about a task gostall never saw start (started before tracing, or lost) */
  orphanRecords: number;
}

export interface ProcessTree {
  /** Feed one event. */
  add(event: ProbeEvent): void;
  /** Root processes (in run mode exactly one). */
  roots(): ProcessNode[];
  /** The live process with this pid. */
  get(pid: number): ProcessNode | undefined;
  /** Start tracking pid as a root (run: the shim; agent: a matching exec). */
  addRoot(pid: number, startNs: number): ProcessNode;
  /**
   * Forget a published tree, or a finished subtree of a tree whose root still runs (agent):
   * it leaves roots(), the index of exited processes and its parent's children, so a
   * long-running agent's memory follows live processes, not history.
   */
  release(node: ProcessNode): void;
  /**
   * Make a running process the root of a tree of its own (agent): an orphan outlives the
   * process that started it, and the finished part of its old tree must not wait for it.
   * Its tasks (processes and pending forks) move with it.
   */
  detach(node: ProcessNode): void;
  /**
   * Called when a root and all its descendants have exited. A fork record read after that
   * (printed on another CPU before the parent's exit) reopens the tree until it is released;
   * it is called again when the tree completes again.
   */
  onTreeComplete?: (root: ProcessNode) => void;
  /** Whether every task of this tree has exited (a released tree counts as complete). */
  isComplete(root: ProcessNode): boolean;
  /** Called when a traced process exec'd (its exec info is set), while it may still be running. */
  onExec?: (node: ProcessNode) => void;
  stats: TreeStats;
}

/** Records about unknown pids kept for their fork record to arrive (about 200 bytes each). */
export const MAX_EARLY_RECORDS = 8192;
/** Threads whose exit was read before their creation, remembered at most. */
const MAX_EARLY_THREAD_EXITS = 4096;

/** A task seen forking but not yet seen doing anything: a thread or a new process. */
interface PendingTask { parent: ProcessNode; ts: number }

export interface ProcessTreeOptions {
  /**
   * Keep the exited processes of a complete tree findable until release(node) (agent): the
   * caller publishes a little later, so records read late from another CPU's buffer still land.
   */
  keepExitedUntilRelease?: boolean;
}

export function createProcessTree(opts: ProcessTreeOptions = {}): ProcessTree {
  const live = new Map<number, ProcessNode>();
  /** exited processes of unfinished trees: records printed on another CPU can arrive after the exit record */
  const exited = new Map<number, ProcessNode>();
  const pending = new Map<number, PendingTask>();
  const rootList: ProcessNode[] = [];
  /** running processes plus pending tasks per root, to know when a tree is complete */
  const running = new Map<ProcessNode, number>();
  const completed = new WeakSet<ProcessNode>();
  const stats: TreeStats = { events: 0, lostEvents: 0, orphanRecords: 0 };
  /** S records below this were printed for their errno, not for being slow */
  let slowNs = DEFAULT_SLOW_NS;
  /** records naming a pid whose fork record has not been read yet, in arrival order */
  const early = new Map<number, ProbeEvent[]>();
  let earlyCount = 0;
  /** tid → exit time of threads whose exit was read before their creation */
  const threadExitsSeen = new Map<number, number>();

  /** Keep a record about an unknown pid until that pid's fork arrives; counted as an orphan meanwhile. */
  function unplaced(e: ProbeEvent, pid: number): void {
    stats.orphanRecords++;
    const list = early.get(pid);
    if (list) list.push(e); else early.set(pid, [e]);
    earlyCount++;
    while (earlyCount > MAX_EARLY_RECORDS) {
      const [oldest, dropped] = early.entries().next().value as [number, ProbeEvent[]];
      early.delete(oldest);
      earlyCount -= dropped.length; // they stay counted as orphans
    }
  }

  /** Place the records that waited for pid, now known since sinceNs (older ones were another process's). */
  function replay(pid: number, sinceNs: number): void {
    const waiting = early.get(pid);
    if (!waiting) return;
    early.delete(pid);
    earlyCount -= waiting.length;
    for (const w of waiting) {
      stats.orphanRecords--;
      if ('ts' in w && w.ts < sinceNs) stats.orphanRecords++;
      else apply(w);
    }
  }

  /** A thread exited: resolve its pending fork, or remember the exit for a fork read later. */
  function threadExited(tid: number, ts: number): void {
    if (pending.has(tid)) { resolveThread(tid); return; }
    threadExitsSeen.set(tid, ts);
    if (threadExitsSeen.size > MAX_EARLY_THREAD_EXITS) threadExitsSeen.delete(threadExitsSeen.keys().next().value as number);
  }

  function rootOf(p: ProcessNode): ProcessNode {
    let r = p;
    while (r.parent) r = r.parent;
    return r;
  }

  /** Count a task in or out of its tree; the tree is complete when nothing is left. */
  function adjustRunning(root: ProcessNode, delta: number): void {
    if (completed.has(root)) {
      // A child forked just before its parent's exit, its fork record read after the exit
      // (another CPU's buffer): the tree runs on, unless it was released (published) already.
      if (delta <= 0 || !rootList.includes(root)) return;
      completed.delete(root);
    }
    const left = (running.get(root) ?? 0) + delta;
    if (left > 0) { running.set(root, left); return; }
    running.delete(root);
    completed.add(root);
    if (!opts.keepExitedUntilRelease) for (const p of walk(root)) if (exited.get(p.pid) === p) exited.delete(p.pid);
    tree.onTreeComplete?.(root);
  }

  /** A thread (or the old id of a thread that exec'd) is gone: it was not a new process. */
  function resolveThread(tid: number): void {
    const task = pending.get(tid);
    if (!task) return;
    pending.delete(tid);
    adjustRunning(rootOf(task.parent), -1);
  }

  /** The process for pid, promoting a pending fork when this is its first sign of life. */
  function processFor(pid: number): ProcessNode | undefined {
    const known = live.get(pid) ?? exited.get(pid);
    if (known) return known;
    const task = pending.get(pid);
    if (!task) return undefined;
    pending.delete(pid);
    const { parent } = task;
    const node = createProcess(pid, parent, task.ts);
    node.uid = parent.uid;
    // Until it execs, a forked child runs its parent's program (what ps shows for it too).
    if (parent.exec) node.exec = { ...parent.exec, argvParts: parent.exec.argvParts.slice() };
    live.set(pid, node);
    // Already counted as running by its tree while it was pending.
    return node;
  }

  function keepSlow(list: SlowSyscallEvent[], e: SlowSyscallEvent, node: ProcessNode): void {
    if (list.length < MAX_EVIDENCE_PER_PROCESS) { list.push(e); return; }
    let min = 0;
    for (let i = 1; i < list.length; i++) if (list[i]!.latencyNs < list[min]!.latencyNs) min = i;
    node.evidenceDropped++;
    if (list[min]!.latencyNs < e.latencyNs) list[min] = e;
  }

  const tree: ProcessTree = {
    stats,
    roots: () => rootList,
    release(node) {
      for (const p of walk(node)) if (exited.get(p.pid) === p) exited.delete(p.pid);
      const i = rootList.indexOf(node);
      if (i !== -1) {
        rootList.splice(i, 1);
        // A tree published before it completed (records lost) must not stay referenced.
        running.delete(node);
        completed.add(node);
        for (const [tid, task] of pending) if (rootOf(task.parent) === node) pending.delete(tid);
      }
      const siblings = node.parent?.children;
      const j = siblings ? siblings.indexOf(node) : -1;
      if (j !== -1) siblings!.splice(j, 1);
    },
    detach(node) {
      const parent = node.parent;
      if (!parent) return;
      const oldRoot = rootOf(node);
      const members = new Set(walk(node));
      let moved = 0;
      for (const p of members) if (p.endNs === undefined) moved++;
      for (const task of pending.values()) if (members.has(task.parent)) moved++;
      parent.children.splice(parent.children.indexOf(node), 1);
      node.parent = undefined;
      rootList.push(node);
      running.set(node, 0);
      adjustRunning(node, moved);
      adjustRunning(oldRoot, -moved);
    },
    get: (pid) => live.get(pid),
    isComplete: (root) => completed.has(root),
    addRoot(pid, startNs) {
      const node = createProcess(pid, undefined, startNs);
      live.set(pid, node);
      rootList.push(node);
      running.set(node, 1);
      replay(pid, startNs);
      return node;
    },
    add(e) {
      stats.events++;
      apply(e);
    },
  };

  /** Fold one event into the tree. */
  function apply(e: ProbeEvent): void {
    switch (e.kind) {
      case 'ready':
        slowNs = e.syscallThresholdNs;
        return;
      case 'lost':
        stats.lostEvents += e.count;
        return;
      case 'fork': {
        if (e.childTid === e.parentPid) return;
        const parent = processFor(e.parentPid);
        if (!parent) { unplaced(e, e.parentPid); return; }
        const exitedAt = threadExitsSeen.get(e.childTid);
        if (exitedAt !== undefined) {
          threadExitsSeen.delete(e.childTid);
          if (exitedAt >= e.ts) return; // a thread whose exit was read first: already gone
        }
        const old = live.get(e.childTid);
        // A pid we still hold as live but that is handed out anew was reused after a lost exit.
        if (old) {
          old.endNs ??= e.ts;
          live.delete(e.childTid);
          adjustRunning(rootOf(old), -1);
        }
        exited.delete(e.childTid);
        resolveThread(e.childTid);
        pending.set(e.childTid, { parent, ts: e.ts });
        adjustRunning(rootOf(parent), +1);
        replay(e.childTid, e.ts);
        return;
      }
      case 'exec': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        // An earlier exec read after a later one (bpftrace reads each CPU's buffer in turn: a
        // process that moved to another CPU between `sh` and its `exec go`): the later stands.
        if (p.exec && e.ts < p.exec.ts) return;
        // A thread other than the leader exec'd: it took over the leader's id and its own is gone.
        if (e.oldPid !== e.pid) threadExited(e.oldPid, e.ts);
        p.uid = e.uid;
        // Failed execve calls before a successful one are a PATH search, not a failure.
        p.failedSyscalls = p.failedSyscalls.filter((f) => {
          if (f.sc !== EXECVE) return true;
          const name = errnoName(-f.ret);
          const left = (p.errnoCounts.get(name) ?? 1) - 1;
          if (left > 0) p.errnoCounts.set(name, left); else p.errnoCounts.delete(name);
          return false;
        });
        p.exec = {
          ts: e.ts, filename: e.filename, filenameTruncated: e.filenameTruncated, comm: e.comm,
          argvLen: e.argvLen, argvParts: [], argvBytes: 0,
        };
        tree.onExec?.(p);
        return;
      }
      case 'argv': {
        const x = live.get(e.pid)?.exec;
        if (!x && early.has(e.pid)) { unplaced(e, e.pid); return; } // follows its waiting exec record
        if (!x || e.offset !== x.argvBytes || x.argvBytes >= ARGV_LIMIT) return;
        x.argvParts.push(e.bytes);
        x.argvBytes += e.bytes.length;
        return;
      }
      case 'sum': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        const s = p.sums[SYSCALL_CLASSES[e.cls]!];
        s.count += e.count;
        s.blockedNs += e.blockedNs;
        if (e.maxNs > s.maxNs) s.maxNs = e.maxNs;
        s.errors += e.errors;
        s.enoent += e.enoent;
        for (let i = 0; i < 4; i++) s.buckets[i]! += e.buckets[i]!;
        return;
      }
      case 'sched': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        p.threads++;
        const q = p.sched;
        q.onCpuNs += e.onCpuNs;
        q.runqNs += e.runqNs;
        q.offSNs += e.offSNs;
        q.offDNs += e.offDNs;
        if (e.maxOffDNs > q.maxOffDNs) q.maxOffDNs = e.maxOffDNs;
        q.voluntarySwitches += e.voluntarySwitches;
        q.involuntarySwitches += e.involuntarySwitches;
        if (e.tid !== e.pid) threadExited(e.tid, e.ts);
        return;
      }
      case 'exit': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        if (!live.has(e.pid)) return; // a second exit record for the same process
        p.status = e.status;
        p.endNs = e.ts;
        live.delete(e.pid);
        exited.set(e.pid, p);
        adjustRunning(rootOf(p), -1);
        return;
      }
      case 'oom': {
        const p = live.get(e.pid) ?? exited.get(e.pid);
        if (p) p.oomKilled = true;
        else unplaced(e, e.pid);
        return;
      }
      case 'syscall': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        if (e.latencyNs - e.runqNs >= slowNs) addSlowCall(p.slowCalls, e);
        if (e.ret < 0) {
          // a PATH search before an exec already applied (read after it, as above)
          if (e.sc === EXECVE && p.exec && e.ts < p.exec.ts) return;
          const name = errnoName(-e.ret);
          p.errnoCounts.set(name, (p.errnoCounts.get(name) ?? 0) + 1);
          keepSlow(p.failedSyscalls, e, p);
        } else {
          keepSlow(p.slowSyscalls, e, p);
        }
        return;
      }
      case 'offcpu': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        if (p.offCpu.length < MAX_EVIDENCE_PER_PROCESS) p.offCpu.push(e);
        else p.evidenceDropped++;
        return;
      }
      case 'stderr': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        addStderrChunk(p.stderr, e);
        return;
      }
      case 'connect': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        if (p.connects.length < MAX_EVIDENCE_PER_PROCESS) p.connects.push(e);
        else p.evidenceDropped++;
        return;
      }
      case 'gocache': {
        const p = processFor(e.pid);
        if (!p) { unplaced(e, e.pid); return; }
        addGoCacheOpen(p.gocache ??= emptyGoCacheLookups(), e);
        return;
      }
    }
  }
  return tree;
}

/** Every process of a tree, parents before children. */
export function* walk(root: ProcessNode): Generator<ProcessNode> {
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    yield p;
    for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i]!);
  }
}
