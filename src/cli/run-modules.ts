/**
 * What `gostall run` loads on demand, so that nothing heavy runs before CMD is released:
 * the pipeline (records → spans, diagnosis, summary), loaded while our own tracer compiles
 * its probes or, through an agent, once CMD has exited. (./run-live, what must read /proc
 * while CMD lives, is loaded by run itself: as soon as it starts when an agent may be asked,
 * as it must be ready when the agent answers; with these when our own tracer follows.)
 */
export function loadPipelineModules() {
  return Promise.all([
    import('../pipeline/run-trace.js'), import('../export/resource-cache.js'),
    import('../export/summary.js'), import('../export/diagnosis-json.js'), import('../pipeline/build-history.js'),
    import('../diagnose/rebuild-diff.js'),
  ]).then(([runTrace, resources, summary, diagnosisJson, history, rebuildDiff]) => ({ runTrace, resources, summary, diagnosisJson, history, rebuildDiff }));
}
export type PipelineModules = Awaited<ReturnType<typeof loadPipelineModules>>;
