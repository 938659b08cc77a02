// Build cache hits and misses from recorded H records (issue 13): what counts as a lookup,
// what does not, and how the probe's GOCACHE parameters are chosen.
import { describe, expect, it } from 'vitest';
import { parseLine } from '../../src/events/parse.js';
import type { GoCacheOpenEvent } from '../../src/events/types.js';
import { addGoCacheOpen, emptyGoCacheLookups, sumGoCache, type GoCacheLookups } from '../../src/model/gocache.js';
import { goCacheDirFromEnv, goCacheProbeArgs } from '../../src/probe-runner/gocache.js';

const HASH_A = 'ea135032650eba2f8957b8933e8dbc3fb85b6bd2c3164c9bb480c7401c6be7de';
const HASH_B = '9bc4bc09cfb2fdc0e1dba7790a2a841c90bb573ec1bb68d402e6ad4743de1590';
const entry = (hash: string, suffix = 'a'): string => `${hash.slice(0, 2)}/${hash}-${suffix}`;
const NUL_PAD = '\\x00'.repeat(11);

/** Parses probe lines as the tracer prints them and counts them for one go process. */
function count(lines: string[]): GoCacheLookups {
  const l = emptyGoCacheLookups();
  for (const line of lines) {
    const r = parseLine(line);
    if (r.ok !== true || r.event.kind !== 'gocache') throw new Error(`not an H record: ${line}`);
    addGoCacheOpen(l, r.event as GoCacheOpenEvent);
  }
  return l;
}
const h = (ret: number, write: 0 | 1, path: string): string => `H\t100\t42\t${ret}\t${write}\t${path}${NUL_PAD}`;

describe('build cache lookups from the go command\'s opens', () => {
  it('counts a first read of an action entry: found is a hit, ENOENT a miss', () => {
    const l = count([h(-2, 0, entry(HASH_A)), h(3, 0, entry(HASH_B))]);
    expect(l).toMatchObject({ hits: 1, misses: 1, writes: 0 });
    expect(sumGoCache([l])).toEqual({ hits: 1, misses: 1, writes: 0, hitRatio: 0.5 });
  });

  it('does not count the go command reading back an entry it just wrote after a miss', () => {
    // recorded order of a cold build: lookup (ENOENT), write, read back, read again
    const l = count([h(-2, 0, entry(HASH_A)), h(3, 1, entry(HASH_A)), h(3, 0, entry(HASH_A)), h(4, 0, entry(HASH_A))]);
    expect(l).toMatchObject({ hits: 0, misses: 1, writes: 1 });
  });

  it('does not count a read of an entry written without a lookup (go build -a) as a hit', () => {
    const l = count([h(3, 1, entry(HASH_B)), h(3, 0, entry(HASH_B))]);
    expect(l).toMatchObject({ hits: 0, misses: 0, writes: 1 });
    expect(sumGoCache([l])).toEqual({ hits: 0, misses: 0, writes: 1, hitRatio: undefined });
  });

  it('ignores output files, the cache\'s own files and names that are not entries', () => {
    const l = count([
      h(3, 0, entry(HASH_A, 'd')), h(3, 0, 'README'), h(3, 0, 'trim.txt'),
      h(-2, 0, `ff/${HASH_A}-a`), // directory does not match the hash: not how go names entries
      h(3, 0, `${entry(HASH_A)}.tmp`), h(3, 0, `../${entry(HASH_A)}`),
    ]);
    expect(l).toMatchObject({ hits: 0, misses: 0, writes: 0 });
    expect(sumGoCache([l, undefined])).toBeUndefined();
  });

  it('sums the go processes of a build', () => {
    const one = count([h(3, 0, entry(HASH_A))]);
    const two = count([h(3, 0, entry(HASH_A)), h(-2, 0, entry(HASH_B))]);
    expect(sumGoCache([one, two])).toEqual({ hits: 2, misses: 1, writes: 0, hitRatio: 2 / 3 });
  });
});

describe('H records from a hostile probe stream', () => {
  it.each([
    ['a return value the probe never prints', `H\t1\t42\t-13\t0\t${entry(HASH_A)}`],
    ['a write flag that is not 0 or 1', `H\t1\t42\t3\t2\t${entry(HASH_A)}`],
    ['an empty entry', 'H\t1\t42\t3\t0\t'],
    ['an entry longer than the probe reads', `H\t1\t42\t3\t0\t${'a'.repeat(200)}`],
    ['raw non-ASCII in the entry', `H\t1\t42\t3\t0\tab/\u00e9-a`],
    ['a missing field', `H\t1\t42\t3\t${entry(HASH_A)}`],
  ])('rejects %s', (_what, line) => {
    expect(parseLine(line).ok).toBe(false);
  });
});

describe('which GOCACHE the probe watches', () => {
  it('follows the go command: GOCACHE, then XDG_CACHE_HOME, then HOME', () => {
    expect(goCacheDirFromEnv({ GOCACHE: '/ci/cache', HOME: '/root' })).toBe('/ci/cache');
    expect(goCacheDirFromEnv({ XDG_CACHE_HOME: '/x', HOME: '/root' })).toBe('/x/go-build');
    expect(goCacheDirFromEnv({ HOME: '/home/ann' })).toBe('/home/ann/.cache/go-build');
    expect(goCacheDirFromEnv({ GOCACHE: 'off', HOME: '/root' })).toBeUndefined();
    expect(goCacheDirFromEnv({ GOCACHE: 'relative/dir' })).toBeUndefined();
  });

  it('passes a prefix with one trailing slash and its length, and turns off what it cannot compare safely', () => {
    expect(goCacheProbeArgs('/tmp/c/')).toEqual(['/tmp/c/', '7']);
    expect(goCacheProbeArgs('/root/.cache/go-build')).toEqual(['/root/.cache/go-build/', '22']);
    expect(goCacheProbeArgs(undefined)).toEqual(['', '0']);
    expect(goCacheProbeArgs('/')).toEqual(['', '0']);
    expect(goCacheProbeArgs('/tmp/with space')).toEqual(['', '0']);
    expect(goCacheProbeArgs('/tmp/"quote')).toEqual(['', '0']);
    expect(goCacheProbeArgs(`/${'d'.repeat(60)}`)).toEqual(['', '0']);
  });
});
