/**
 * cpu.throttled: the cgroup the tool ran in has a CPU quota (a container CPU limit) and the
 * kernel held the tool back for much of the run. Go before 1.25 sizes GOMAXPROCS by the
 * machine's CPUs, not the quota, so `go build` runs more threads than the quota allows and
 * every period ends in throttling.
 */
import type { Cause, Rule } from '../types.js';
import { wallNs } from '../evidence.js';
import { formatDuration } from '../format.js';
import { buildActionsOf, maxOverlap } from '../../model/build-insight.js';

export const ID = 'cpu.throttled';

export const THRESHOLDS = {
  /**
   * Share of the enforcement periods (with runnable tasks) that ended throttled. Measured
   * here: a cold `go build` under a 0.2-CPU quota with GOMAXPROCS=2 was throttled in 27 of
   * 33 periods (82%); an unlimited cgroup never is. A quarter of the periods means the quota,
   * not the work, sets the pace for a good part of the run.
   */
  minThrottledPeriodShare: 0.25,
  /**
   * Throttled time as a share of the root's wall time. cgroup v1 sums throttled time over
   * CPUs, so the ratio can pass 100%; the same run above measured 2.44 s in a 2.80 s run.
   * ROOT_CAUSES.md starts at 10% for a warning and 50% for a cause; 20% together with the
   * period share keeps short bursts (a single parallel link step) out.
   */
  minThrottledShareOfWall: 0.2,
  /** …and at least 200 ms, so sub-second commands are not blamed for a few periods. */
  minThrottledNs: 200e6,
  /** Enough periods to speak of a share (100 ms each by default: at least half a second of CPU demand). */
  minPeriods: 5,
} as const;

function cpus(n: number): string {
  return `${Number(n.toFixed(2))} CPU${n === 1 ? '' : 's'}`;
}

export const rule: Rule = (root, ctx) => {
  const cg = ctx.cgroupCpu;
  if (!cg || cg.quotaCpus === undefined) return [];
  const wall = wallNs(root, ctx);
  if (cg.periods < THRESHOLDS.minPeriods || wall <= 0) return [];
  const periodShare = cg.throttledPeriods / cg.periods;
  if (periodShare < THRESHOLDS.minThrottledPeriodShare) return [];
  if (cg.throttledNs < THRESHOLDS.minThrottledNs || cg.throttledNs < THRESHOLDS.minThrottledShareOfWall * wall) return [];
  const go = ctx.go;
  const quotaText = `${cpus(cg.quotaCpus)} (${cg.version === 1 ? 'cpu.cfs_quota_us' : 'cpu.max'} ${cg.quotaUs} per ${cg.periodUs} µs)`;
  const overQuota = go !== undefined && go.GOMAXPROCS > cg.quotaCpus;
  const procs = go
    ? `${overQuota ? 'but' : 'and'} Go ran with GOMAXPROCS=${go.GOMAXPROCS}${go.GOMAXPROCS_SET ? '' : ' (its default: the CPU count, ignoring the quota)'}`
    : '';
  const fit = Math.max(1, Math.ceil(cg.quotaCpus));
  // how many compiles the go command ran at once: its -p, which follows GOMAXPROCS, not the quota
  const parallel = maxOverlap(buildActionsOf(root, ctx.endNs).filter((a) => a.kind === 'compile'));
  const parallelText = parallel > fit ? `; up to ${parallel} compiles ran at once against the quota's ${cpus(cg.quotaCpus)}` : '';
  const evidence = `cgroup ${cg.path} (v${cg.version}) allows ${quotaText} ${procs}; ` +
    `throttled in ${cg.throttledPeriods} of ${cg.periods} periods, held back ${formatDuration(cg.throttledNs)}` +
    `${cg.throttledNs > wall ? ' (summed over CPUs)' : ''} during the ${formatDuration(wall)} run${parallelText}`;
  const hint = overQuota
    ? `match Go's parallelism to the quota: GOMAXPROCS=${fit} (and go build -p ${fit}), or use Go ≥ 1.25, which sizes GOMAXPROCS by the CPU limit; or raise the container's CPU limit`
    : 'the run needs more CPU than the quota gives: raise the container\'s CPU limit, or lower build parallelism (go build -p 1)';
  const cause: Cause = {
    id: ID, process: root, evidence, hint, weightNs: Math.min(wall, cg.throttledNs),
    attributes: {
      'gostall.cause.cgroup': cg.path, 'gostall.cause.cpu_quota': cg.quotaCpus,
      ...(go ? { 'gostall.cause.gomaxprocs': go.GOMAXPROCS } : {}),
      ...(parallel > 0 ? { 'gostall.cause.max_parallel_compiles': parallel } : {}),
    },
  };
  return [cause];
};
