/**
 * The sliced feeder between run's tracer reads and its pipeline (src/cli/sliced-feeder.ts):
 * a burst of lines does not keep the next read waiting, and no line is lost or reordered.
 */
import { describe, expect, it } from 'vitest';
import { createSlicedFeeder, SLICE_MILLIS } from '../../src/cli/sliced-feeder.js';

/** A clock that moves a quarter of a millisecond each time it is looked at. */
function steppingClock(): () => number {
  let t = 0;
  return () => (t += 0.25);
}

const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** A burst of n lines pushed at once into a feeder on a stepping clock, and what it fed after the first slice. */
async function burst(n: number): Promise<{ fed: string[]; feeder: ReturnType<typeof createSlicedFeeder> }> {
  const fed: string[] = [];
  const feeder = createSlicedFeeder((l) => fed.push(l), steppingClock());
  for (const l of lines(n, 'a')) feeder.push(l);
  await Promise.resolve();
  return { fed, feeder };
}

describe('lines fed to the pipeline in slices', () => {
  it('feeds the lines of one read as soon as that read is handled, in order', async () => {
    const fed: string[] = [];
    const feeder = createSlicedFeeder((l) => fed.push(l));
    for (const l of lines(5, 'a')) feeder.push(l);
    expect(fed).toEqual([]); // not while the read is still being split into lines
    await Promise.resolve();
    expect(fed).toEqual(lines(5, 'a'));
    expect(feeder.pending).toBe(0);
  });

  it('lets the next read in between the slices of a burst, and keeps every line in order', async () => {
    const { fed, feeder } = await burst(1000);
    // the clock is looked at every 32 lines and moves 0.25 ms each time: a slice ends within ~SLICE_MILLIS
    expect(fed.length).toBeGreaterThan(0);
    expect(fed.length).toBeLessThanOrEqual(32 * (SLICE_MILLIS / 0.25 + 1));
    expect(feeder.pending).toBe(1000 - fed.length);
    // a second read arrives while the first is still being fed: it goes after it
    for (const l of lines(3, 'b')) feeder.push(l);
    while (feeder.pending > 0) await nextTurn();
    expect(fed).toEqual([...lines(1000, 'a'), ...lines(3, 'b')]);
  });

  it('feeds everything left at once when asked (before the pipeline finishes)', async () => {
    const { fed, feeder } = await burst(500);
    expect(feeder.pending).toBeGreaterThan(0);
    feeder.feedAll();
    expect(fed).toEqual(lines(500, 'a'));
    expect(feeder.pending).toBe(0);
    await nextTurn(); // the slice still scheduled finds nothing to do
    expect(fed.length).toBe(500);
  });

  it('skips a line whose processing threw and goes on with the rest', async () => {
    const fed: string[] = [];
    const feeder = createSlicedFeeder((l) => {
      if (l === 'a1') throw new Error('bad line');
      fed.push(l);
    });
    for (const l of lines(3, 'a')) feeder.push(l);
    expect(() => feeder.feedAll()).toThrow('bad line');
    feeder.feedAll();
    expect(fed).toEqual(['a0', 'a2']);
  });
});
