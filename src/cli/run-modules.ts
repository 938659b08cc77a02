/**
 * What `gostall run` loads on demand, so that nothing heavy runs before CMD is released:
 * the pipeline (records → spans, diagnosis, summary), loaded while our own tracer compiles
 * its probes or, through an agent, once CMD has exited. (./run-live, what must read /proc
 * while CMD lives, is small and imported with run itself: loaded on demand it was as often
 * as not still compiling when the agent answered, 0–17 ms more before CMD could start.)
 */
export function loadPipelineModules() {
  return Promise.all([
    import('../pipeline/run-trace.js'), import('../export/resource-cache.js'),
    import('../export/summary.js'), import('../export/diagnosis-json.js'), import('../pipeline/build-history.js'),
    import('../diagnose/rebuild-diff.js'),
  ]).then(([runTrace, resources, summary, diagnosisJson, history, rebuildDiff]) => ({ runTrace, resources, summary, diagnosisJson, history, rebuildDiff }));
}
export type PipelineModules = Awaited<ReturnType<typeof loadPipelineModules>>;
