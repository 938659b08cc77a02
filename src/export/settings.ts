/**
 * The one place export settings are resolved, for run, agent and replay alike:
 * command-line flags > config file (agent, replay --config) > OTEL_* variables > defaults,
 * with the OpenTelemetry specification's rules (traces-specific variables over generic
 * ones; the generic endpoint gets /v1/traces appended after its path, the traces-specific
 * one is used as it is; gRPC endpoints are host:port and get no path). Every OTEL_*
 * variable gostall honours is read here and nowhere else.
 *
 * A bad value throws a SettingsError whose `source` names the flag, config key or variable
 * that held it; the commands turn it into exit 2 with one line. Nothing here ever puts a
 * header value or URL credentials into a message.
 *
 * (About 300 lines: every variable's rule sits here on purpose, so that no other file
 * parses one.)
 */
import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { redactUrl } from './endpoint.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
export type Compression = 'none' | 'gzip';
export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip'];
/** Values of OTEL_TRACES_EXPORTER gostall acts on; any other is a SettingsError (see docs/configuration.md). */
export const TRACES_EXPORTERS = ['otlp', 'none'] as const;

/** PEM files: the collector's CA (else the system's), a client certificate and key for mutual TLS. */
export interface TlsFiles { ca?: string; cert?: string; key?: string }

/** A bad setting. `source` is the flag (`--protocol`), config key (`export.timeout`) or variable. */
export class SettingsError extends Error {
  constructor(readonly source: string, problem: string) {
    super(`${source}: ${problem}`);
  }
}

export interface OtlpTarget {
  /** http(s): the full traces URL; grpc: the channel address as a URL (http: plaintext, https: TLS) */
  url: string;
  protocol: OtlpProtocol;
  /** HTTP headers, or gRPC metadata; never printed */
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: Compression;
  tls: TlsFiles;
  /** where the URL came from, for messages (`--endpoint`, `export.endpoint`, a variable) */
  urlSource: string;
}

export interface ResourceSettings {
  /** OTEL_SERVICE_NAME; undefined = service.name from OTEL_RESOURCE_ATTRIBUTES, else the root executable */
  serviceName: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded */
  attributes: Attributes;
}

export interface ExportSettings {
  /** where spans go over the network, or undefined (none configured, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none) */
  otlp: OtlpTarget | undefined;
  /** whether a collector was named at all (before OTEL_SDK_DISABLED / none switch it off): run then writes no default file */
  endpointConfigured: boolean;
  /** true when OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none turned OTLP export off */
  exportDisabled: boolean;
  /** the OTLP JSON lines file from --out / export.out, if any (relative paths resolved) */
  out: string | undefined;
  /** where `out` came from, for messages */
  outSource: string | undefined;
  resource: ResourceSettings;
  /** one-line notices to print once (export switched off, ignored values); never secrets */
  notices: string[];
}

/** The export keys of a config file, already validated by its zod schema (durations in ms). */
export interface ExportFileSettings {
  endpoint?: string;
  protocol?: OtlpProtocol;
  headers?: Record<string, string>;
  timeoutMillis?: number;
  compression?: Compression;
  tls?: TlsFiles;
  out?: string;
}

export interface ExportFlags {
  endpoint?: string;
  protocol?: string;
  out?: string;
}

export interface SettingsInput {
  flags?: ExportFlags;
  file?: ExportFileSettings;
  /** how the config file is named in messages, e.g. `export.` (agent) */
  fileKeyPrefix?: string;
  env?: NodeJS.ProcessEnv;
  /** relative paths (--out, certificates from the environment) resolve against this */
  cwd?: string;
}

export const DEFAULT_TIMEOUT_MILLIS = 10_000;
const TRACES_PATH = 'v1/traces';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The first set (non-empty) variable among names, with its name. */
function fromEnv(env: NodeJS.ProcessEnv, names: string[]): { value: string; source: string } | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return { value: v.trim(), source: name };
  }
  return undefined;
}

const tracesAndGeneric = (suffix: string): string[] => [`OTEL_EXPORTER_OTLP_TRACES_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`];

/** A value for messages: short, and never more than the start of what the user typed. */
const shown = (v: string): string => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);

function oneOf<T extends string>(value: string, allowed: readonly T[], source: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new SettingsError(source, `must be one of ${allowed.join(', ')}, got ${shown(value)}`);
  return value as T;
}

function parseUrl(raw: string, source: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SettingsError(source, 'not a valid URL (expected http://host:port or https://host:port)');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SettingsError(source, `must be an http:// or https:// URL, got ${redactUrl(raw)}`);
  return u;
}

/**
 * The URL to send to. `mode` says how its path is treated: `base` appends v1/traces to any
 * path (OTEL_EXPORTER_OTLP_ENDPOINT), `exact` keeps it (the traces-specific variable),
 * `flag` appends only when there is no path (--endpoint, export.endpoint: both a collector
 * base and a full traces URL work). gRPC addresses take no path at all.
 */
export function tracesUrl(raw: string, mode: 'base' | 'exact' | 'flag', protocol: OtlpProtocol, source: string): string {
  const u = parseUrl(raw, source);
  if (protocol === 'grpc') return `${u.protocol}//${u.host}`;
  const path = u.pathname.replace(/\/+$/, '');
  if (mode === 'exact' || (mode === 'flag' && path !== '')) return u.toString();
  u.pathname = `${path}/${TRACES_PATH}`;
  return u.toString();
}

/** W3C-baggage-like `key=value,key2=value2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
export function parseKeyValueList(raw: string, source: string, keyRule?: { re: RegExp; what: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    // Never echo the entry: it may be a token with a missing '='.
    if (eq <= 0) throw new SettingsError(source, 'expected key=value pairs separated by commas');
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      throw new SettingsError(source, `the value of ${shown(key)} has a bad percent-encoding`);
    }
    if (keyRule && !keyRule.re.test(key)) throw new SettingsError(source, `${shown(key)} is not a valid ${keyRule.what}`);
    if (/[\r\n\0]/.test(value)) throw new SettingsError(source, `the value of ${shown(key)} holds CR, LF or NUL`);
    out[key] = value;
  }
  return out;
}

/** Header lists: the generic variable, then the traces one over it key by key (as OpenTelemetry JS merges them). */
function headersFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    const raw = env[name];
    if (raw) Object.assign(out, parseKeyValueList(raw, name, { re: HEADER_NAME, what: 'header name' }));
  }
  return out;
}

function timeoutFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const v = fromEnv(env, tracesAndGeneric('TIMEOUT'));
  if (!v) return undefined;
  if (!/^\d{1,9}$/.test(v.value) || Number(v.value) < 1) throw new SettingsError(v.source, `expected milliseconds as a positive integer, got ${shown(v.value)}`);
  return Number(v.value);
}

/** A readable file, or a SettingsError naming where its path came from. */
function readablePath(path: string, source: string, cwd: string): string {
  const full = isAbsolute(path) ? path : resolve(cwd, path);
  try {
    accessSync(full, constants.R_OK);
  } catch (err) {
    throw new SettingsError(source, `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return full;
}

function tlsSettings(input: SettingsInput, env: NodeJS.ProcessEnv, cwd: string, url: string | undefined): TlsFiles {
  const prefix = input.fileKeyPrefix ?? 'export.';
  const pick = (key: keyof TlsFiles, suffix: string): { path: string; source: string } | undefined => {
    const f = input.file?.tls?.[key];
    if (f !== undefined) return { path: f, source: `${prefix}tls.${key}` };
    const e = fromEnv(env, tracesAndGeneric(suffix));
    return e && { path: e.value, source: e.source };
  };
  const chosen = { ca: pick('ca', 'CERTIFICATE'), cert: pick('cert', 'CLIENT_CERTIFICATE'), key: pick('key', 'CLIENT_KEY') };
  const out: TlsFiles = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const c = chosen[k];
    if (c) out[k] = readablePath(c.path, c.source, cwd);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new SettingsError((chosen.cert ?? chosen.key)!.source, 'a client certificate needs its key and the key its certificate');
  }
  if ((out.ca ?? out.cert) !== undefined && url !== undefined && !url.startsWith('https:')) {
    throw new SettingsError((chosen.ca ?? chosen.cert)!.source, `TLS files are set but the endpoint is not https (${redactUrl(url)})`);
  }
  return out;
}

/** OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER: whether OTLP export is switched off, and what to say about it. */
function exportSwitch(env: NodeJS.ProcessEnv, notices: string[]): boolean {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (disabled === 'true') {
    notices.push('OTEL_SDK_DISABLED=true: no spans are sent to a collector');
    return true;
  }
  if (disabled !== undefined && disabled !== '' && disabled !== 'false') {
    notices.push(`OTEL_SDK_DISABLED=${shown(disabled)} is neither true nor false: taken as false`);
  }
  const list = env.OTEL_TRACES_EXPORTER?.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '') ?? [];
  for (const name of list) {
    if (!(TRACES_EXPORTERS as readonly string[]).includes(name)) {
      throw new SettingsError('OTEL_TRACES_EXPORTER', `gostall exports with otlp (or none), not ${shown(name)}; for spans as JSON lines use --out FILE`);
    }
  }
  if (list.length > 0 && list.every((n) => n === 'none')) {
    notices.push('OTEL_TRACES_EXPORTER=none: no spans are sent to a collector');
    return true;
  }
  return false;
}

/** OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, parsed (and validated) once. */
export function resolveResourceSettings(env: NodeJS.ProcessEnv = process.env): ResourceSettings {
  const raw = env.OTEL_RESOURCE_ATTRIBUTES;
  const attributes: Attributes = raw ? parseKeyValueList(raw, 'OTEL_RESOURCE_ATTRIBUTES') : {};
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || undefined;
  return { serviceName, attributes };
}

/** The protocol: flag > file > traces variable > generic variable > http/protobuf. */
function resolveProtocol(input: SettingsInput, env: NodeJS.ProcessEnv): OtlpProtocol {
  if (input.flags?.protocol !== undefined) return oneOf(input.flags.protocol, PROTOCOLS, '--protocol');
  if (input.file?.protocol !== undefined) return input.file.protocol;
  const v = fromEnv(env, tracesAndGeneric('PROTOCOL'));
  return v ? oneOf(v.value, PROTOCOLS, v.source) : 'http/protobuf';
}

/** The endpoint: flag > file > OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is) > OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces). */
function resolveUrl(input: SettingsInput, env: NodeJS.ProcessEnv, protocol: OtlpProtocol): { url: string; source: string } | undefined {
  const prefix = input.fileKeyPrefix ?? 'export.';
  if (input.flags?.endpoint !== undefined) return { url: tracesUrl(input.flags.endpoint, 'flag', protocol, '--endpoint'), source: '--endpoint' };
  if (input.file?.endpoint !== undefined) return { url: tracesUrl(input.file.endpoint, 'flag', protocol, `${prefix}endpoint`), source: `${prefix}endpoint` };
  const specific = fromEnv(env, ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  if (specific) return { url: tracesUrl(specific.value, 'exact', protocol, specific.source), source: specific.source };
  const base = fromEnv(env, ['OTEL_EXPORTER_OTLP_ENDPOINT']);
  if (base) return { url: tracesUrl(base.value, 'base', protocol, base.source), source: base.source };
  return undefined;
}

/**
 * Resolve every export setting. Throws SettingsError (exit 2) naming the flag, key or
 * variable of the first bad value; every value is checked even when export ends up
 * switched off, so a typo never waits for the day it is switched on.
 */
export function resolveExportSettings(input: SettingsInput): ExportSettings {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const notices: string[] = [];
  const protocol = resolveProtocol(input, env);
  const where = resolveUrl(input, env, protocol);
  const headers = { ...headersFromEnv(env), ...(input.file?.headers ?? {}) };
  const timeoutMillis = input.file?.timeoutMillis ?? timeoutFromEnv(env) ?? DEFAULT_TIMEOUT_MILLIS;
  const envCompression = fromEnv(env, tracesAndGeneric('COMPRESSION'));
  const compression = input.file?.compression ?? (envCompression ? oneOf(envCompression.value, COMPRESSIONS, envCompression.source) : 'none');
  const tls = tlsSettings(input, env, cwd, where?.url);
  const resource = resolveResourceSettings(env);
  const off = exportSwitch(env, notices);
  const rawOut = input.flags?.out ?? input.file?.out;
  const outSource = input.flags?.out !== undefined ? '--out' : input.file?.out !== undefined ? `${input.fileKeyPrefix ?? 'export.'}out` : undefined;
  const out = rawOut === undefined || rawOut === '-' ? rawOut : resolve(cwd, rawOut);
  const otlp: OtlpTarget | undefined = where && !off
    ? { url: where.url, urlSource: where.source, protocol, headers, timeoutMillis, compression, tls }
    : undefined;
  return { otlp, endpointConfigured: where !== undefined, exportDisabled: off, out, outSource, resource, notices };
}
