/**
 * fs.slow_metadata: a Go tool spent a large part of its run in stat/open calls on one
 * filesystem that answers each of them slowly (a FUSE, virtiofs, 9p or NFS mount, typically
 * a bind-mounted workspace or module cache in a dev container).
 */
import { classOfSyscall } from '../../events/schema.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import {
  describeMount, dominantRole, examplePath, inClasses, isSharedFilesystem, medianOf, offCpuInside,
  shareText, slowCallsByMount, wallNs, perProcess, mountAttributes
} from '../evidence.js';
import { formatCount, formatDuration } from '../format.js';
import type { ProcessNode } from '../../model/process.js';

export const ID = 'fs.slow_metadata';

export const THRESHOLDS = {
  /**
   * Time blocked in slow (≥ 1 ms) stat/open calls on one mount, as a share of the process's
   * wall time. Measured here: a `go list` of a 30-package module on a FUSE mount with 2 ms
   * getattr spent 6.4 s of 9.8 s there (65%); the same module on ext4 spends < 1% in calls
   * ≥ 1 ms. 20% is where the slowdown is plainly visible (a run at least 1.25× longer).
   */
  minShareOfWall: 0.2,
  /** …and at least this long in absolute terms: under 300 ms nobody waits for a fix. */
  minBlockedNs: 300e6,
  /**
   * At least this many slow calls there: a systematic per-call cost, not one hiccup (a
   * single long stall is sched.uninterruptible's or fs.slow_io's business).
   */
  minSlowCalls: 20,
} as const;

/** Local stat latency measured here (ext4, page cache warm): 1–4 µs per newfstatat. */
const LOCAL_STAT_TEXT = '~3 µs on a local disk';

const HINTS: Record<string, string> = {
  workspace: 'move the source tree to a container volume or a Linux-side disk instead of a bind mount from the host (Docker Desktop: a named volume; WSL2: ~/ inside the distro, not /mnt/c)',
  gomodcache: 'point GOMODCACHE at a local directory or a named container volume; never bind-mount the host\'s ~/go/pkg/mod',
  gocache: 'point GOCACHE at a local directory or a named container volume (the build cache is rebuilt on demand)',
  gopath: 'point GOPATH (and so GOMODCACHE) at a local directory or a named container volume',
  goroot: 'install Go inside the container or VM instead of using a shared GOROOT',
};
const DEFAULT_HINT = 'keep the workspace, GOMODCACHE and GOCACHE on a local filesystem or a container volume, not on a shared or network mount';

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  const wall = wallNs(p, ctx);
  if (wall <= 0) return undefined;
  const shares = slowCallsByMount(p, ['stat', 'open'], ctx);
  const top = shares[0];
  if (!top || !top.mount) return undefined;
  if (top.count < THRESHOLDS.minSlowCalls) return undefined;
  if (top.blockedNs < THRESHOLDS.minBlockedNs || top.blockedNs < THRESHOLDS.minShareOfWall * wall) return undefined;
  // On a local block filesystem, slow lookups that wait in D are the disk (fs.slow_io,
  // sched.uninterruptible say so); FUSE and NFS waits are always this cause.
  if (!isSharedFilesystem(top.mount.fsType)) {
    const waits = offCpuInside(p, inClasses(['stat', 'open']));
    if (waits.dNs >= waits.sNs) return undefined;
  }
  const { role } = dominantRole(top.samples.map((s) => s.path), ctx);
  const statSamples = top.samples.filter((s) => classOfSyscall(s.e.sc) === 'stat');
  const med = medianOf(statSamples.length >= 5 ? statSamples : top.samples);
  const example = examplePath(top.samples);
  const evidence = `${shareText(top.blockedNs, wall)} went to ${formatCount(top.count)} stat/open calls ` +
    `that took ≥ 1 ms on ${describeMount(top.mount, role)}: median ${formatDuration(med)} per call vs ${LOCAL_STAT_TEXT}` +
    `${example ? `; e.g. ${example}` : ''}`;
  return {
    id: ID, process: p, evidence, hint: HINTS[role] ?? DEFAULT_HINT, weightNs: Math.min(wall, top.blockedNs),
    attributes: mountAttributes(role, top.mount),
  };
}

export const rule: Rule = perProcess(judge);
