/**
 * What `gostall run` loads on demand, so that nothing heavy runs before CMD is released:
 * the pipeline (records → spans, diagnosis, summary), loaded before our own tracer starts
 * (its ~1.5 s compile hides it) or, through an agent, once CMD has exited; and what must read
 * /proc while CMD lives (./run-live), loaded while the agent answers.
 */
export function loadPipelineModules() {
  return Promise.all([
    import('../pipeline/pipeline.js'), import('../pipeline/context.js'), import('../export/resource-cache.js'),
    import('../export/summary.js'), import('../export/diagnosis-json.js'), import('../pipeline/build-history.js'),
    import('../diagnose/rebuild-diff.js'),
  ]).then(([pipeline, context, resources, summary, diagnosisJson, history, rebuildDiff]) => ({ pipeline, context, resources, summary, diagnosisJson, history, rebuildDiff }));
}
export type PipelineModules = Awaited<ReturnType<typeof loadPipelineModules>>;

export const loadLiveModules = () => import('./run-live.js');
