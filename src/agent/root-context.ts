/**
 * Diagnosis context for the agent's trees. `gostall run` polls its one root every 100 ms;
 * a host agent may see thousands of roots, so it reads each root once when it appears
 * (cwd, environment, limits, CPU cgroup; all short /proc reads while the process surely
 * lives) and once more when a diagnosis is made. A replay has no live processes: it gets
 * the mount table only (of this machine; see docs/agent.md).
 */
import { readlinkSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { availableParallelism } from 'node:os';
import { createDiagnosisContext } from '../diagnose/context.js';
import { watchCpuCgroup, type CgroupWatch } from '../diagnose/context-cgroup.js';
import { readProcessEnviron, resolveGoEnv } from '../diagnose/context-go-env.js';
import { readLimits, readProcStat, type ProcStatReading } from '../diagnose/context-system.js';
import { readMountTable, type MountTable } from '../diagnose/mounts.js';
import type { CpuTimes, DiagnosisContext, GoEnv, Limits } from '../diagnose/types.js';
import type { ProcessNode } from '../model/process.js';

export interface RootContext {
  /** A context for the rules as of endNs (may be called more than once: episodes, then the tree). */
  at(endNs: number, root: ProcessNode): DiagnosisContext;
}

/** The mount table, read again at most every refreshMillis (mounts come and go on a host). */
export function createMountSource(refreshMillis = 5_000): () => MountTable {
  let table = readMountTable('self');
  let readAt = Date.now();
  return () => {
    if (Date.now() - readAt > refreshMillis) {
      table = readMountTable('self');
      readAt = Date.now();
    }
    return table;
  };
}

function readCwd(pid: number): string | undefined {
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return isAbsolute(cwd) ? cwd.replace(/ \(deleted\)$/, '') : undefined;
  } catch {
    return undefined;
  }
}

const monotonicNs = (): number => Number(process.hrtime.bigint());

/**
 * The mount table as the root sees it: paths in its records are in its mount namespace (a
 * container's, for a host agent). Read again at most every refreshMillis while it lives (a
 * FUSE mount may appear under a gopls that runs for hours); the agent's own table when the
 * root's cannot be read.
 */
function rootMountSource(pid: number, fallback: () => MountTable, refreshMillis = 5_000): () => MountTable {
  let table = readMountTable(pid);
  let readAt = Date.now();
  return () => {
    if (Date.now() - readAt > refreshMillis) {
      const fresh = readMountTable(pid);
      if (fresh.entries.length > 0) table = fresh;
      readAt = Date.now();
    }
    return table.entries.length > 0 ? table : fallback();
  };
}

/** Read what the rules need about a live root, right after it appeared. */
export function captureLiveRootContext(pid: number, fallbackMounts: () => MountTable): RootContext {
  const mounts = rootMountSource(pid, fallbackMounts);
  const workspace = readCwd(pid);
  const environ = readProcessEnviron(pid);
  const limits: Limits = readLimits(pid);
  const cgroup: CgroupWatch = watchCpuCgroup(pid, mounts().entries);
  cgroup.sample();
  const firstStat: ProcStatReading | undefined = readProcStat();
  const firstAt = monotonicNs();
  let go: GoEnv | undefined;
  return {
    at(endNs, root) {
      if (environ && !go) {
        const f = root.exec?.filename;
        go = resolveGoEnv(environ, { source: 'environ', goExecutable: f && isAbsolute(f) ? f : undefined, runGoEnv: false });
      }
      const stat = readProcStat();
      const now = monotonicNs();
      let cpuTimes: CpuTimes | undefined;
      if (firstStat && stat && now > firstAt) {
        cpuTimes = {
          cpus: availableParallelism(), spanNs: now - firstAt,
          busyNs: Math.max(0, stat.busyNs - firstStat.busyNs), stealNs: Math.max(0, stat.stealNs - firstStat.stealNs),
        };
      }
      return createDiagnosisContext({ endNs, mounts: mounts(), root, workspace, go, cgroupCpu: cgroup.finish(), cpuTimes, limits });
    },
  };
}

/** A recording's context: only what this machine can say (its mount table). */
export function replayRootContext(mounts: () => MountTable): RootContext {
  return { at: (endNs, root) => createDiagnosisContext({ endNs, mounts: mounts(), root }) };
}
