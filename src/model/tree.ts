/**
 * Builds the process tree of a trace from probe events. Fork records arrive for threads
 * too; a task becomes a process when an event names it as a pid, and a thread's pending
 * entry is dropped when the thread exits, so memory follows live tasks, not history.
 */
import type { ProbeEvent, SlowSyscallEvent } from '../events/types.js';
import { SYSCALL_CLASSES, errnoName } from '../events/schema.js';
import { createProcess, type ProcessNode } from './process.js';

/** Evidence records kept per process and kind; the rest are counted in evidenceDropped. */
export const MAX_EVIDENCE_PER_PROCESS = 64;
/** argv bytes the probe prints at most (4 chunks of 128). */
const ARGV_LIMIT = 512;
const EXECVE = 40;

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
  /** Called when a root and all its descendants have exited. */
  onTreeComplete?: (root: ProcessNode) => void;
  stats: TreeStats;
}

interface PendingTask { parentPid: number; ts: number }

export function createProcessTree(): ProcessTree {
  const live = new Map<number, ProcessNode>();
  const pending = new Map<number, PendingTask>();
  const rootList: ProcessNode[] = [];
  /** processes still running per root, to know when a tree is complete */
  const running = new Map<ProcessNode, number>();
  const stats: TreeStats = { events: 0, lostEvents: 0, orphanRecords: 0 };

  function rootOf(p: ProcessNode): ProcessNode {
    let r = p;
    while (r.parent) r = r.parent;
    return r;
  }

  /** The process for pid, promoting a pending fork when this is its first sign of life. */
  function processFor(pid: number): ProcessNode | undefined {
    const known = live.get(pid);
    if (known) return known;
    const task = pending.get(pid);
    if (!task) return undefined;
    pending.delete(pid);
    const parent = live.get(task.parentPid);
    const node = createProcess(pid, parent, task.ts);
    node.uid = parent?.uid;
    live.set(pid, node);
    if (parent) {
      const root = rootOf(parent);
      running.set(root, (running.get(root) ?? 0) + 1);
    }
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
    get: (pid) => live.get(pid),
    addRoot(pid, startNs) {
      const node = createProcess(pid, undefined, startNs);
      live.set(pid, node);
      rootList.push(node);
      running.set(node, 1);
      return node;
    },
    add(e) {
      stats.events++;
      switch (e.kind) {
        case 'ready':
          return;
        case 'lost':
          stats.lostEvents += e.count;
          return;
        case 'fork': {
          if (e.childTid === e.parentPid) return;
          const old = live.get(e.childTid);
          // A pid we still hold as live but that forks anew was reused after a lost exit.
          if (old && old.endNs === undefined) { old.endNs = e.ts; live.delete(e.childTid); }
          pending.set(e.childTid, { parentPid: e.parentPid, ts: e.ts });
          return;
        }
        case 'exec': {
          const p = processFor(e.pid);
          if (!p) { stats.orphanRecords++; return; }
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
          return;
        }
        case 'argv': {
          const x = live.get(e.pid)?.exec;
          if (!x || e.offset !== x.argvBytes || x.argvBytes >= ARGV_LIMIT) return;
          x.argvParts.push(e.bytes);
          x.argvBytes += e.bytes.length;
          return;
        }
        case 'sum': {
          const p = processFor(e.pid);
          if (!p) { stats.orphanRecords++; return; }
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
          if (e.tid !== e.pid) pending.delete(e.tid);
          const p = processFor(e.pid);
          if (!p) { stats.orphanRecords++; return; }
          p.threads++;
          const q = p.sched;
          q.onCpuNs += e.onCpuNs;
          q.runqNs += e.runqNs;
          q.offSNs += e.offSNs;
          q.offDNs += e.offDNs;
          if (e.maxOffDNs > q.maxOffDNs) q.maxOffDNs = e.maxOffDNs;
          q.voluntarySwitches += e.voluntarySwitches;
          q.involuntarySwitches += e.involuntarySwitches;
          return;
        }
        case 'exit': {
          const p = processFor(e.pid);
          if (!p) { stats.orphanRecords++; return; }
          p.status = e.status;
          p.endNs = e.ts;
          live.delete(e.pid);
          const root = rootOf(p);
          const left = (running.get(root) ?? 1) - 1;
          running.set(root, left);
          if (left <= 0) {
            running.delete(root);
            tree.onTreeComplete?.(root);
          }
          return;
        }
        case 'oom': {
          const p = live.get(e.pid);
          if (p) p.oomKilled = true;
          return;
        }
        case 'syscall': {
          const p = processFor(e.pid);
          if (!p) { stats.orphanRecords++; return; }
          if (e.ret < 0) {
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
          if (!p) { stats.orphanRecords++; return; }
          if (p.offCpu.length < MAX_EVIDENCE_PER_PROCESS) p.offCpu.push(e);
          else p.evidenceDropped++;
          return;
        }
        case 'connect': {
          const p = processFor(e.pid);
          if (!p) { stats.orphanRecords++; return; }
          if (p.connects.length < MAX_EVIDENCE_PER_PROCESS) p.connects.push(e);
          else p.evidenceDropped++;
          return;
        }
      }
    },
  };
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
