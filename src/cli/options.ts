/** Parsing and validation of command-line values shared by the commands. */
import { resolveExportSettings, type ExportFileSettings, type ExportSettings } from '../export/settings.js';

export class UsageError extends Error {}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9 };

/** "50ms", "1.5s", "200us" → nanoseconds; a bare number is rejected (units live in values). */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m)$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} needs a duration with a unit, like 50ms or 1s (got ${JSON.stringify(text)})`);
  const ns = Math.round(Number(m[1]) * UNITS[m[2]!]!);
  if (!Number.isSafeInteger(ns) || ns > 3600e9) throw new UsageError(`${flag} is out of range (at most 1h)`);
  return ns;
}

/** Split `[options] -- CMD ARGS…` (the -- may be left out when CMD does not start with -). */
export function splitCommand(argv: string[]): { options: string[]; command: string[] } {
  const dd = argv.indexOf('--');
  if (dd !== -1) return { options: argv.slice(0, dd), command: argv.slice(dd + 1) };
  const options: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const a = argv[i]!;
    options.push(a);
    i++;
    if (!a.includes('=') && VALUE_FLAGS.has(a) && i < argv.length) options.push(argv[i++]!);
  }
  return { options, command: argv.slice(i) };
}

const VALUE_FLAGS = new Set(['--out', '-o', '--endpoint', '--protocol', '--threshold', '--json', '--html', '--config']);

/** The export flags run, agent and replay share (node:util parseArgs option specs). */
export const EXPORT_FLAGS = {
  out: { type: 'string', short: 'o' },
  endpoint: { type: 'string' },
  protocol: { type: 'string' },
} as const;

/**
 * The export settings of run and replay, from their flags, an optional config file's
 * export keys and the OTEL_* variables: the same resolver the agent uses (a bad value
 * throws a SettingsError naming the flag or variable, which main turns into exit 2).
 */
export function exportSettingsOption(
  values: { endpoint?: string; protocol?: string; out?: string },
  env: NodeJS.ProcessEnv,
  file?: ExportFileSettings,
): ExportSettings {
  return resolveExportSettings({ flags: { endpoint: values.endpoint, protocol: values.protocol, out: values.out }, file, fileKeyPrefix: 'export.', env });
}
