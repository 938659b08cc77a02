/**
 * Benchmark settings from the environment. Values are validated here so nothing odd reaches
 * a command line (package names become arguments of `go build`, never shell text).
 */
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

export const SECTIONS = ['build', 'probecost', 'hostcost', 'fixedcost', 'parse', 'agent', 'runagent', 'soak'] as const;
export type Section = (typeof SECTIONS)[number];
/** What runs when BENCH_SECTIONS is not set: everything but the hour-long soak. */
export const DEFAULT_SECTIONS: readonly Section[] = ['build', 'probecost', 'hostcost', 'fixedcost', 'parse', 'agent', 'runagent'];

export interface BenchConfig {
  quick: boolean;
  /** std packages for the cold `go build -a` */
  pkgs: string[];
  /** paired repetitions of (untraced, gostall, strace) */
  pairs: number;
  /** lines in the synthesized probe stream */
  streamLines: number;
  /** timed repetitions of each parser loop */
  parseReps: number;
  /** cold builds in the agent's build loop */
  agentBuilds: number;
  /** target probe-record rates (records/s) for the agent's capacity steps, ascending */
  agentRates: number[];
  /** length of each capacity step */
  agentStepSeconds: number;
  /** length of the agent soak (builds + a gopls session) */
  soakMinutes: number;
  /** record a new probe stream even when one for these packages exists */
  rerecord: boolean;
  sections: Set<Section>;
  /** package root (holds bin/gostall.js) */
  root: string;
  /** scratch directory, git-ignored */
  outDir: string;
}

/** About 24 s untraced on the 2-CPU reference VM (cold cache, `go build -a`); cmd/vet pulls in the vendored x/tools. */
export const DEFAULT_PKGS = [
  'net/http', 'go/types', 'text/template', 'html/template', 'image/png', 'image/jpeg',
  'archive/zip', 'database/sql', 'net/rpc', 'encoding/xml', 'cmd/vet',
];
/** About 5 s: enough to exercise every code path. */
export const QUICK_PKGS = ['fmt'];

const PKG_RE = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

export class ConfigError extends Error {}

function positiveInt(env: NodeJS.ProcessEnv, key: string, fallback: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`${key} must be an integer from 1 to ${max} (got ${JSON.stringify(raw)})`);
  return n;
}

function rateList(raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined || raw.trim() === '') return fallback;
  const rates = raw.trim().split(/[\s,]+/).map(Number);
  if (rates.some((r) => !Number.isInteger(r) || r < 1 || r > 10_000_000)) {
    throw new ConfigError(`BENCH_AGENT_RATES must be integers from 1 to 10000000 (got ${JSON.stringify(raw)})`);
  }
  return rates.sort((a, b) => a - b);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK === '1';
  const pkgs = env.BENCH_PKGS?.trim() ? env.BENCH_PKGS.trim().split(/[\s,]+/) : quick ? QUICK_PKGS : DEFAULT_PKGS;
  for (const p of pkgs) {
    if (!PKG_RE.test(p)) throw new ConfigError(`BENCH_PKGS: ${JSON.stringify(p)} is not a Go package path`);
  }
  let sections = new Set<Section>(DEFAULT_SECTIONS);
  if (env.BENCH_SECTIONS?.trim()) {
    const wanted = env.BENCH_SECTIONS.trim().split(/[\s,]+/);
    for (const s of wanted) {
      if (!(SECTIONS as readonly string[]).includes(s)) throw new ConfigError(`BENCH_SECTIONS: unknown section ${JSON.stringify(s)} (known: ${SECTIONS.join(', ')})`);
    }
    sections = new Set(wanted as Section[]);
  }
  const root = packageRoot();
  return {
    quick,
    pkgs,
    pairs: positiveInt(env, 'BENCH_PAIRS', quick ? 1 : 5, 50),
    streamLines: positiveInt(env, 'BENCH_STREAM_LINES', quick ? 100_000 : 1_000_000, 20_000_000),
    parseReps: positiveInt(env, 'BENCH_PARSE_REPS', quick ? 3 : 7, 100),
    agentBuilds: positiveInt(env, 'BENCH_AGENT_BUILDS', quick ? 1 : 3, 50),
    agentRates: rateList(env.BENCH_AGENT_RATES, quick ? [5_000, 20_000] : [5_000, 10_000, 20_000, 40_000, 80_000, 160_000]),
    agentStepSeconds: positiveInt(env, 'BENCH_AGENT_STEP_SECONDS', quick ? 3 : 6, 600),
    soakMinutes: positiveInt(env, 'BENCH_SOAK_MINUTES', quick ? 2 : 60, 24 * 60),
    rerecord: env.BENCH_RERECORD === '1',
    sections,
    root,
    outDir: join(root, '.bench'),
  };
}
