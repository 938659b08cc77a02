/**
 * The recording format `gostall replay` reads and `gostall run --raw` writes: the probe's
 * stdout lines unchanged, plus comment lines of gostall's own.
 *
 *   #gostall clock_offset_ns=N      (before the first record) epoch ns = monotonic ns + N
 *   #gostall context {JSON}         (anywhere) what run's context collector read about its
 *                                   root (mounts, workspace, Go env, cgroup CPU, CPU time,
 *                                   limits) and each process at its exec (environment,
 *                                   RLIMIT_NOFILE, memory cgroup, resolvers); a replay
 *                                   diagnoses with it instead of guessing
 *
 * A context line is input like any other: validated, and ignored (counted) when malformed.
 */
import { z } from 'zod';
import type { RecordedContext } from '../diagnose/context.js';
import { MAX_CHANGES } from '../diagnose/rebuild-diff.js';

export const CLOCK_OFFSET_HEADER = /^#gostall\s+clock_offset_ns=(-?\d{1,20})\s*$/;
const CONTEXT_PREFIX = '#gostall context ';
/** A context line is a few KiB to a few MiB (a mount table, and the kept variables of each process of a large build); anything far larger is refused. */
const MAX_CONTEXT_BYTES = 16 * 1024 * 1024;
/** The longest line a reader of recordings takes whole (records are far shorter: see MAX_LINE_LENGTH). */
export const MAX_RECORDING_LINE_BYTES = MAX_CONTEXT_BYTES + 1;

export function formatClockOffsetHeader(offsetNs: number): string {
  return `#gostall clock_offset_ns=${Math.round(offsetNs)}`;
}

/** The context line; without the per-process readings when they would make it longer than a reader takes. */
export function formatContextLine(rootPid: number, ctx: RecordedContext): string {
  const line = `${CONTEXT_PREFIX}${JSON.stringify({ rootPid, ...ctx })}`;
  if (Buffer.byteLength(line) <= MAX_CONTEXT_BYTES || !ctx.processEnvs) return line;
  const { processEnvs: _dropped, ...rest } = ctx;
  return `${CONTEXT_PREFIX}${JSON.stringify({ rootPid, ...rest })}`;
}

const str = z.string().max(4096);
const optStr = str.optional();
const num = z.number().finite();
const optNum = num.optional();

const CONTEXT = z.object({
  rootPid: z.number().int().positive(),
  mounts: z.array(z.object({ mountPoint: str, fsType: str, source: str, majMin: str, root: str, superOptions: str })).max(10_000),
  workspace: optStr,
  go: z.object({
    GOMODCACHE: optStr, GOCACHE: optStr, GOPATH: optStr, GOROOT: optStr, GOFLAGS: optStr, GOMAXPROCS: num, GOMAXPROCS_SET: z.boolean(),
    GOPROXY: optStr, GOPRIVATE: optStr, CGO_ENABLED: optStr, GOTOOLCHAIN: optStr, HOME: optStr, source: z.enum(['launch', 'environ']),
  }).optional(),
  cgroupCpu: z.object({
    version: z.union([z.literal(1), z.literal(2)]), path: str, quotaCpus: optNum, quotaUs: optNum, periodUs: optNum,
    periods: num, throttledPeriods: num, throttledNs: num, movedDuringRun: z.boolean(),
  }).optional(),
  cpuTimes: z.object({ cpus: num, spanNs: num, busyNs: num, stealNs: num, selfNs: optNum }).optional(),
  limits: z.object({ maxUserWatches: optNum, maxUserInstances: optNum, nofileSoft: optNum, nofileHard: optNum, fileMax: optNum }).optional(),
  processEnvs: z.object({
    launch: z.record(str, str).optional(),
    processes: z.array(z.object({
      pid: z.number().int().positive(), startNs: num,
      env: z.record(str, str).optional(), resolvers: z.array(str).max(64).optional(),
      nofile: z.object({ soft: optNum, hard: optNum }).optional(),
      memoryCgroup: z.object({ v1Memory: optStr, v2: optStr }).optional(),
      cwd: optStr,
    })).max(100_000),
  }).optional(),
  rebuilds: z.array(z.object({
    pid: z.number().int().positive(), startNs: num, label: str, previousAtMs: optNum, cacheChanged: z.boolean(), settingsSeenBefore: z.boolean(), moreChanges: z.number().int().nonnegative(),
    changed: z.array(z.object({
      id: str, kind: z.enum(['env', 'path', 'flags', 'version', 'file', 'compile_flags']), name: str, before: str, after: str, inKeys: z.boolean(), text: str,
    })).max(MAX_CHANGES),
    packages: z.array(z.tuple([str, str])).max(100_000),
  })).max(1000).optional(),
});

/** Whether a comment line is a context line (then parseContextLine says if it is a good one). */
export const isContextLine = (text: string): boolean => text.startsWith(CONTEXT_PREFIX);

/** The context of a context line (as a recording reader splits it: Latin-1), or undefined when it is not valid. */
export function parseContextLine(text: string): { rootPid: number; ctx: RecordedContext } | undefined {
  if (text.length > MAX_CONTEXT_BYTES) return undefined;
  let raw: unknown;
  try {
    // Readers split recordings into Latin-1 lines (bytes kept as they are); the JSON is UTF-8.
    raw = JSON.parse(Buffer.from(text.slice(CONTEXT_PREFIX.length), 'latin1').toString('utf8'));
  } catch {
    return undefined;
  }
  const r = CONTEXT.safeParse(raw);
  if (!r.success) return undefined;
  const { rootPid, ...ctx } = r.data;
  // JSON leaves out undefined fields: an absent key here is the undefined value the types name.
  return { rootPid, ctx: ctx as RecordedContext };
}
