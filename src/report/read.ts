/**
 * Reads OTLP JSON lines (what `run --out` writes: one ExportTraceServiceRequest per line) into
 * plain spans. A trace file is untrusted input: lines that are not valid requests are counted
 * and skipped, over-long lines are skipped without being held in memory, and every string and
 * array kept is truncated, so a hostile file costs bounded memory per span.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export type AttrValue = string | number | boolean | AttrValue[];

export interface ReportSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** Unix epoch nanoseconds, exact */
  startNs: bigint;
  endNs: bigint;
  attributes: Map<string, AttrValue>;
  /** OTLP status code: 2 = ERROR */
  statusCode: number;
  events: { name: string; attributes: Map<string, AttrValue> }[];
  resource: Map<string, AttrValue>;
}

export interface ReadResult {
  spans: ReportSpan[];
  /** lines skipped, with why (first few reasons kept) */
  malformedLines: number;
  problems: string[];
}

/** Longest line read (a request of ~100k spans); longer ones are skipped unread. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Strings kept from a trace are cut to this many characters (gostall itself writes ≤ 4096). */
export const MAX_STRING_CHARS = 4096;
const MAX_ARRAY_ITEMS = 256;
const MAX_ATTRIBUTES = 256;
const MAX_EVENTS = 64;
const MAX_PROBLEMS = 5;
const ID = /^[0-9a-f]{16}([0-9a-f]{16})?$/i;

/** Read every source (`-` is stdin) in order. */
export async function readOtlpJsonLines(sources: { name: string; stream?: Readable }[]): Promise<ReadResult> {
  const out: ReadResult = { spans: [], malformedLines: 0, problems: [] };
  for (const src of sources) {
    const stream = src.stream ?? (src.name === '-' ? process.stdin : createReadStream(src.name));
    let lineNo = 0;
    for await (const line of boundedLines(stream)) {
      lineNo++;
      if (line === undefined) { skip(out, `${src.name}:${lineNo}: line longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB`); continue; }
      if (line.trim() === '') continue;
      const err = addRequest(out.spans, line);
      if (err !== undefined) skip(out, `${src.name}:${lineNo}: ${err}`);
    }
  }
  return out;
}

function skip(out: ReadResult, why: string): void {
  out.malformedLines++;
  if (out.problems.length < MAX_PROBLEMS) out.problems.push(why);
}

/** Lines of a byte stream; undefined stands for a line over MAX_LINE_BYTES (dropped as it streams). */
async function* boundedLines(stream: Readable): AsyncGenerator<string | undefined> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10)) {
      const piece = buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
      if (overflow || size + piece.length > MAX_LINE_BYTES) yield undefined;
      else yield Buffer.concat([...parts, piece]).toString('utf8');
      parts = []; size = 0; overflow = false;
    }
    if (overflow) continue;
    if (size + buf.length > MAX_LINE_BYTES) { overflow = true; parts = []; size = 0; continue; }
    parts.push(buf); size += buf.length;
  }
  if (overflow) yield undefined;
  else if (size > 0) yield Buffer.concat(parts).toString('utf8');
}

type Json = unknown;
const isObj = (x: Json): x is Record<string, Json> => typeof x === 'object' && x !== null && !Array.isArray(x);
const arr = (x: Json): Json[] => (Array.isArray(x) ? x : []);
const str = (x: Json): string => (typeof x === 'string' ? x : '');

/** Parse one request line; returns why it was rejected, or undefined. */
function addRequest(spans: ReportSpan[], line: string): string | undefined {
  let req: Json;
  try { req = JSON.parse(line); } catch (err) {
    return `not JSON (${(err as Error).message.slice(0, 80)}); a truncated or corrupted line?`;
  }
  if (!isObj(req) || !Array.isArray(req.resourceSpans)) return 'not an OTLP ExportTraceServiceRequest (no resourceSpans)';
  let bad = 0;
  for (const rs of req.resourceSpans) {
    if (!isObj(rs)) { bad++; continue; }
    const resource = attributes(isObj(rs.resource) ? rs.resource.attributes : undefined);
    for (const ss of arr(rs.scopeSpans ?? rs.instrumentationLibrarySpans)) {
      if (!isObj(ss)) { bad++; continue; }
      for (const s of arr(ss.spans)) {
        const span = toSpan(s, resource);
        if (span) spans.push(span); else bad++;
      }
    }
  }
  return bad > 0 ? `${bad} span${bad === 1 ? '' : 's'} without valid ids or times skipped` : undefined;
}

function toSpan(s: Json, resource: Map<string, AttrValue>): ReportSpan | undefined {
  if (!isObj(s)) return undefined;
  const traceId = str(s.traceId).toLowerCase();
  const spanId = str(s.spanId).toLowerCase();
  const parent = str(s.parentSpanId).toLowerCase();
  const startNs = nanos(s.startTimeUnixNano);
  const endNs = nanos(s.endTimeUnixNano);
  if (!ID.test(traceId) || traceId.length !== 32 || !ID.test(spanId) || spanId.length !== 16) return undefined;
  if (startNs === undefined || endNs === undefined) return undefined;
  const status = isObj(s.status) ? s.status.code : undefined;
  return {
    traceId, spanId, parentSpanId: parent.length === 16 && ID.test(parent) ? parent : '',
    name: cut(str(s.name)) || '(unnamed)', startNs, endNs: endNs < startNs ? startNs : endNs,
    attributes: attributes(s.attributes),
    statusCode: status === 2 || status === 'STATUS_CODE_ERROR' ? 2 : 0,
    events: arr(s.events).slice(0, MAX_EVENTS).filter(isObj).map((e) => ({ name: cut(str(e.name)), attributes: attributes(e.attributes) })),
    resource,
  };
}

/** OTLP/JSON times are decimal strings (numbers from lax writers are accepted too). */
function nanos(x: Json): bigint | undefined {
  if (typeof x === 'string' && /^\d{1,20}$/.test(x)) return BigInt(x);
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
  return undefined;
}

function cut(s: string): string {
  return s.length > MAX_STRING_CHARS ? `${s.slice(0, MAX_STRING_CHARS)}…` : s;
}

function attributes(list: Json): Map<string, AttrValue> {
  const m = new Map<string, AttrValue>();
  for (const kv of arr(list)) {
    if (m.size >= MAX_ATTRIBUTES) break;
    if (!isObj(kv) || typeof kv.key !== 'string') continue;
    const v = anyValue(kv.value, 0);
    if (v !== undefined) m.set(cut(kv.key), v);
  }
  return m;
}

/** An OTLP AnyValue; 64-bit ints arrive as strings and become numbers (exact below 2^53). */
function anyValue(v: Json, depth: number): AttrValue | undefined {
  if (!isObj(v) || depth > 2) return undefined;
  if (typeof v.stringValue === 'string') return cut(v.stringValue);
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  if (isObj(v.arrayValue)) {
    const items = arr(v.arrayValue.values).slice(0, MAX_ARRAY_ITEMS).map((x) => anyValue(x, depth + 1));
    return items.filter((x): x is AttrValue => x !== undefined);
  }
  return undefined;
}
