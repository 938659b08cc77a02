/** Parsing and validation of command-line values shared by the commands. */
import { parseDuration as parseDurationNs } from '../vocabulary/units.js';
import { resolveProtocol, tracesUrlFromFlag, type OtlpProtocol } from '../export/endpoint.js';

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

const VALUE_FLAGS = new Set(['--out', '-o', '--endpoint', '--protocol', '--threshold', '--json', '--raw', '--config']);

/** The export flags run, agent and replay share (node:util parseArgs option specs). */
export const EXPORT_FLAGS = {
  out: { type: 'string', short: 'o' },
  endpoint: { type: 'string' },
  protocol: { type: 'string' },
} as const;

/** The OTLP protocol from --protocol or the OTEL_* variables; a bad value is a usage error. */
export function protocolOption(flag: string | undefined, env: NodeJS.ProcessEnv): OtlpProtocol {
  try {
    return resolveProtocol(flag, env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A traces URL from an endpoint value; a bad one is a usage error naming where it came from. */
export function tracesUrlOption(raw: string, source: string): string {
  try {
    return tracesUrlFromFlag(raw);
  } catch (err) {
    throw new UsageError(`${source}: ${(err as Error).message.replace(/^Invalid URL.*/, 'not a valid URL')}`);
  }
}
