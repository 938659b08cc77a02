/**
 * Where the pipeline's knowledge beyond the probe records comes from: one interface, a
 * live implementation (/proc of this machine) and a recorded one (a replay: only this
 * machine's mount table). `gostall run` follows its one root closely with the diagnose
 * stage's polling collection (see runContextCollector); a host agent may see thousands
 * of roots, so it reads each root once when it appears (cwd, environment, limits, CPU
 * cgroup; all short /proc reads while the process surely lives) and once more when a
 * diagnosis is made.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { createDiagnosisContext, startContextCollection, type ContextCollection, type RecordedContext } from '../diagnose/context.js';
import { goDebugTraceOf } from '../diagnose/context-go-debug-trace.js';
import { watchCpuCgroup } from '../diagnose/context-cgroup.js';
import { readProcessEnviron, resolveGoEnv } from '../diagnose/context-go-env.js';
import { readLimits, readProcStat } from '../diagnose/context-system.js';
import { createMountTable, readMountTable, type MountTable } from '../diagnose/mounts.js';
import { createProcessEnvs, recordedProcessEnvs, type ProcessEnvs } from '../diagnose/context-process-env.js';
import { walk } from '../model/tree.js';
import type { CpuTimes, DiagnosisContext, GoEnv } from '../diagnose/types.js';
import type { SlowSyscallEvent } from '../events/types.js';
import { resolveFdPath } from '../model/fd-path.js';
import { rebuildsFromRecording } from '../diagnose/rebuild-diff.js';
import type { ProcessNode } from '../model/process.js';
import { readContainerId, readCwd, readProcSample, type ProcSample } from '../vocabulary/procfs.js';

export interface RootContext {
  /** A context for the rules as of endNs (may be called more than once: episodes, then the tree). */
  at(endNs: number, root: ProcessNode): DiagnosisContext;
}

/** What the pipeline asks about the world besides the records. */
export interface ContextCollector {
  /** Start following a root that just appeared. */
  root(pid: number): RootContext;
  /** The container a root runs in (the resource's container.id), if known. */
  containerId(pid: number): string | undefined;
  /** Name the file of an fd-only record (live processes that were running before tracing began). */
  resolveFd?(e: SlowSyscallEvent): void;
  /** CPU, RSS and I/O of a live process, for activity windows. */
  procSample?(pid: number): ProcSample | undefined;
  /** A traced process just exec'd (run reads its own environment while it lives). */
  noteExec?(p: ProcessNode): void;
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
function captureLiveRootContext(pid: number, fallbackMounts: () => MountTable, processEnvs?: ProcessEnvs): RootContext {
  const mounts = rootMountSource(pid, fallbackMounts);
  const workspace = readCwd(pid);
  const environ = readProcessEnviron(pid);
  const limits = readLimits(pid);
  const cgroup = watchCpuCgroup(pid, mounts().entries);
  cgroup.sample();
  const firstStat = readProcStat();
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
      const ctx = createDiagnosisContext({ endNs, mounts: mounts(), root, workspace, go, cgroupCpu: cgroup.finish(), cpuTimes, limits, processEnvs });
      ctx.goDebugTraceOf = (p) => goDebugTraceOf(p, workspace);
      return ctx;
    },
  };
}

/**
 * A host agent's collector: every root read from /proc when it appears, and every traced
 * process's own environment, limits and cgroup read at its exec (as run does), so a go run
 * through runuser or a script that exports GOCACHE is judged by its own HOME and caches.
 * One reader for all roots: its readings hang off the process nodes and go with them.
 */
export function liveContextCollector(mounts: () => MountTable): ContextCollector {
  const processEnvs = createProcessEnvs('/proc');
  return {
    root: (pid) => captureLiveRootContext(pid, mounts, processEnvs),
    noteExec: (p) => processEnvs.noteExec(p),
    containerId: readContainerId,
    resolveFd: (e) => resolveFdPath(e),
    procSample: readProcSample,
  };
}

/** A recording's collector: what the recording says about a root, else this machine's mount table. */
export interface RecordedContextCollector extends ContextCollector {
  /** The recording's context of a root (a run capture's "#gostall context" line). */
  record(rootPid: number, ctx: RecordedContext): void;
}

export function recordedContextCollector(mounts: () => MountTable): RecordedContextCollector {
  const recorded = new Map<number, RecordedContext>();
  return {
    // Looked up when the diagnosis is made: a run capture's context line follows its records.
    root: (pid) => ({
      at(endNs, root) {
        const r = recorded.get(pid);
        if (!r) return createDiagnosisContext({ endNs, mounts: mounts(), root });
        const { processEnvs: envs, rebuilds, ...readings } = r;
        let processEnvs: ProcessEnvs | undefined;
        if (envs) {
          processEnvs = recordedProcessEnvs(envs);
          for (const p of walk(root)) processEnvs.noteExec(p);
        }
        const ctx = createDiagnosisContext({ endNs, root, ...readings, mounts: createMountTable(r.mounts), processEnvs });
        if (!rebuilds) return ctx;
        const found = rebuildsFromRecording(rebuilds, root);
        return { ...ctx, rebuildOf: (p) => found.get(p) };
      },
    }),
    containerId: () => undefined,
    record(rootPid, ctx) {
      recorded.set(rootPid, ctx);
    },
  };
}

/**
 * `gostall run`'s collector: its one root (the shim that becomes CMD) is followed from the
 * moment it appears until the pipeline finishes it, by the diagnose stage's polling
 * collection, with the environment gostall launched it with. Fds are never resolved from
 * /proc: run traces CMD from its first instruction, so the probe names every fd.
 */
export function runContextCollector(rootPid: number, env: NodeJS.ProcessEnv, started?: ContextCollection): ContextCollector & { recorded(): RecordedContext | undefined } {
  let collection: ContextCollection | undefined = started;
  return {
    root(pid) {
      if (pid !== rootPid) return recordedContextCollector(() => readMountTable('self')).root(pid);
      // `gostall run` through an agent starts the root's collection itself, before CMD runs
      const c = started ?? startContextCollection({ rootPid: pid, env });
      collection = c;
      let finished: DiagnosisContext | undefined;
      return { at: (endNs, root) => (finished ??= c.finish({ endNs, root })) };
    },
    containerId: readContainerId,
    noteExec: (p) => collection?.noteExec(p),
    recorded: () => collection?.recorded(),
  };
}
