/**
 * The agent's configuration: a JSON file validated with zod, the standard OTEL_* variables,
 * and command-line flags, merged in that order of strength: flag > file > environment >
 * default. Every problem names its key (`export.spool.maxSize: …`) or variable, because
 * an agent that starts with a typo in its config silently does the wrong thing for weeks.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { formatDurationSetting, parseDuration, parseSize } from '../vocabulary/units.js';
import { readMountTable } from '../diagnose/mounts.js';
import { redactUrl } from '../export/endpoint.js';
import {
  COMPRESSIONS, PROTOCOLS, SettingsError, resolveExportSettings, tracesUrl, type Compression, type ExportSettings, type OtlpProtocol, type TlsFiles,
} from '../export/settings.js';

/** Executables whose processes (and all their descendants) the agent traces by default. */
export const DEFAULT_EXECUTABLES = [
  'go', 'gopls', 'dlv', 'compile', 'link', 'asm', 'cgo', 'vet', 'gofmt', 'goimports', 'staticcheck', 'golangci-lint',
] as const;
/** The probe has twelve name slots ($4..$15). */
export const MAX_EXECUTABLES = 12;
/** comm is 16 bytes with its NUL; the probe compares whole comm values. */
const EXECUTABLE_NAME = /^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,14}$/;

import { DEFAULT_RUN_SOCKET } from './run-protocol.js';

export class ConfigError extends Error {}

export interface AgentConfig {
  executables: string[];
  /** absolute cgroup v2 directory a root must exec in, or undefined for the whole host */
  cgroup: string | undefined;
  /** its id (the cgroup v2 directory's inode number, what bpftrace's `cgroup` reads); 0 = any */
  cgroupId: number;
  syscallThresholdNs: number;
  offcpuThresholdNs: number;
  /** evidence spans for syscalls / off-CPU waits at least this long (like run --threshold) */
  evidenceThresholdNs: number;
  episodes: { minDurationNs: number; mergeGapNs: number; reportEveryNs: number; stuckAfterNs: number };
  /** activity windows: length in whole seconds, 0 = off */
  windowSeconds: number;
  /** a tree whose root lived this long publishes finished subtrees as they finish */
  longLivedNs: number;
  export: ExportConfig;
  metrics: { enabled: boolean; host: string; port: number };
  /** stderr: capture the first writes of traced processes to stderr (gostall.stderr; the causes that quote them);
   *  mountNamespace: bpftrace compiles in a mount namespace of its own (src/probe-runner/event-list.ts);
   *  auto: where that keeps nothing mounted (src/agent/mount-namespace.ts) */
  tracer: { bpftrace: string | undefined; perfPagesPerCpu: number; restartInitialMillis: number; restartMaxMillis: number; stderr: boolean; mountNamespace: boolean | 'auto' };
  shutdownDeadlineMillis: number;
  stateDir: string;
  limits: { maxOpenTrees: number; maxQueuedTrees: number };
  /** the socket `gostall run` asks (undefined: off), and the group whose members may ask besides root */
  run: { socket: string | undefined; group: string | undefined };
}

export interface ExportConfig {
  /** the resolved settings (export/settings.ts), what the sink is built from */
  settings: ExportSettings;
  /** traces URL, or undefined when only a file is written */
  url: string | undefined;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: Compression;
  /** PEM files for an https collector: its CA, and a client certificate and key for mutual TLS */
  tls: TlsFiles;
  /** OTLP JSON lines file, or undefined */
  out: string | undefined;
  batchMaxSpans: number;
  batchDelayMillis: number;
  memoryLimitBytes: number;
  spoolDir: string;
  spoolMaxBytes: number;
  maxRetryAfterMillis: number;
  backoffInitialMillis: number;
  backoffMaxMillis: number;
}

/** A duration string with a unit, checked against bounds, as nanoseconds. */
const duration = (minNs: number, maxNs: number) => z.string().transform((v, ctx) => {
  let ns: number;
  try {
    ns = parseDuration(v, 'value');
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected a duration with a unit like 500ms, 10s or 2m, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  if (ns < minNs || ns > maxNs) {
    ctx.addIssue({ code: 'custom', message: `must be between ${formatDurationSetting(minNs)} and ${formatDurationSetting(maxNs)}, got ${v}` });
    return z.NEVER;
  }
  return ns;
});

const size = (min: number, max: number) => z.union([z.number().int(), z.string()]).transform((v, ctx) => {
  let n: number;
  try {
    n = parseSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
  if (n < min || n > max) {
    ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max} bytes, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const MS = 1e6;
const S = 1e9;

/** A collector URL; the path rule (append v1/traces or not) depends on the protocol, so settings.ts applies it. */
const urlString = z.string().superRefine((v, ctx) => {
  try {
    tracesUrl(v, 'flag', 'http/protobuf', 'url');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^url: /, '') });
  }
});

const listenSchema = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:9464 (port 0: any free port)')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port out of range');

const absolutePath = z.string().min(1).refine((v) => isAbsolute(v) && !v.includes('\0'), 'must be an absolute path');

/** The file format. Every key is optional; unknown keys are errors (a typo must not pass). */
export const fileSchema = z.strictObject({
  executables: z.array(z.string().regex(EXECUTABLE_NAME, 'names are 1-15 characters of A-Z a-z 0-9 . _ + - not starting with - (the kernel keeps 15 bytes of a command name)'))
    .min(1).max(MAX_EXECUTABLES, `at most ${MAX_EXECUTABLES} names (the probe has ${MAX_EXECUTABLES} slots)`)
    .refine((a) => new Set(a).size === a.length, 'names must be unique').optional(),
  cgroup: absolutePath.optional(),
  syscallThreshold: duration(100e3, 10 * S).optional(),
  offcpuThreshold: duration(100e3, 10 * S).optional(),
  evidenceThreshold: duration(100e3, 3600 * S).optional(),
  episodes: z.strictObject({
    minDuration: duration(10 * MS, 3600 * S).optional(),
    mergeGap: duration(10 * MS, 600 * S).optional(),
    reportEvery: duration(1 * S, 3600 * S).optional(),
    stuckAfter: duration(100 * MS, 600 * S).optional(),
  }).optional(),
  windows: z.strictObject({
    every: duration(0, 3600 * S).refine((ns) => ns % S === 0, 'must be whole seconds (0s turns windows off)').optional(),
  }).optional(),
  longLived: duration(1 * S, 24 * 3600 * S).optional(),
  export: z.strictObject({
    endpoint: urlString.optional(),
    protocol: z.enum(PROTOCOLS as [OtlpProtocol, ...OtlpProtocol[]]).optional(),
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name'),
      z.string().refine((v) => !/[\r\n\0]/.test(v), 'header values cannot hold CR, LF or NUL')).optional(),
    timeout: duration(100 * MS, 600 * S).optional(),
    compression: z.enum(COMPRESSIONS as [Compression, ...Compression[]]).optional(),
    tls: z.strictObject({ ca: absolutePath.optional(), cert: absolutePath.optional(), key: absolutePath.optional() }).optional(),
    out: absolutePath.optional(),
    batch: z.strictObject({
      maxSpans: z.number().int().min(1).max(100_000).optional(),
      delay: duration(0, 60 * S).optional(),
    }).optional(),
    memoryLimit: size(64 * 1024, 16 * 1024 ** 3).optional(),
    spool: z.strictObject({
      dir: absolutePath.optional(),
      maxSize: size(1024 * 1024, 1024 ** 4).optional(),
    }).optional(),
    maxRetryAfter: duration(1 * S, 3600 * S).optional(),
    backoff: z.strictObject({ initial: duration(10 * MS, 600 * S).optional(), max: duration(100 * MS, 3600 * S).optional() }).optional(),
  }).optional(),
  metrics: z.strictObject({
    enabled: z.boolean().optional(),
    listen: listenSchema.optional(),
  }).optional(),
  tracer: z.strictObject({
    bpftrace: absolutePath.optional(),
    perfPagesPerCpu: z.number().int().min(1).max(65536).refine((n) => (n & (n - 1)) === 0, 'must be a power of two').optional(),
    restartBackoff: z.strictObject({ initial: duration(10 * MS, 600 * S).optional(), max: duration(100 * MS, 3600 * S).optional() }).optional(),
    stderr: z.boolean().optional(),
    mountNamespace: z.union([z.boolean(), z.literal('auto')]).optional(),
  }).optional(),
  shutdownDeadline: duration(100 * MS, 600 * S).optional(),
  stateDir: absolutePath.optional(),
  limits: z.strictObject({
    maxOpenTrees: z.number().int().min(10).max(10_000_000).optional(),
    maxQueuedTrees: z.number().int().min(10).max(10_000_000).optional(),
  }).optional(),
  run: z.strictObject({
    enabled: z.boolean().optional(),
    socket: absolutePath.optional(),
    group: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a group name').optional(),
  }).optional(),
});

export type ConfigFile = z.infer<typeof fileSchema>;

/** Command-line values; undefined means "not given". */
export interface AgentFlags {
  config?: string;
  endpoint?: string;
  protocol?: string;
  out?: string;
  metricsListen?: string;
  spoolDir?: string;
  stateDir?: string;
}

/** "a.b.c: message" for each issue, keys spelled as in the file. */
function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
    if (i.code === 'unrecognized_keys') {
      const keys = i.keys.map((k) => (path ? `${path}.${k}` : k));
      return `${prefix}${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''}`;
    }
    return `${prefix}${path || '(top level)'}: ${i.message}`;
  });
}

/** Parse and validate a config file's text. Throws ConfigError naming every bad key. */
export function parseConfigText(text: string, source: string): ConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(`${source}: ${describeIssues(r.error.issues).join('; ')}`);
  return r.data;
}

/** Where state (spool, pid file) lives when nothing says: systemd's StateDirectory, else by user. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const fromSystemd = env.STATE_DIRECTORY?.split(':')[0];
  if (fromSystemd && isAbsolute(fromSystemd)) return fromSystemd;
  if (process.geteuid?.() === 0) return '/var/lib/gostall';
  const base = env.XDG_STATE_HOME || join(env.HOME || '/tmp', '.local/state');
  return join(base, 'gostall/agent');
}

/** Validate one flag through the file schema, so flags and file share their rules and messages. */
function flagValue<T>(schema: z.ZodType<T>, value: string, flag: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(`${flag}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

/** The effective configuration. Throws ConfigError (exit 2) naming the key, variable or flag. */
export function loadAgentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let file: ConfigFile = {};
  if (flags.config !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.config, 'utf8');
    } catch (err) {
      throw new ConfigError(`--config: cannot read ${flags.config}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    file = parseConfigText(text, flags.config);
  }
  const ex = file.export ?? {};
  const stateDir = flags.stateDir ?? file.stateDir ?? defaultStateDir(env);
  if (!isAbsolute(stateDir)) throw new ConfigError('--state-dir: must be an absolute path');

  const out = flags.out !== undefined ? flagValue(absolutePath, flags.out, '--out') : ex.out;
  const settings = exportSettings(flags, ex, out, env);
  const t = settings.otlp;
  if (t === undefined && out === undefined) {
    if (settings.exportDisabled) throw new ConfigError(`${settings.notices[0] ?? 'export is switched off'}, and export.out (or --out) is not set: the agent would have nowhere to put spans`);
    throw new ConfigError('no destination for spans: set export.endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT, or --endpoint), and/or export.out (or --out)');
  }
  const spoolDir = flags.spoolDir !== undefined ? flagValue(absolutePath, flags.spoolDir, '--spool-dir') : ex.spool?.dir ?? join(stateDir, 'spool');

  let metrics = { enabled: file.metrics?.enabled ?? true, host: '127.0.0.1', port: 9464 };
  const listen = flags.metricsListen !== undefined ? flagValue(listenSchema, flags.metricsListen, '--metrics-listen') : file.metrics?.listen;
  if (listen !== undefined) {
    const colon = listen.lastIndexOf(':');
    metrics = { ...metrics, host: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(colon + 1)) };
  }

  const windowNs = file.windows?.every ?? 60 * S;
  const backoffInitial = ex.backoff?.initial ?? 1 * S;
  const backoffMax = ex.backoff?.max ?? 30 * S;
  if (backoffMax < backoffInitial) throw new ConfigError('export.backoff.max: must be at least export.backoff.initial');
  const restartInitial = file.tracer?.restartBackoff?.initial ?? 1 * S;
  const restartMax = file.tracer?.restartBackoff?.max ?? 30 * S;
  if (restartMax < restartInitial) throw new ConfigError('tracer.restartBackoff.max: must be at least tracer.restartBackoff.initial');

  const config: AgentConfig = {
    executables: file.executables ?? [...DEFAULT_EXECUTABLES],
    cgroup: file.cgroup,
    cgroupId: file.cgroup !== undefined ? cgroupIdOf(file.cgroup) : 0,
    syscallThresholdNs: file.syscallThreshold ?? 1 * MS,
    offcpuThresholdNs: file.offcpuThreshold ?? 1 * MS,
    evidenceThresholdNs: file.evidenceThreshold ?? 50 * MS,
    episodes: {
      minDurationNs: file.episodes?.minDuration ?? 2 * S,
      mergeGapNs: file.episodes?.mergeGap ?? 1 * S,
      reportEveryNs: file.episodes?.reportEvery ?? 10 * S,
      stuckAfterNs: file.episodes?.stuckAfter ?? 1 * S,
    },
    windowSeconds: windowNs / S,
    longLivedNs: file.longLived ?? 60 * S,
    export: {
      settings,
      url: t?.url,
      protocol: t?.protocol ?? 'http/protobuf',
      headers: t?.headers ?? {},
      timeoutMillis: t?.timeoutMillis ?? 10_000,
      compression: t?.compression ?? 'none',
      tls: t?.tls ?? {},
      out,
      batchMaxSpans: ex.batch?.maxSpans ?? 512,
      batchDelayMillis: (ex.batch?.delay ?? 200 * MS) / MS,
      memoryLimitBytes: ex.memoryLimit ?? 32 * 1024 ** 2,
      spoolDir,
      spoolMaxBytes: ex.spool?.maxSize ?? 256 * 1024 ** 2,
      maxRetryAfterMillis: (ex.maxRetryAfter ?? 120 * S) / MS,
      backoffInitialMillis: backoffInitial / MS,
      backoffMaxMillis: backoffMax / MS,
    },
    metrics,
    tracer: {
      bpftrace: file.tracer?.bpftrace,
      perfPagesPerCpu: file.tracer?.perfPagesPerCpu ?? 1024,
      restartInitialMillis: restartInitial / MS,
      restartMaxMillis: restartMax / MS,
      // off unless asked for: its write hook costs every process on the machine (README)
      stderr: file.tracer?.stderr ?? false,
      mountNamespace: file.tracer?.mountNamespace ?? 'auto',
    },
    shutdownDeadlineMillis: (file.shutdownDeadline ?? 10 * S) / MS,
    stateDir,
    limits: { maxOpenTrees: file.limits?.maxOpenTrees ?? 50_000, maxQueuedTrees: file.limits?.maxQueuedTrees ?? 20_000 },
    run: {
      socket: file.run?.enabled === false ? undefined : file.run?.socket ?? env.GOSTALL_AGENT_SOCKET ?? DEFAULT_RUN_SOCKET,
      group: file.run?.group,
    },
  };
  return config;
}

/**
 * The id bpftrace's `cgroup` builtin compares: the inode number of a cgroup v2 directory.
 * cgroup v1 hierarchies have no such id, so the setting needs the unified hierarchy.
 */
function cgroupIdOf(dir: string): number {
  let ino: bigint;
  try {
    const st = statSync(dir, { bigint: true });
    if (!st.isDirectory()) throw new Error('not a directory');
    ino = st.ino;
  } catch (err) {
    throw new ConfigError(`cgroup: ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const mount = readMountTable('self').lookup(dir);
  if (mount?.fsType !== 'cgroup2') {
    throw new ConfigError(`cgroup: ${dir} is not in a cgroup v2 hierarchy (it is on ${mount?.fsType ?? 'an unknown filesystem'}); leave cgroup unset on cgroup v1 hosts`);
  }
  if (ino > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(`cgroup: ${dir}: id out of range`);
  return Number(ino);
}

/** The export settings through the one resolver: flags > this file's export keys > OTEL_* > defaults. */
function exportSettings(flags: AgentFlags, ex: NonNullable<ConfigFile['export']>, out: string | undefined, env: NodeJS.ProcessEnv): ExportSettings {
  try {
    return resolveExportSettings({
      flags: { endpoint: flags.endpoint, protocol: flags.protocol, out },
      file: {
        endpoint: ex.endpoint, protocol: ex.protocol, headers: ex.headers, compression: ex.compression, tls: ex.tls,
        timeoutMillis: ex.timeout !== undefined ? ex.timeout / MS : undefined,
      },
      fileKeyPrefix: 'export.',
      env,
    });
  } catch (err) {
    if (err instanceof SettingsError) throw new ConfigError(err.message);
    throw err;
  }
}

/** The configuration as JSON with secrets (header values, URL credentials) masked, for --print-config and logs. */
export function describeConfig(c: AgentConfig): string {
  const { settings: _settings, ...exportShown } = c.export;
  const masked = {
    ...c,
    export: {
      ...exportShown,
      url: c.export.url ? redactUrl(c.export.url) : undefined,
      headers: Object.fromEntries(Object.keys(c.export.headers).map((k) => [k, '<redacted>'])),
    },
  };
  return JSON.stringify(masked, null, 2);
}
