/**
 * `gostall report`'s outputs from recorded OTLP JSON: the terminal summaries, the diagnosis
 * JSON and the HTML page, all from one read of the input.
 */
import { Readable } from 'node:stream';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { readOtlpJsonLines, type ReadResult } from './read.js';
import { buildTraces, num, type ReportTrace } from './model.js';
import { summaryOfTrace } from './summary.js';
import { pageTrace, type PageData } from './page-data.js';
import { renderHtml } from './html.js';
import { writePrivateFile } from '../export/private-file.js';

export { terminalSafe } from '../export/summary.js';
export { writePrivate } from '../export/private-file.js';

export interface Report { read: ReadResult; traces: ReportTrace[] }

export async function loadReport(sources: { name: string; stream?: Readable }[]): Promise<Report> {
  const read = await readOtlpJsonLines(sources);
  return { read, traces: buildTraces(read.spans) };
}

/** What the input had that was not used, in one line each. */
export function inputProblems(r: Report): string[] {
  const out: string[] = [];
  if (r.read.malformedLines > 0) {
    out.push(`${r.read.malformedLines} malformed line${r.read.malformedLines === 1 ? '' : 's'} skipped (${r.read.problems.join('; ')}${r.read.malformedLines > r.read.problems.length ? '; …' : ''})`);
  }
  return out;
}

export function reportText(r: Report, source?: string): string {
  return r.traces.map((t) => summaryOfTrace(t, { source })).join('\n');
}

/** --json: per trace what `run --json` writes, plus the input's problems. */
export function reportJson(r: Report): object {
  return {
    traces: r.traces.map((t) => ({
      traceId: t.traceId,
      command: t.root.span.name,
      wallNs: t.root.endNs - t.root.startNs,
      processes: t.processes.length,
      spans: t.spanCount,
      causes: t.causes.map((c) => ({
        id: c.id, pid: num(c.process.span.attributes.get('process.pid')) ?? 0, process: c.process.span.name, evidence: c.evidence, hint: c.hint,
      })),
    })),
    malformedLines: r.read.malformedLines,
    problems: r.read.problems,
  };
}

export function pageData(r: Report): PageData {
  return { traces: r.traces.map(pageTrace), problems: r.read.problems, malformedLines: r.read.malformedLines };
}

/** The page for a trace already encoded as OTLP JSON lines (the agent's run traces): what `gostall report --html` makes of that file. */
export async function htmlPageOf(otlpJsonLines: Buffer): Promise<string> {
  const report = await loadReport([{ name: 'run', stream: Readable.from([otlpJsonLines]) }]);
  return renderHtml(pageData(report));
}

/**
 * `run --html`: the page for spans just built, through the same OTLP JSON encoding the
 * --out file has, so the page is what `gostall report --html` makes of that file.
 */
export async function writeHtmlReport(target: string, spans: ReadableSpan[]): Promise<void> {
  const { JsonTraceSerializer } = await import('@opentelemetry/otlp-transformer');
  const body = JsonTraceSerializer.serializeRequest(spans);
  if (!body) throw new Error('OTLP JSON serialisation failed');
  await writePrivateFile(target, await htmlPageOf(Buffer.from(body)));
}
