/**
 * Reads the root span of a gostall --out file (OTLP JSON lines) with plain JSON.parse: its
 * duration is the traced command's own runtime (release of the shim to its exit) and its
 * attributes carry gostall.lost_events and gostall.malformed_records.
 */
import { readFileSync } from 'node:fs';

interface JsonAnyValue { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean }
interface JsonSpan {
  name: string; parentSpanId?: string; startTimeUnixNano: string | number; endTimeUnixNano: string | number;
  attributes?: { key: string; value: JsonAnyValue }[];
}
interface JsonRequest { resourceSpans?: { scopeSpans?: { spans?: JsonSpan[] }[] }[] }

export interface RootSpanInfo {
  name: string;
  durationNs: number;
  startEpochMillis: number;
  endEpochMillis: number;
  spanCount: number;
  attributes: Record<string, string | number | boolean>;
}

function scalar(v: JsonAnyValue): string | number | boolean | undefined {
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return v.stringValue;
}

export function readRootSpan(path: string): RootSpanInfo | undefined {
  let root: JsonSpan | undefined;
  let spanCount = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as JsonRequest;
    for (const rs of req.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          spanCount++;
          if (!span.parentSpanId && !root) root = span;
        }
      }
    }
  }
  if (!root) return undefined;
  const attributes: Record<string, string | number | boolean> = {};
  for (const a of root.attributes ?? []) {
    const v = scalar(a.value);
    if (v !== undefined) attributes[a.key] = v;
  }
  const start = BigInt(root.startTimeUnixNano);
  const end = BigInt(root.endTimeUnixNano);
  return {
    name: root.name, durationNs: Number(end - start), startEpochMillis: Number(start / 1_000_000n), endEpochMillis: Number(end / 1_000_000n),
    spanCount, attributes,
  };
}
