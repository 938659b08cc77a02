/**
 * Span identities chosen before the spans exist. A process that runs for hours gets its
 * trace id and span id when the pipeline first sees it, so stall episodes and activity
 * windows can be exported under it while it runs; its own span, built when it exits,
 * reuses the same ids.
 */
import { randomBytes } from 'node:crypto';
import { TraceFlags, type SpanContext } from '@opentelemetry/api';
import type { ProcessNode } from '../model/process.js';

/** Random ids come from a pooled buffer: one getrandom() per 4 KiB instead of one per id. */
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) { pool = randomBytes(4096); poolAt = 0; }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  // All-zero ids are invalid in OTLP; 2^-64 odds, but cheap to rule out.
  return /^0+$/.test(hex) ? randomHex(bytes) : hex;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

/** A sampled span context of the given ids. */
export function spanContextOf(traceId: string, spanId: string): SpanContext {
  return { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
}

/** Pre-assigned ids per process; a process's trace is its root's. */
export interface IdRegistry {
  of(p: ProcessNode): SpanContext;
}

export function createIdRegistry(): IdRegistry {
  const ids = new WeakMap<ProcessNode, SpanContext>();
  function of(p: ProcessNode): SpanContext {
    let known = ids.get(p);
    if (known) return known;
    const traceId = p.parent ? of(rootOf(p)).traceId : newTraceId();
    known = spanContextOf(traceId, newSpanId());
    ids.set(p, known);
    return known;
  }
  return { of };
}

export function rootOf(p: ProcessNode): ProcessNode {
  let r = p;
  while (r.parent) r = r.parent;
  return r;
}
