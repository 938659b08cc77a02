/**
 * An independent decoder for OTLP trace export requests, for tests that check what gostall
 * sends. It reads the official opentelemetry-proto schema (a copy in test/proto) with protobufjs
 * and never uses @opentelemetry/otlp-transformer or exporter code: a bug in the encoder that
 * gostall relies on must not be mirrored by the checker.
 *
 * Both encodings end up in one converter:
 *  - OTLP/protobuf: `ExportTraceServiceRequest.decode(bytes)` from the schema;
 *  - OTLP/JSON: a schema-driven walk of the parsed JSON that validates every field against the
 *    message type (lowerCamelCase names only, hex trace/span ids, 64-bit integers as decimal
 *    strings or numbers, enums as integers or names), producing the same shape protobufjs does.
 *
 * The decoder is deliberately stricter than the OTLP spec asks of a receiver: unknown JSON
 * fields, duplicate attribute keys, all-zero or wrongly sized ids and attribute values this
 * type cannot hold (kvlist, bytes, nested arrays, empty values) are errors, so a mistake in
 * what gostall writes fails a test instead of silently disappearing.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The gostall checkout (this file is test/support/otlp-decode.ts). */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The official opentelemetry-proto files, copied into the repository (test/proto/SOURCE says from where). */
export const OTLP_PROTO_DIR = path.resolve(PROJECT_ROOT, 'test/proto');
const TRACE_SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const REQUEST_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';
const RESPONSE_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse';

export type AttributeScalar = string | number | boolean;
/**
 * intValue becomes a number when it is a safe integer, else its decimal string (so that no
 * precision is lost silently); doubleValue is always a number (NaN/±Infinity included).
 */
export type AttributeValue = AttributeScalar | AttributeScalar[];
export type Attributes = Record<string, AttributeValue>;

export interface DecodedEvent {
  name: string;
  timeNs: bigint;
  attributes: Attributes;
}

export interface DecodedLink {
  traceId: string;
  spanId: string;
  attributes: Attributes;
}

export interface DecodedSpan {
  /** 32 lowercase hex digits */
  traceId: string;
  /** 16 lowercase hex digits */
  spanId: string;
  /** 16 lowercase hex digits, or undefined for a root span (empty bytes / absent) */
  parentSpanId: string | undefined;
  name: string;
  /** the OTLP enum value: API SpanKind + 1 (see SPAN_KIND) */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Attributes;
  /** code as in the OTLP enum (same numbers as the API's SpanStatusCode) */
  status: { code: number; message?: string };
  /** attributes of the enclosing ResourceSpans' resource */
  resource: Attributes;
  /** the enclosing ScopeSpans' instrumentation scope */
  scope: { name: string; version?: string };
  events: DecodedEvent[];
  links: DecodedLink[];
  /** Span.flags (W3C trace flags in the low byte, 0x100/0x200 remote-parent bits) */
  flags: number;
}

/** OTLP Span.SpanKind values (the API's SpanKind is one less). */
export const SPAN_KIND = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
/** OTLP Status.StatusCode values. */
export const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** A request that does not decode, with the path of the offending field in the message. */
export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

// ---------------------------------------------------------------------------------------------
// Schema

let cachedRoot: protobuf.Root | undefined;

/** The trace service schema, parsed once from the official .proto files. */
export function loadTraceSchema(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const root = new protobuf.Root();
  // Imports name files relative to the proto root ("opentelemetry/proto/common/v1/common.proto").
  root.resolvePath = (_origin: string, target: string): string =>
    path.isAbsolute(target) ? target : path.join(OTLP_PROTO_DIR, target);
  root.loadSync(path.join(OTLP_PROTO_DIR, TRACE_SERVICE_PROTO), { keepCase: false });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

function requestType(): protobuf.Type {
  return loadTraceSchema().lookupType(REQUEST_TYPE);
}

/** An encoded, empty ExportTraceServiceResponse (what a receiver answers on full success). */
export function encodeEmptyExportResponse(): Uint8Array {
  const t = loadTraceSchema().lookupType(RESPONSE_TYPE);
  return t.encode(t.create({})).finish();
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** Decodes an OTLP/protobuf ExportTraceServiceRequest body (already decompressed). */
export function decodeProtobufRequest(buf: Uint8Array): DecodedSpan[] {
  let msg: protobuf.Message;
  try {
    msg = requestType().decode(buf);
  } catch (e) {
    throw new OtlpDecodeError(`invalid OTLP protobuf: ${(e as Error).message}`);
  }
  return spansFromRequest(msg);
}

export interface JsonDecodeOptions {
  /**
   * 'error' (default): a field name the schema does not know is an error (this also catches
   * snake_case names, which OTLP/JSON forbids). 'ignore': skip it, as the spec asks receivers.
   */
  unknownFields?: 'error' | 'ignore';
}

/** Decodes one OTLP/JSON ExportTraceServiceRequest. */
export function decodeJsonRequest(text: string, opts: JsonDecodeOptions = {}): DecodedSpan[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError(`invalid JSON: ${(e as Error).message}`);
  }
  const walker = new JsonWalker(opts.unknownFields ?? 'error');
  return spansFromRequest(walker.message(requestType(), json, '$'));
}

/** Decodes an OTLP JSON lines file: each non-blank line is one ExportTraceServiceRequest. */
export function decodeOtlpJsonLines(fileText: string, opts: JsonDecodeOptions = {}): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  const lines = fileText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      out.push(...decodeJsonRequest(line, opts));
    } catch (e) {
      throw new OtlpDecodeError(`line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON → protobufjs-shaped plain objects, validated against the schema

const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);
const INT32_TYPES = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32_TYPES = new Set(['uint32', 'fixed32']);
const INT64_TYPES = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64_TYPES = new Set(['uint64', 'fixed64']);
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

type Obj = Record<string, unknown>;

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class JsonWalker {
  constructor(private readonly unknownFields: 'error' | 'ignore') {}

  message(type: protobuf.Type, json: unknown, where: string): Obj {
    if (!isPlainObject(json)) {
      throw new OtlpDecodeError(`${where}: expected a JSON object for ${type.name}, got ${describe(json)}`);
    }
    const out: Obj = {};
    for (const [key, value] of Object.entries(json)) {
      const field = Object.prototype.hasOwnProperty.call(type.fields, key) ? type.fields[key] : undefined;
      if (!field) {
        if (this.unknownFields === 'error') {
          throw new OtlpDecodeError(`${where}: unknown field ${JSON.stringify(key)} in ${type.name}`);
        }
        continue;
      }
      if (value === null) continue; // proto3 JSON: null means the default
      const at = `${where}.${key}`;
      if (field.map) throw new OtlpDecodeError(`${at}: map fields are not supported`);
      if (field.repeated) {
        if (!Array.isArray(value)) throw new OtlpDecodeError(`${at}: expected an array, got ${describe(value)}`);
        out[key] = value.map((v, i) => this.value(field, v, `${at}[${i}]`));
      } else {
        out[key] = this.value(field, value, at);
      }
    }
    for (const oneof of type.oneofsArray) {
      const set = oneof.oneof.filter((name) => out[name] !== undefined);
      if (set.length > 1) {
        throw new OtlpDecodeError(`${where}: oneof ${oneof.name} has several members set (${set.join(', ')})`);
      }
    }
    return out;
  }

  private value(field: protobuf.Field, v: unknown, at: string): unknown {
    field.resolve();
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Type) return this.message(rt, v, at);
    if (rt instanceof protobuf.Enum) return enumValue(rt, v, at);
    const t = field.type;
    if (t === 'string') {
      if (typeof v !== 'string') throw new OtlpDecodeError(`${at}: expected a string, got ${describe(v)}`);
      return v;
    }
    if (t === 'bool') {
      if (typeof v !== 'boolean') throw new OtlpDecodeError(`${at}: expected a boolean, got ${describe(v)}`);
      return v;
    }
    if (t === 'bytes') {
      if (typeof v !== 'string') throw new OtlpDecodeError(`${at}: expected a string, got ${describe(v)}`);
      return HEX_ID_FIELDS.has(field.name) ? hexToBytes(v, at) : base64ToBytes(v, at);
    }
    if (t === 'double' || t === 'float') return floatValue(v, at);
    if (INT32_TYPES.has(t)) return int32Value(v, at, -(2 ** 31), 2 ** 31 - 1);
    if (UINT32_TYPES.has(t)) return int32Value(v, at, 0, 2 ** 32 - 1);
    if (INT64_TYPES.has(t)) return int64Value(v, at, -(2n ** 63n), 2n ** 63n - 1n);
    if (UINT64_TYPES.has(t)) return int64Value(v, at, 0n, 2n ** 64n - 1n);
    throw new OtlpDecodeError(`${at}: unsupported field type ${t}`);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function enumValue(e: protobuf.Enum, v: unknown, at: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v; // proto3 enums are open
  if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(e.values, v)) return e.values[v]!;
  throw new OtlpDecodeError(`${at}: expected an integer or a ${e.name} name, got ${describe(v)}`);
}

function floatValue(v: unknown, at: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new OtlpDecodeError(`${at}: expected a number, got ${describe(v)}`);
}

function int32Value(v: unknown, at: string, min: number, max: number): number {
  const n = typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new OtlpDecodeError(`${at}: expected an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return n;
}

function int64Value(v: unknown, at: string, min: bigint, max: bigint): bigint {
  let n: bigint | undefined;
  if (typeof v === 'string' && DECIMAL.test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  if (n === undefined || n < min || n > max) {
    throw new OtlpDecodeError(`${at}: expected a 64-bit integer (decimal string or number), got ${describe(v)}`);
  }
  return n;
}

function hexToBytes(s: string, at: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new OtlpDecodeError(`${at}: expected hex digits, got ${describe(s)}`);
  }
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function base64ToBytes(s: string, at: string): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw new OtlpDecodeError(`${at}: expected base64, got ${describe(s)}`);
  return Uint8Array.from(Buffer.from(s, 'base64'));
}

// ---------------------------------------------------------------------------------------------
// Request message (protobufjs message or walked JSON) → DecodedSpan[]

/** A field that was set: an own property that is neither undefined nor null. */
function get(o: unknown, name: string): unknown {
  if (!isPlainObjectLike(o) || !Object.prototype.hasOwnProperty.call(o, name)) return undefined;
  const v = o[name];
  return v === null ? undefined : v;
}

/** protobufjs messages are class instances, walked JSON plain objects: both are objects. */
function isPlainObjectLike(o: unknown): o is Obj {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

function list(o: unknown, name: string): unknown[] {
  const v = get(o, name);
  return Array.isArray(v) ? v : [];
}

function str(o: unknown, name: string): string {
  const v = get(o, name);
  return typeof v === 'string' ? v : '';
}

function num(o: unknown, name: string): number {
  const v = get(o, name);
  return typeof v === 'number' ? v : 0;
}

/** A 64-bit integer as protobufjs (Long, or number without long.js) or the JSON walker (bigint) gives it. */
function toBigInt(v: unknown): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (isPlainObjectLike(v) && typeof v.low === 'number' && typeof v.high === 'number') {
    const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    return v.unsigned === true ? bits : BigInt.asIntN(64, bits);
  }
  throw new OtlpDecodeError(`not a 64-bit integer: ${describe(v)}`);
}

function bytesToHex(v: unknown): string {
  if (v === undefined) return '';
  if (!(v instanceof Uint8Array)) throw new OtlpDecodeError(`not bytes: ${describe(v)}`);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
}

function id(o: unknown, name: string, bytes: number, where: string, optional: boolean): string | undefined {
  const hex = bytesToHex(get(o, name));
  if (hex === '' && optional) return undefined;
  if (hex.length !== bytes * 2) {
    throw new OtlpDecodeError(`${where}.${name}: expected ${bytes} bytes, got ${hex.length / 2}`);
  }
  if (/^0+$/.test(hex)) throw new OtlpDecodeError(`${where}.${name}: all zeros is not a valid id`);
  return hex;
}

function anyValue(v: unknown, where: string, nested: boolean): AttributeValue {
  const s = get(v, 'stringValue');
  if (s !== undefined) return s as string;
  const b = get(v, 'boolValue');
  if (b !== undefined) return b as boolean;
  const i = get(v, 'intValue');
  if (i !== undefined) {
    const n = toBigInt(i);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  }
  const d = get(v, 'doubleValue');
  if (d !== undefined) return d as number;
  const arr = get(v, 'arrayValue');
  if (arr !== undefined) {
    if (nested) throw new OtlpDecodeError(`${where}: nested arrays are not supported`);
    return list(arr, 'values').map((e, k) => anyValue(e, `${where}[${k}]`, true) as AttributeScalar);
  }
  if (get(v, 'kvlistValue') !== undefined) throw new OtlpDecodeError(`${where}: kvlistValue is not supported`);
  if (get(v, 'bytesValue') !== undefined) throw new OtlpDecodeError(`${where}: bytesValue is not supported`);
  throw new OtlpDecodeError(`${where}: empty AnyValue`);
}

function attributes(o: unknown, name: string, where: string): Attributes {
  const out: Attributes = {};
  list(o, name).forEach((kv, k) => {
    const key = str(kv, 'key');
    const at = `${where}.${name}[${k}]`;
    if (key === '') throw new OtlpDecodeError(`${at}: empty attribute key`);
    if (Object.prototype.hasOwnProperty.call(out, key)) {
      throw new OtlpDecodeError(`${at}: duplicate attribute key ${JSON.stringify(key)}`);
    }
    out[key] = anyValue(get(kv, 'value'), `${at}(${key})`, false);
  });
  return out;
}

function spansFromRequest(req: unknown): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  list(req, 'resourceSpans').forEach((rs, r) => {
    const rsAt = `resourceSpans[${r}]`;
    const resource = attributes(get(rs, 'resource'), 'attributes', `${rsAt}.resource`);
    list(rs, 'scopeSpans').forEach((ss, s) => {
      const ssAt = `${rsAt}.scopeSpans[${s}]`;
      const sc = get(ss, 'scope');
      const scope: DecodedSpan['scope'] = { name: str(sc, 'name') };
      const version = str(sc, 'version');
      if (version !== '') scope.version = version;
      list(ss, 'spans').forEach((sp, k) => {
        const at = `${ssAt}.spans[${k}]`;
        const st = get(sp, 'status');
        const status: DecodedSpan['status'] = { code: num(st, 'code') };
        const message = str(st, 'message');
        if (message !== '') status.message = message;
        out.push({
          traceId: id(sp, 'traceId', 16, at, false)!,
          spanId: id(sp, 'spanId', 8, at, false)!,
          parentSpanId: id(sp, 'parentSpanId', 8, at, true),
          name: str(sp, 'name'),
          kind: num(sp, 'kind'),
          startNs: toBigInt(get(sp, 'startTimeUnixNano')),
          endNs: toBigInt(get(sp, 'endTimeUnixNano')),
          attributes: attributes(sp, 'attributes', at),
          status,
          resource,
          scope,
          events: list(sp, 'events').map((ev, e) => ({
            name: str(ev, 'name'),
            timeNs: toBigInt(get(ev, 'timeUnixNano')),
            attributes: attributes(ev, 'attributes', `${at}.events[${e}]`),
          })),
          links: list(sp, 'links').map((ln, l) => ({
            traceId: id(ln, 'traceId', 16, `${at}.links[${l}]`, false)!,
            spanId: id(ln, 'spanId', 8, `${at}.links[${l}]`, false)!,
            attributes: attributes(ln, 'attributes', `${at}.links[${l}]`),
          })),
          flags: num(sp, 'flags'),
        });
      });
    });
  });
  return out;
}
