/** Parsing and validation of command-line values shared by the commands. */
import { resolveProtocol, tracesUrlFromFlag, type OtlpProtocol } from '../export/endpoint.js';

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
