// Span times are wall-clock within 1 ms. A Go program reads CLOCK_REALTIME (time.Now) right
// before it starts a child, in the child's main, at the child's end and right after reaping
// it; the child's process span must fit those readings, and the whole trace must fit the time
// the test saw gostall run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { buildGoHelper, parseClockLines } from './go-helper.js';
import { childrenOf, msToNs, readTraceFile, rootSpan, runGostall, type GostallRun } from './harness.js';

const MS = 1_000_000n;

let work: string;
let run: GostallRun;
let spans: DecodedSpan[];
let t: Record<string, bigint>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-clock-'));
  const helper = await buildGoHelper(work);
  const out = join(work, 'clock.jsonl');
  run = await runGostall(['run', '--out', out, '--', helper, 'clock']);
  spans = await readTraceFile(out);
  t = parseClockLines(run.stdout.toString());
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('span times against the clock the traced programs read', () => {
  it('ran the program and its child', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(Object.keys(t).sort()).toEqual(['child-end', 'child-start', 'driver-end', 'driver-start', 'reaped', 'spawn']);
  });

  it('the child starts after the parent asked for it and before its main ran (±1 ms)', () => {
    const child = childrenOf(spans, rootSpan(spans)).find((s) => s.name === 'helper');
    expect(child).toBeDefined();
    expect(child!.startNs).toBeGreaterThanOrEqual(t.spawn! - MS);
    expect(child!.startNs).toBeLessThanOrEqual(t['child-start']! + MS);
    // Measured here: how far the span start lies from the parent's reading (fork + exec latency).
    console.log(`child span start − spawn reading: ${Number(child!.startNs - t.spawn!) / 1e3} µs; ` +
      `reaped reading − child span end: ${Number(t.reaped! - child!.endNs) / 1e3} µs`);
  });

  it('the child ends after its last reading and before its parent reaped it (±1 ms)', () => {
    const child = childrenOf(spans, rootSpan(spans)).find((s) => s.name === 'helper')!;
    expect(child.endNs).toBeGreaterThanOrEqual(t['child-end']! - MS);
    expect(child.endNs).toBeLessThanOrEqual(t.reaped! + MS);
  });

  it('the child span lasts what the child measured itself, give or take its start-up and exit', () => {
    const child = childrenOf(spans, rootSpan(spans)).find((s) => s.name === 'helper')!;
    const spanNs = child.endNs - child.startNs;
    expect(spanNs).toBeGreaterThanOrEqual(t['child-end']! - t['child-start']! - MS);
    expect(spanNs).toBeLessThanOrEqual(t.reaped! - t.spawn! + 2n * MS);
  });

  it('the root span covers the program and lies within the time the test saw gostall run', () => {
    const root = rootSpan(spans);
    expect(root.startNs).toBeLessThanOrEqual(t['driver-start']! + MS);
    expect(root.endNs).toBeGreaterThanOrEqual(t['driver-end']! - MS);
    expect(root.startNs).toBeGreaterThanOrEqual(msToNs(run.startMs) - MS);
    expect(root.endNs).toBeLessThanOrEqual(msToNs(run.endMs + 1) + MS);
    // Measured here: gostall's start-up (probes attached, command released) and its tail (drain, export).
    console.log(`gostall start → command released: ${Number(root.startNs - msToNs(run.startMs)) / 1e6} ms; ` +
      `command exit → gostall exit: ${Number(msToNs(run.endMs) - root.endNs) / 1e6} ms`);
  });
});
