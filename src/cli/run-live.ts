/**
 * What `gostall run` through an agent must read while CMD lives, when its pipeline is built
 * only after CMD exits (./run.ts: loading the pipeline is ~0.1 s of CPU that would compete
 * with CMD on a small machine). The root's context collection starts before CMD is released
 * (cwd, limits, cgroup and mounts of the shim, then polled while it lives), and each exec
 * record's /proc readings (environment, limits, cgroup, resolv.conf) are taken as the record
 * arrives, as the live pipeline would: the pipeline built later looks them up.
 */
import { startContextCollection, type ContextCollection } from '../diagnose/context.js';
import { createExecReadingCache } from '../diagnose/context-process-env.js';
import { parseLine } from '../events/parse.js';

export interface LiveWatch {
  /** the root's collection, for the pipeline built after CMD exits */
  collection: ContextCollection;
  /** every probe record of CMD's tree, as it arrives */
  line(text: string): void;
}

export function watchWhileCommandRuns(rootPid: number, env: NodeJS.ProcessEnv): LiveWatch {
  const execs = createExecReadingCache();
  const collection = startContextCollection({ rootPid, env, readExec: (p) => execs.read(p) });
  return {
    collection,
    line(text) {
      if (!text.startsWith('E\t')) return;
      const r = parseLine(text);
      if (r.ok === true && r.event.kind === 'exec') execs.take(r.event.pid, r.event.ts, r.event.filename);
    },
  };
}
