/** `gostall run`'s usage text and options (./run.ts). */
import { parseArgs } from 'node:util';
import { perfPagesFromEnv } from '../probe-runner/perf-pages.js';
import { UsageError, parseDuration, splitCommand, EXPORT_FLAGS, exportSettingsOption } from './options.js';

export const RUN_USAGE = `usage: gostall run [options] -- CMD [ARGS…]

Traces CMD and all its descendants with eBPF and writes an OpenTelemetry trace that says
where the time went and why. CMD's stdin/stdout/stderr are untouched; gostall exits with
CMD's exit code (128+signal when it was killed). A summary goes to stderr.

options:
  --out FILE         write the trace as OTLP JSON lines (default when no collector is
                     configured: ~/.local/state/gostall/traces/<time>-<cmd>.otlp.jsonl)
  --endpoint URL     send to an OTLP collector (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)
  --protocol P       http/protobuf (default), http/json or grpc (default: OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL)
  --threshold DUR    slowest syscalls and off-CPU waits at least this long become spans (default 50ms)
  --json FILE        also write the diagnosis (causes, evidence, hints) as JSON ("-" for stdout)
  --html FILE        also write the trace as one self-contained page (waterfall, evidence, causes)
  --raw FILE         also save the raw probe stream; \`gostall replay FILE\` turns it into the same spans
  --standalone       trace with gostall's own bpftrace even when an agent serves run
                     requests (by default run asks the agent at GOSTALL_AGENT_SOCKET,
                     /run/gostall/run.sock unless set, and traces on its own without one)
  --no-history       do not compare Go builds with, nor record them in, the build history
                     (~/.local/state/gostall/builds) that says why a build rebuilt
  -h, --help         this text
`;

import { DEFAULT_THRESHOLD_NS } from '../pipeline/run-settings.js';

export { DEFAULT_THRESHOLD_NS };

/** Parse run's own options; throws UsageError with the fix. */
export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const { options, command } = splitCommand(argv);
  const { values } = parseArgs({
    args: options,
    options: {
      ...EXPORT_FLAGS,
      threshold: { type: 'string' },
      json: { type: 'string' },
      html: { type: 'string' },
      raw: { type: 'string' },
      'no-history': { type: 'boolean' },
      standalone: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true as const };
  if (command.length === 0) throw new UsageError('gostall run needs a command: gostall run -- go build ./...');
  const thresholdNs = values.threshold !== undefined ? parseDuration(values.threshold, '--threshold') : DEFAULT_THRESHOLD_NS;
  // CMD owns stdout: spans never go there.
  if (values.out === '-') throw new UsageError('--out -: gostall run leaves stdout to the command; give a file name');
  const exportSettings = exportSettingsOption(values, env);
  let perfPagesPerCpu: number | undefined;
  try {
    perfPagesPerCpu = perfPagesFromEnv(env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { help: false as const, command, thresholdNs, exportSettings, json: values.json, html: values.html, raw: values.raw, perfPagesPerCpu, history: values['no-history'] !== true, standalone: values.standalone === true };
}

