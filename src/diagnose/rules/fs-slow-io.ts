/**
 * fs.slow_io: a process spent a large part of its run reading files or directories that
 * come in slowly: a slow or I/O-throttled disk, or a shared filesystem with slow reads.
 */
import type { ProcessNode } from '../../model/process.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import {
  describeMount, dominantRole, examplePath, inClasses, isFileTarget, isSharedFilesystem, medianOf, offCpuInside,
  shareText, slowCallsByMount, wallNs, perProcess, mountAttributes
} from '../evidence.js';
import { formatCount, formatDuration } from '../format.js';

export const ID = 'fs.slow_io';

export const THRESHOLDS = {
  /**
   * Time blocked in slow (≥ 1 ms) reads/getdents64 of files on one mount, as a share of the
   * process's wall time. Measured here: `go list` of a module on an ext4 loop device throttled
   * to 64 KiB/s spent 8.97 s of 9.34 s (96%) in such reads; the same on a FUSE mount whose
   * only delay is in getattr spent 9% in reads (its cause is fs.slow_metadata); healthy
   * builds on local disk spend well under 1%. 20% means the run is visibly longer.
   */
  minShareOfWall: 0.2,
  /** …and at least 300 ms: below that, a fix is not worth the user's time. */
  minBlockedNs: 300e6,
} as const;

const READ_SYSCALLS = inClasses(['read', 'readdir']);

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  const wall = wallNs(p, ctx);
  if (wall <= 0) return undefined;
  // Reads also wait on pipes and sockets; only reads of files count (fd resolved to a path).
  const top = slowCallsByMount(p, ['read', 'readdir'], ctx, (e) => isFileTarget(e.path))[0];
  if (!top || !top.mount) return undefined;
  if (top.blockedNs < THRESHOLDS.minBlockedNs || top.blockedNs < THRESHOLDS.minShareOfWall * wall) return undefined;
  const { role } = dominantRole(top.samples.map((s) => s.path), ctx);
  const waits = offCpuInside(p, READ_SYSCALLS);
  const how = waits.dNs > waits.sNs
    ? `, waiting in uninterruptible sleep (D: block I/O) ${formatCount(waits.dCount)} times`
    : '';
  const example = examplePath(top.samples);
  const evidence = `${shareText(top.blockedNs, wall)} went to ${formatCount(top.count)} file reads ` +
    `that took ≥ 1 ms on ${describeMount(top.mount, role)} (median ${formatDuration(medianOf(top.samples))})${how}` +
    `${example ? `; e.g. ${example}` : ''}`;
  const hint = isSharedFilesystem(top.mount.fsType)
    ? 'the file server behind this mount answers reads slowly: move the workspace and Go caches (GOMODCACHE, GOCACHE) to a local disk or a container volume'
    : `the storage behind ${top.mount.mountPoint} is slow or I/O-throttled: check the device (iostat -x), the container's I/O limits (blkio / io.max), and keep the workspace and Go caches on faster storage`;
  return {
    id: ID, process: p, evidence, hint, weightNs: Math.min(wall, top.blockedNs),
    attributes: mountAttributes(role, top.mount),
  };
}

export const rule: Rule = perProcess(judge);
