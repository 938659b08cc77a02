/**
 * gostall report FILE… [--json FILE] [--html FILE]: the diagnosis of recorded OTLP JSON traces
 * (what `run --out` writes; `-` reads stdin). The summary of each trace goes to stdout.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './options.js';

const HELP = `usage: gostall report FILE… [--json FILE] [--html FILE]

Reads OTLP JSON lines (gostall run --out, the agent's export.out, or a collector's file
exporter; - for stdin) and prints, for each trace, the summary gostall run printed.
  --json FILE   the causes of each trace as JSON (- for stdout)
  --html FILE   one self-contained page: the process tree as a waterfall, the evidence and
                the causes (no network; open it from disk)
Malformed lines are counted and skipped. Exit status: 0, 1 when no trace was found, 2 on usage errors.
`;

export async function reportCommand(argv: string[]): Promise<{ exitCode: number }> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { json: { type: 'string' }, html: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { process.stdout.write(HELP); return { exitCode: 0 }; }
  if (positionals.length === 0) throw new UsageError('needs at least one OTLP JSON file (or - for stdin); see gostall report --help');
  if (positionals.filter((p) => p === '-').length > 1) throw new UsageError('- (stdin) can be given once');
  const { loadReport, reportText, reportJson, pageData, inputProblems, writePrivate, terminalSafe } = await import('../report/report.js');
  const { writeHtml } = await import('../report/html.js');
  let report;
  try {
    report = await loadReport(positionals.map((name) => ({ name })));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot read ${e.path ?? 'the input'}: ${e.code ?? e.message}`);
  }
  for (const p of inputProblems(report)) process.stderr.write(`gostall report: warning: ${terminalSafe(p)}\n`);
  const toStdout = values.json === '-';
  const text = reportText(report);
  if (!toStdout) process.stdout.write(text);
  if (values.json !== undefined) await writePrivate(values.json, `${JSON.stringify(reportJson(report), null, 2)}\n`);
  if (values.html !== undefined) {
    await writeHtml(values.html, pageData(report));
    process.stderr.write(`gostall report: wrote ${values.html} (${report.traces.length} trace${report.traces.length === 1 ? '' : 's'})\n`);
  }
  if (report.traces.length === 0) {
    process.stderr.write('gostall report: no gostall trace in the input (no span with process.pid)\n');
    return { exitCode: 1 };
  }
  return { exitCode: 0 };
}
