/** The end of `gostall run` (./run.ts): signals passed to CMD while it runs, then the trace delivered. */
import type { ChildProcess } from 'node:child_process';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { PublishedTrace } from '../pipeline/pipeline.js';
import type { Sink } from '../export/sink.js';
import type { PipelineModules } from './run-modules.js';

/**
 * Ctrl-C reaches CMD through the terminal's process group; gostall stays to flush the
 * trace (bpftrace runs in its own process group, out of the terminal's reach). Termination
 * requests sent to gostall alone are passed on to CMD. Returns the undo.
 */
export function forwardSignals(shim: ChildProcess): () => void {
  const forward = (sig: NodeJS.Signals) => () => { try { shim.kill(sig); } catch { /* already gone */ } };
  const onInt = () => {};
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  };
}

/** Deliver the spans (the sink's deadline), then the summary, --json and --html. Never throws: the command's exit code stands. */
export async function deliver(x: {
  opts: { json: string | undefined; html: string | undefined }; sink: Sink; modules: PipelineModules; spans: ReadableSpan[];
  published: PublishedTrace | undefined; endNs: number; rawPath: string | undefined;
  stats: { lostEvents: number; malformed: number; orphanRecords: number }; traceProblems: string[];
}): Promise<void> {
  const { opts, sink } = x;
  const destinations: string[] = [];
  const exportProblems: string[] = [];
  let sinkClosed = false;
  try {
    if (!x.published) throw new Error('the command\'s process tree was not seen');
    const report = await sink.shutdown();
    sinkClosed = true;
    if (sink.filePath !== undefined) {
      if (report.fileError) exportProblems.push(`could not write ${sink.filePath}: ${report.fileError}`);
      else destinations.push(`written to ${sink.filePath}`);
    }
    if (sink.target) {
      if (report.undelivered > 0) {
        exportProblems.push(`could not send the trace to ${sink.target}: ${report.reasons.join(', ')}${sink.filePath && !report.fileError ? ` (the file ${sink.filePath} is complete)` : ''}`);
      } else destinations.push(`sent to ${sink.target}`);
    }
    process.stderr.write(x.modules.summary.renderRunSummary({ published: x.published, endNs: x.endNs, stats: x.stats, destinations, exportProblems, traceProblems: x.traceProblems }));
    if (x.rawPath) process.stderr.write(`  raw probe stream saved to ${x.rawPath} (gostall replay turns it into these spans)\n`);
    if (opts.json !== undefined) await x.modules.diagnosisJson.writeDiagnosisJson(opts.json, x.published.root, x.published, x.endNs);
    if (opts.html !== undefined) await (await import('../report/report.js')).writeHtmlReport(opts.html, x.spans);
  } catch (err) {
    process.stderr.write(`gostall: the trace could not be finished: ${(err as Error).message}\n`);
  } finally {
    if (!sinkClosed) await sink.shutdown(0).catch(() => {});
  }
}
