/**
 * sched.uninterruptible: threads spent long stretches in uninterruptible sleep (D): waiting
 * for block I/O, a page lock, a hung NFS server. Nothing in user space can speed that up;
 * the storage (or the mount) is the problem.
 */
import { SYSCALLS } from '../../events/schema.js';
import type { OffCpuEvent } from '../../events/types.js';
import type { ProcessNode } from '../../model/process.js';
import type { Cause, DiagnosisContext, MountInfo, Rule } from '../types.js';
import { absolutePath } from '../context-paths.js';
import { describeMount, dominantRole, isFileTarget, shareText, wallNs, perProcess } from '../evidence.js';
import { formatCount, formatDuration, listSome } from '../format.js';

export const ID = 'sched.uninterruptible';

export const THRESHOLDS = {
  /**
   * D time of a process (summed over its threads). Healthy runs here: 3 ms (cold-cache go
   * build) to 160 ms (go list on a FUSE mount, where waits are S); a go list reading from a
   * disk throttled to 64 KiB/s: 8.9 s of a 9.3 s run. 1 s is well clear of the healthy side.
   */
  minDNs: 1e9,
  /** …and a material share of the process's wall time, so a day-long gopls is not blamed for a few slow seconds. */
  minShareOfWall: 0.2,
  /** One single D wait this long is a hang worth reporting on its own (hung NFS, stuck device). */
  singleWaitNs: 2e9,
} as const;

/** The syscall record a D wait happened in (same thread, the wait ends inside the call). */
function placeOf(p: ProcessNode, o: OffCpuEvent): string | undefined {
  for (const s of [...p.slowSyscalls, ...p.failedSyscalls]) {
    if (s.tid === o.tid && o.ts <= s.ts && o.ts >= s.ts - s.latencyNs && isFileTarget(s.path)) return s.path;
  }
  for (const sample of Object.values(p.slowCalls.sample)) {
    for (const s of sample) {
      if (s.tid === o.tid && o.ts <= s.ts && o.ts >= s.ts - s.latencyNs && isFileTarget(s.path)) return s.path;
    }
  }
  return undefined;
}

/**
 * The mount whose files the D waits spent the most time on, and the paths waited for there
 * (in the order of the waits): not simply the first wait's, which may be one slow read of
 * another disk among many on the slow one.
 */
function busiestMount(p: ProcessNode, waits: OffCpuEvent[], ctx: DiagnosisContext): { mount: MountInfo | undefined; paths: string[] } {
  const byMount = new Map<string, { mount: MountInfo | undefined; ns: number; paths: string[] }>();
  for (const o of waits) {
    const place = placeOf(p, o);
    if (place === undefined) continue;
    const path = absolutePath(place, ctx.workspace) ?? place;
    const mount = ctx.mountOf(path);
    const key = mount?.mountPoint ?? '';
    const m = byMount.get(key) ?? { mount, ns: 0, paths: [] };
    m.ns += o.durationNs;
    m.paths.push(path);
    byMount.set(key, m);
  }
  let best: { mount: MountInfo | undefined; ns: number; paths: string[] } = { mount: undefined, ns: -1, paths: [] };
  for (const m of byMount.values()) if (m.ns > best.ns) best = m;
  return best;
}

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  const wall = wallNs(p, ctx);
  const d = p.sched.offDNs;
  const long = d >= THRESHOLDS.minDNs && d >= THRESHOLDS.minShareOfWall * wall;
  const hang = p.sched.maxOffDNs >= THRESHOLDS.singleWaitNs;
  if (!long && !hang) return undefined;
  const waits = p.offCpu.filter((o) => o.state === 2);
  const bySyscall = new Map<string, number>();
  for (const o of waits) {
    const name = o.sc ? `in ${SYSCALLS[o.sc] ?? `syscall ${o.sc}`}` : 'outside traced syscalls';
    bySyscall.set(name, (bySyscall.get(name) ?? 0) + 1);
  }
  const inCalls = [...bySyscall].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${n} ${name}`);
  const { mount, paths } = busiestMount(p, waits, ctx);
  const { role } = dominantRole(paths, ctx);
  const where = mount ? ` on ${describeMount(mount, role)}` : '';
  const evidence = `threads waited ${shareText(d, wall)} in uninterruptible sleep (D), ` +
    `longest ${formatDuration(p.sched.maxOffDNs)}` +
    `${waits.length > 0 ? `; ${formatCount(waits.length)} waits ≥ 1 ms (${listSome(inCalls)})${where}` : ''}` +
    `${paths[0] ? `, e.g. ${paths[0]}` : ''}`;
  const hint = `the kernel was waiting for storage${mount ? ` behind ${mount.mountPoint}${mount.source.startsWith('/dev/') ? ` (${mount.source})` : ''}` : ''}: ` +
    'check the device (iostat -x, dmesg for I/O errors or hung tasks), the container\'s I/O limits (blkio / io.max), or a hung network mount';
  const attributes: Record<string, string | number> = { 'gostall.cause.d_ns': d };
  if (mount) attributes['gostall.cause.mount_point'] = mount.mountPoint;
  return { id: ID, process: p, evidence, hint, weightNs: Math.min(wall, d), attributes };
}

export const rule: Rule = perProcess(judge);
