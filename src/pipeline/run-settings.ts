/**
 * The pipeline settings of a `gostall run` trace, whoever builds it: run itself (src/cli/run.ts)
 * or an agent asked by bin/gostall's fast path (src/agent/run-session.ts). Kept in one place
 * so that a command traced either way gives the same spans.
 */
import type { PipelineSettings } from './types.js';

/** run follows one root: the agent's limits and live spans do not apply. */
export const RUN_PIPELINE_SETTINGS: Omit<PipelineSettings, 'evidenceThresholdNs'> = {
  episodes: { minDurationNs: 0, mergeGapNs: 0, reportEveryNs: 0, stuckAfterNs: 0 }, windowNs: 0, longLivedNs: Infinity, maxOpenTrees: 1, maxQueuedTrees: 1,
};

/** After CMD exits, how long to wait for the exit records of its descendants. */
export const RUN_DRAIN_MILLIS = 1500;

/** Syscalls at or above this become evidence spans by default: cold reads from local disk were
 *  measured at up to ~10 ms on the reference VM, so 50 ms leaves a 5x margin against false evidence. */
export const DEFAULT_THRESHOLD_NS = 50e6;

/** The R record run's own tracer prints first; an agent's probe has none for a run's root. */
export function runReadyRecord(startNs: number, rootPid: number, t: { syscallThresholdNs: number; offcpuThresholdNs: number }): string {
  return `R\t${startNs}\t${rootPid}\t${t.syscallThresholdNs}\t${t.offcpuThresholdNs}`;
}
