/**
 * Gathers what rules need besides the probe events: the mount table, and (filled in by
 * the context collectors) the Go environment, cgroup CPU accounting and limits. Started
 * before the command is released, finished after it exits.
 */
import type { ProcessNode } from '../model/process.js';
import { readMountTable, type MountTable } from './mounts.js';
import type { DiagnosisContext } from './types.js';

export interface ContextCollection {
  /** Read the "after" side of everything and produce the context for the rules. */
  finish(x: { endNs: number; root: ProcessNode }): DiagnosisContext;
}

/** Start collecting context for a traced tree rooted at rootPid, launched with env. */
export function startContextCollection(_x: { rootPid: number; env: NodeJS.ProcessEnv }): ContextCollection {
  const mounts = readMountTable();
  return {
    finish: ({ endNs, root }) => createDiagnosisContext({ endNs, mounts, root }),
  };
}

export function createDiagnosisContext(x: { endNs: number; mounts: MountTable; root: ProcessNode; facts?: Record<string, unknown> }): DiagnosisContext {
  return {
    endNs: x.endNs,
    mountOf(path) {
      const m = x.mounts.lookup(path);
      return m ? { fsType: m.fsType, mountPoint: m.mountPoint, source: m.source } : undefined;
    },
    facts: x.facts ?? {},
  };
}
