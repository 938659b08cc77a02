/** Parsing and validation of command-line values shared by the commands. */
import { parseDuration as parseDurationNs } from '../vocabulary/units.js';
import { resolveExportSettings, type ExportFileSettings, type ExportSettings } from '../export/settings.js';

export class UsageError extends Error {}

/** "50ms", "1.5s", "200us" → nanoseconds; a bad value is a usage error naming the flag. */
export function parseDuration(text: string, flag: string): number {
  try {
    return parseDurationNs(text, flag);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
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

const VALUE_FLAGS = new Set(['--out', '-o', '--endpoint', '--protocol', '--threshold', '--json', '--html', '--raw', '--config']);

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
