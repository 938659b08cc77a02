// The agent's path from records to spans with a build history (no kernel needed): three `go
// build ./...` of the same module seen host-wide, as the probe prints them (exec records,
// compiles, the go command's cache lookups): with GOFLAGS X, with a new Y (named, no cause:
// the first build with Y could not have hit), and with X again while its entries are gone
// (go.cache_churn: X was built here before) — the pipeline run uses, with the agent's history.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/pipeline/pipeline.js';
import { recordedContextCollector } from '../../src/pipeline/context.js';
import { createBuildHistory } from '../../src/pipeline/build-history.js';
import { createResourceCache } from '../../src/export/resource-cache.js';
import { createMountTable } from '../../src/diagnose/mounts.js';
import { createFixedClock } from '../../src/model/clock.js';
import { r, rec } from '../agent/stream.js';

const S = 1e9;
const T0 = 1000 * S;
const TOOL = '/usr/lib/go-1.19/pkg/tool/linux_amd64';
const HASH = (n: number): string => n.toString(16).padStart(64, 'a');

/** An exec whose argv is printed in 128-byte chunks, as the probe does for long command lines. */
function execLong(ts: number, pid: number, ppid: number, argv: string[], filename: string): string[] {
  const args = Buffer.from(`${argv.join('\0')}\0`);
  const comm = filename.split('/').pop()!.slice(0, 15);
  const lines = [['E', ts, pid, pid, ppid, 0, args.length, r(comm, 16), r(filename, 128)].join('\t')];
  for (let off = 0; off < args.length; off += 128) lines.push(['V', pid, off, r(args.subarray(off, off + 128))].join('\t'));
  return lines;
}

/** A go build of two packages by go process pid at t, missing `misses` cache entries. */
function goBuild(pid: number, t: number, misses: number): string[] {
  const lines: string[] = [rec.root(t, pid, 1), ...execLong(t + 1e6, pid, 1, ['go', 'build', './...'], '/usr/bin/go')];
  for (let i = 0; i < misses; i++) lines.push(['H', t + 2e6 + i, pid, -2, 0, `${HASH(pid + i).slice(0, 2)}/${HASH(pid + i)}-a`].join('\t'));
  ['p1', 'p2'].forEach((p, i) => {
    const c = pid + 1 + i;
    lines.push(rec.fork(t + 3e6, pid, c), ...execLong(t + 4e6, c, pid, ['compile', '-o', `/tmp/go-build1/b00${i}/_pkg_.a`, '-p', `example.org/churn/${p}`, '-lang=go1.19', '-pack', `./${p}/p.go`], `${TOOL}/compile`),
      rec.exit(t + 50e6, c));
  });
  lines.push(rec.exit(t + 100e6, pid));
  return lines;
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'gostall-rebuild-stream-'));
  writeFileSync(join(work, 'go.mod'), 'module example.org/churn\n');
  for (const p of ['p1', 'p2']) { mkdirSync(join(work, p)); writeFileSync(join(work, p, 'p.go'), `package ${p}\n`); }
});
afterEach(() => { rmSync(work, { recursive: true, force: true }); });

/** The agent's pipeline (episodes, many roots) over recorded readings, with a build history in the test's directory. */
function agentPipeline() {
  const spans: ReadableSpan[] = [];
  const context = recordedContextCollector(() => createMountTable([{ mountPoint: '/', fsType: 'ext4', source: '/dev/sda', majMin: '8:0', root: '/', superOptions: 'rw' }]));
  const core = createPipeline({
    settings: {
      evidenceThresholdNs: 50e6, episodes: { minDurationNs: 2 * S, mergeGapNs: 1 * S, reportEveryNs: 10 * S, stuckAfterNs: 1 * S },
      windowNs: 0, longLivedNs: 60 * S, maxOpenTrees: 100, maxQueuedTrees: 100,
    },
    clock: createFixedClock(1_700_000_000 * S), resourceFor: createResourceCache({}), context, emit: (s) => spans.push(...s),
    buildHistory: createBuildHistory({ dir: join(work, 'state/builds') }),
  });
  return { spans, context, core };
}

describe('an agent stream with a build history', () => {
  it('names the GOFLAGS that changed between builds of a module, and blames go.cache_churn when settings built before missed', async () => {
    const { spans, context, core } = agentPipeline();
    // what the agent read about each root when it appeared: its directory and environment
    const readings = (goflags: string) => ({ mounts: [], workspace: work, processEnvs: { launch: { GOFLAGS: goflags }, processes: [] } });
    context.record(800, readings('-mod=mod'));
    context.record(900, readings('-mod=mod -gcflags=-N'));
    context.record(1000, readings('-mod=mod'));
    for (const l of [rec.ready(T0), ...goBuild(800, T0 + 1 * S, 2), ...goBuild(900, T0 + 2 * S, 6), ...goBuild(1000, T0 + 3 * S, 6)]) core.feedLine(l);
    await core.finish(T0 + 5 * S);

    const goSpans = spans.filter((s) => s.name === 'go build');
    expect(goSpans.map((s) => s.attributes['process.pid'])).toEqual([800, 900, 1000]);
    const [first, second, third] = goSpans as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(first.attributes['go.rebuild.build']).toBe('go build ./... (example.org/churn)');
    expect(first.attributes['go.rebuild.changed']).toBeUndefined();
    expect(second.attributes['go.rebuild.changed']).toEqual(['GOFLAGS']);
    expect(second.attributes['go.rebuild.settings_seen_before']).toBe(false);
    expect(second.attributes['gostall.cause']).toBeUndefined();
    const compiles = spans.filter((s) => s.attributes['process.parent_pid'] === 900);
    expect(compiles.map((s) => s.attributes['go.rebuild.reason'])).toEqual([
      "GOFLAGS changed: '-mod=mod' → '-mod=mod -gcflags=-N'", "GOFLAGS changed: '-mod=mod' → '-mod=mod -gcflags=-N'",
    ]);
    expect(third.attributes['go.rebuild.settings_seen_before']).toBe(true);
    expect(third.attributes['gostall.cause']).toBe('go.cache_churn');
    expect(String(third.attributes['gostall.cause.evidence'])).toContain("6 of 6 build cache lookups missed (100%) where the same build at");
  });
});

describe('a go command run by a script from another directory', () => {
  it('is judged by the directory it exec\'d in (read at its exec): its module, its files; the root span lists what changed', async () => {
    const { spans, context, core } = agentPipeline();
    /** `sh -c 'cd mod && go build ./...'` started in /, the go command (pid+1) in the module */
    const script = (pid: number, t: number, goflags: string): string[] => {
      context.record(pid, { mounts: [], workspace: '/', processEnvs: { launch: { GOFLAGS: goflags }, processes: [{ pid: pid + 1, startNs: t + 2e6, cwd: work }] } });
      const go = goBuild(pid + 1, t, 2).filter((l) => !l.startsWith('G\t'));
      return [rec.root(t, pid, 1), ...rec.exec(t + 1e6, pid, 1, ['sh', '-c', 'cd mod && go build ./...'], '/bin/sh'), rec.fork(t + 2e6, pid, pid + 1),
        ...go, rec.exit(t + 200e6, pid)];
    };
    for (const l of [rec.ready(T0), ...script(700, T0 + 1 * S, '-mod=mod'), ...script(800, T0 + 2 * S, '-mod=mod -tags=foo')]) core.feedLine(l);
    await core.finish(T0 + 5 * S);
    const roots = spans.filter((s) => s.name === 'sh');
    expect(roots.map((s) => s.attributes['go.rebuild.changed'])).toEqual([undefined, ['GOFLAGS']]);
    const gos = spans.filter((s) => s.name === 'go build');
    expect(gos.map((s) => s.attributes['go.rebuild.build'])).toEqual(['go build ./... (example.org/churn)', 'go build ./... (example.org/churn)']);
  });
});
