/**
 * Activity windows: for every process alive through a whole window (gopls, a long test
 * binary, a slow `go list`), one span per window with what it did in it, so a process that
 * runs for hours is visible while it runs. Windows share boundaries (multiples of the window
 * length on the monotonic clock) so a dashboard sees one span per process per window.
 *
 * From the probe: slow calls per class and their blocked time, errors by errno, long
 * off-CPU waits, TCP handshakes, stall episodes. Live only, from /proc: CPU time, RSS,
 * threads, read/write syscalls and bytes. (Per-thread sums are printed by the probe only at
 * thread exit, and bpftrace 0.17 cannot print a map that is being updated safely.)
 */
import type { Attributes } from '@opentelemetry/api';
import { SYSCALL_CLASSES, classOfSyscall, errnoName } from '../events/schema.js';
import type { ConnectEvent, OffCpuEvent, SlowSyscallEvent } from '../events/types.js';
import type { ProcessNode } from '../model/process.js';
import type { ProcSample } from '../vocabulary/procfs.js';

export type { ProcSample };

const CLASSES = SYSCALL_CLASSES.length;


interface Acc {
  slowCount: number[];
  slowBlockedNs: number[];
  errnos: Map<string, number>;
  offSNs: number;
  offDNs: number;
  connects: number;
  connectFailures: number;
  episodes: number;
  /** /proc reading at the start of the window */
  base: ProcSample | undefined;
}

export interface WindowReport { node: ProcessNode; startNs: number; endNs: number; attributes: Attributes }

export interface WindowTracker {
  syscall(node: ProcessNode, e: SlowSyscallEvent, slowNs: number): void;
  offcpu(node: ProcessNode, e: OffCpuEvent): void;
  connect(node: ProcessNode, e: ConnectEvent): void;
  episode(node: ProcessNode): void;
  /** at a window boundary, a report for every live process that lived through the window */
  tick(nowNs: number, live: () => ProcessNode[]): WindowReport[];
  processEnded(node: ProcessNode): void;
}

function emptyAcc(base: ProcSample | undefined): Acc {
  return {
    slowCount: new Array(CLASSES).fill(0), slowBlockedNs: new Array(CLASSES).fill(0), errnos: new Map(),
    offSNs: 0, offDNs: 0, connects: 0, connectFailures: 0, episodes: 0, base,
  };
}

export function createWindowTracker(opts: { windowNs: number; procSample?: (pid: number) => ProcSample | undefined }): WindowTracker {
  const accs = new Map<ProcessNode, Acc>();
  let boundary = 0;

  function accOf(node: ProcessNode): Acc {
    let a = accs.get(node);
    if (!a) {
      a = emptyAcc(undefined);
      accs.set(node, a);
    }
    return a;
  }

  function attributes(node: ProcessNode, a: Acc | undefined, startNs: number, endNs: number, now: ProcSample | undefined): Attributes {
    const attrs: Attributes = { 'process.pid': node.pid, 'gostall.window.duration_ns': endNs - startNs };
    if (a) {
      for (let c = 0; c < CLASSES; c++) {
        if (a.slowCount[c]! === 0) continue;
        const cls = SYSCALL_CLASSES[c]!;
        attrs[`gostall.window.${cls}.slow_count`] = a.slowCount[c]!;
        attrs[`gostall.window.${cls}.slow_blocked_ns`] = a.slowBlockedNs[c]!;
      }
      for (const [name, n] of a.errnos) attrs[`gostall.window.errno.${name}`] = n;
      if (a.offSNs > 0) attrs['gostall.window.offcpu.s_ns'] = a.offSNs;
      if (a.offDNs > 0) attrs['gostall.window.offcpu.d_ns'] = a.offDNs;
      if (a.connects > 0) attrs['gostall.window.connects'] = a.connects;
      if (a.connectFailures > 0) attrs['gostall.window.connect_failures'] = a.connectFailures;
    }
    attrs['gostall.window.episodes'] = a?.episodes ?? 0;
    const base = a?.base;
    if (now) {
      attrs['gostall.window.rss_bytes'] = now.rssBytes;
      attrs['gostall.window.threads'] = now.threads;
      if (base) {
        attrs['gostall.window.cpu_ns'] = Math.max(0, now.cpuNs - base.cpuNs);
        if (now.io && base.io) {
          attrs['gostall.window.read_syscalls'] = Math.max(0, now.io.syscr - base.io.syscr);
          attrs['gostall.window.write_syscalls'] = Math.max(0, now.io.syscw - base.io.syscw);
          attrs['gostall.window.read_bytes'] = Math.max(0, now.io.rchar - base.io.rchar);
          attrs['gostall.window.write_bytes'] = Math.max(0, now.io.wchar - base.io.wchar);
        }
      }
    }
    return attrs;
  }

  return {
    syscall(node, e, slowNs) {
      const blocked = Math.max(0, e.latencyNs - e.runqNs);
      const isSlow = blocked >= slowNs;
      if (!isSlow && e.ret >= 0) return;
      const a = accOf(node);
      if (isSlow) {
        const c = SYSCALL_CLASSES.indexOf(classOfSyscall(e.sc));
        a.slowCount[c]!++;
        a.slowBlockedNs[c]! += blocked;
      }
      if (e.ret < 0) {
        const name = errnoName(-e.ret);
        a.errnos.set(name, (a.errnos.get(name) ?? 0) + 1);
      }
    },
    offcpu(node, e) {
      const a = accOf(node);
      if (e.state === 2) a.offDNs += e.durationNs;
      else a.offSNs += e.durationNs;
    },
    connect(node, e) {
      const a = accOf(node);
      a.connects++;
      if (!e.established) a.connectFailures++;
    },
    episode(node) {
      accOf(node).episodes++;
    },
    tick(nowNs, live) {
      if (opts.windowNs <= 0) return [];
      const end = Math.floor(nowNs / opts.windowNs) * opts.windowNs;
      if (boundary === 0) boundary = end;
      if (end <= boundary) return [];
      const start = end - opts.windowNs;
      boundary = end;
      const out: WindowReport[] = [];
      for (const node of live()) {
        if (node.endNs !== undefined) continue;
        const now = opts.procSample?.(node.pid);
        const a = accs.get(node);
        if (node.startNs <= start) out.push({ node, startNs: start, endNs: end, attributes: attributes(node, a, start, end, now) });
        accs.set(node, emptyAcc(now));
      }
      return out;
    },
    processEnded(node) {
      accs.delete(node);
    },
  };
}
