// A syscall that is slow for real (a FUSE filesystem that sleeps in getattr) becomes an
// evidence span under the process that made it, named after the call, with the file it was
// about. (That local disk makes no such span is checked on a whole go build in go-build.kernel.test.ts.)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSlowFuse, type SlowFuseMount } from '../support/faults/slowFuse.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { buildGoHelper } from './go-helper.js';
import { childrenOf, readTraceFile, rootSpan, runGostall, type GostallRun } from './harness.js';

const GETATTR_DELAY_MS = 120;

let work: string;
let fuse: SlowFuseMount | undefined;
let onFuse: { run: GostallRun; spans: DecodedSpan[] };
let slowFile: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-slow-'));
  const helper = await buildGoHelper(work);
  const backing = join(work, 'backing');
  await mkdir(join(backing, 'pkg'), { recursive: true });
  await writeFile(join(backing, 'pkg', 'go.mod'), 'module example.com/pkg\n');
  fuse = await mountSlowFuse({ backingDir: backing, mountPoint: join(work, 'mnt'), getattrDelayMs: GETATTR_DELAY_MS });
  slowFile = join(fuse.mountPoint, 'pkg', 'go.mod');

  const fuseOut = join(work, 'fuse.jsonl');
  const fuseRun = await runGostall(['run', '--out', fuseOut, '--', helper, 'stat', slowFile]);
  onFuse = { run: fuseRun, spans: await readTraceFile(fuseOut) };

}, 240_000);

afterAll(async () => {
  await fuse?.restore();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('os.Stat on a FUSE mount that takes 120 ms per lookup', () => {
  it('ran', () => {
    expect(onFuse.run.code, onFuse.run.stderr).toBe(0);
  });

  it('is a newfstatat span under the process, naming the file, at least as long as the server slept', () => {
    const helper = rootSpan(onFuse.spans);
    const stats = childrenOf(onFuse.spans, helper).filter((s) => s.name === 'newfstatat' && s.attributes['file.path'] === slowFile);
    expect(stats, onFuse.spans.map((s) => `${s.name} ${s.attributes['file.path'] ?? ''}`).join('\n')).toHaveLength(1);
    const stat = stats[0]!;
    expect(stat.endNs - stat.startNs).toBeGreaterThanOrEqual(BigInt(GETATTR_DELAY_MS) * 1_000_000n);
    expect(stat.attributes['gostall.syscall.latency_ns']).toBeGreaterThanOrEqual(GETATTR_DELAY_MS * 1e6);
    expect(stat.attributes['thread.id']).toEqual(expect.any(Number));
    expect(stat.startNs).toBeGreaterThanOrEqual(helper.startNs);
    expect(stat.endNs).toBeLessThanOrEqual(helper.endNs);
  });

  it('is in the summary among the slowest operations', () => {
    expect(onFuse.run.stderr).toMatch(new RegExp(`newfstatat "${slowFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
  });
});
