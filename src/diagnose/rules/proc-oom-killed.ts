/**
 * proc.oom_killed: the kernel's OOM killer chose a process of the tree (compile, link and
 * gopls are the usual victims when a container's memory limit is tight).
 */
import { walk } from '../../model/tree.js';
import type { Cause, Rule } from '../types.js';
import { wallNs } from '../evidence.js';
import { formatBytes, formatDuration } from '../format.js';

export const ID = 'proc.oom_killed';

export const THRESHOLDS = {
  /** Any OOM kill counts: the kernel only marks a victim when memory is exhausted. */
  minVictims: 1,
} as const;

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    if (!p.oomKilled) continue;
    const limit = ctx.memoryLimitOf?.(p);
    const where = limit
      ? `its memory cgroup ${limit.path} (v${limit.version}) is limited to ${formatBytes(limit.limitBytes)}`
      : 'the machine or its memory cgroup ran out of memory';
    const evidence = `killed by the kernel's out-of-memory killer after ${formatDuration(wallNs(p, ctx))} (${where})`;
    const hint = 'give the container or VM more memory, or use less at once: lower build parallelism (go build -p 1, GOMAXPROCS), ' +
      'set GOMEMLIMIT/GOGC for gopls, and use a recent gopls';
    out.push({ id: ID, process: p, evidence, hint, weightNs: wallNs(root, ctx), explainsFailure: true });
  }
  return out;
};
