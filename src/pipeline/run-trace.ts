/**
 * One `gostall run` trace, whoever builds it: run itself (src/cli/run.ts) or an agent asked
 * by bin/gostall (src/agent/run-session.ts). The same settings (./run-settings), the same
 * collector of the root's context and the same root, so a command traced either way gives
 * the same spans. (Loaded on demand: run's start-up imports only ./run-settings.)
 */
import type { ContextCollection } from '../diagnose/context.js';
import type { WallClock } from '../model/clock.js';
import type { BuildHistory } from './build-history.js';
import { runContextCollector } from './context.js';
import { createPipeline } from './pipeline.js';
import { RUN_PIPELINE_SETTINGS } from './run-settings.js';
import type { Pipeline, PipelineOptions, PublishedTrace } from './types.js';

export interface RunTrace {
  pipeline: Pipeline;
  /** what was read of the root (a raw capture records it) */
  recorded: ReturnType<typeof runContextCollector>['recorded'];
  /** every process of the tree has exited */
  complete: Promise<void>;
  /** the root's trace, once published */
  published(): PublishedTrace | undefined;
}

export function createRunTrace(x: {
  rootPid: number;
  /** the environment CMD was started with */
  env: NodeJS.ProcessEnv;
  clock: WallClock;
  evidenceThresholdNs: number;
  buildHistory: BuildHistory | undefined;
  resourceFor: PipelineOptions['resourceFor'];
  emit: PipelineOptions['emit'];
  /** the root's context collection, when it was started before the pipeline was built */
  started?: ContextCollection;
}): RunTrace {
  let published: PublishedTrace | undefined;
  let treeComplete!: () => void;
  const complete = new Promise<void>((r) => { treeComplete = r; });
  const context = runContextCollector(x.rootPid, x.env, x.started);
  const pipeline = createPipeline({
    settings: { ...RUN_PIPELINE_SETTINGS, evidenceThresholdNs: x.evidenceThresholdNs },
    clock: x.clock, context, resourceFor: x.resourceFor, emit: x.emit, buildHistory: x.buildHistory,
    onTracePublished: (t) => { if (t.root.pid === x.rootPid) published = t; },
    onTreeComplete: () => treeComplete(),
  });
  return { pipeline, recorded: () => context.recorded(), complete, published: () => published };
}
