// The pipeline on a recorded `gostall run` capture (no kernel needed), read the way `gostall
// replay` reads it: the root is the R record's pid and starts when it execs the command, not
// while the probes attach; damaged lines and records about processes outside the trace are
// counted on the root span; a run capture gets no agent-only spans; and the context line run
// saves with its capture decides the diagnosis (mounts, workspace), not this machine.
import { Readable } from 'node:stream';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { RecordedContext } from '../../src/diagnose/context.js';
import { createMountTable, type MountEntry } from '../../src/diagnose/mounts.js';
import { createResourceCache } from '../../src/export/resource-cache.js';
import { formatClockOffsetHeader, formatContextLine } from '../../src/pipeline/recording.js';
import { replayStream, type ReplayResult } from '../../src/pipeline/replay.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { rec } from '../agent/stream.js';

const S = 1e9;
const T0 = 5000 * S;
const OFFSET = 1_700_000_000 * S - T0;
const ROOT = 4000;

const mount = (mountPoint: string, fsType: string): MountEntry => ({ mountPoint, fsType, source: 'x', majMin: '0:1', root: '/', superOptions: 'rw' });
/** this machine: nothing special mounted */
const HERE = createMountTable([mount('/', 'ext4')]);
/** the machine the capture was made on: the workspace is a FUSE mount */
const RECORDED: RecordedContext = { mounts: [mount('/', 'ext4'), mount('/mnt/slow', 'fuse.sshfs')], workspace: '/mnt/slow/ws' };

/** A run of `go list` in a workspace on a slow FUSE mount; the probes took 1 s to attach. */
function runCapture(extra: string[] = []): string[] {
  const lines = [
    formatClockOffsetHeader(OFFSET),
    'Attaching 14 probes...',
    rec.ready(T0, ROOT),
    ...rec.exec(T0 + 1 * S, ROOT, 1, ['go', 'list', './...'], '/usr/bin/go'),
    'S\t1\t4000\t4000\t1\t5\t0\t0\t-1\t\x01\x02', // control bytes: damaged
    rec.syscall(T0 + 1.1 * S, 777, 777, SC.openat, 2e6, 0, '/elsewhere'), // a process outside the trace
  ];
  for (let i = 0; i < 30; i++) lines.push(rec.syscall(T0 + 1.2 * S + (i + 1) * 200e6, ROOT, ROOT, SC.newfstatat, 200e6, 0, `/mnt/slow/ws/p${i}/go.mod`));
  lines.push(rec.sched(T0 + 8 * S, ROOT, ROOT), rec.exit(T0 + 8 * S, ROOT), ...extra);
  return lines;
}

async function replay(lines: string[]): Promise<{ spans: ReadableSpan[]; result: ReplayResult }> {
  const spans: ReadableSpan[] = [];
  const result = await replayStream(Readable.from([Buffer.from(`${lines.join('\n')}\n`, 'latin1')]), {
    settings: {
      evidenceThresholdNs: 50e6, episodes: { minDurationNs: 2 * S, mergeGapNs: 1 * S, reportEveryNs: 10 * S, stuckAfterNs: 1 * S },
      windowNs: 1 * S, longLivedNs: 60 * S, maxOpenTrees: 100, maxQueuedTrees: 100,
    },
    clockOffsetNs: undefined, fallbackOffsetNs: () => 0, resourceFor: createResourceCache({}), mounts: () => HERE,
    emit: (s) => spans.push(...s), drained: () => Promise.resolve(), pendingWrites: () => 0,
  });
  return { spans, result };
}

const rootOf = (spans: ReadableSpan[]): ReadableSpan => spans.find((s) => s.parentSpanContext === undefined)!;
const epochNs = (t: [number, number]): number => t[0] * 1e9 + t[1];

describe('a run capture through the pipeline', () => {
  it('starts the root when it execs the command, with the capture\'s clock', async () => {
    const { spans, result } = await replay(runCapture([formatContextLine(ROOT, RECORDED)]));
    expect(result.offsetSource).toBe('header');
    const root = rootOf(spans);
    expect(root.name).toBe('go list');
    expect(epochNs(root.startTime)).toBe(OFFSET + T0 + 1 * S);
    expect(epochNs(root.endTime)).toBe(OFFSET + T0 + 8 * S);
  });

  it('counts the damaged line and the record about another process on the root span', async () => {
    const { spans, result } = await replay(runCapture());
    expect(result.stats.malformedReasons.get('non-ASCII or control bytes')).toBe(1);
    const root = rootOf(spans);
    expect(root.attributes['gostall.malformed_records']).toBe(1);
    expect(root.attributes['gostall.unattributed_records']).toBe(1);
    expect(root.attributes['gostall.lost_events']).toBe(0);
  });

  it('makes no stall episodes or activity windows (those are the agent\'s)', async () => {
    const { spans } = await replay(runCapture([formatContextLine(ROOT, RECORDED)]));
    expect(spans.filter((s) => s.name.startsWith('stall ') || s.name === 'activity window')).toEqual([]);
    expect(rootOf(spans).attributes['gostall.episodes']).toBeUndefined();
  });

  it('diagnoses with the context run recorded: the slow workspace mount is fs.slow_metadata', async () => {
    const { spans } = await replay(runCapture([formatContextLine(ROOT, RECORDED)]));
    const root = rootOf(spans);
    expect(root.attributes['gostall.cause.primary']).toBe('fs.slow_metadata');
    expect(root.attributes['gostall.cause.scope']).toBe('workspace');
    expect(root.attributes['gostall.cause.mount_point']).toBe('/mnt/slow');
  });

  it('without that context knows only this machine, where the path is no FUSE mount', async () => {
    const { spans } = await replay(runCapture());
    expect(rootOf(spans).attributes['gostall.causes']).toEqual([]);
  });

  it('says why the build rebuilt as run said it: the findings of run\'s build history travel in the context line', async () => {
    const change = { id: 'env:GOFLAGS', kind: 'env' as const, name: 'GOFLAGS', before: '', after: '-tags=foo', inKeys: true, text: "GOFLAGS changed: '' → '-tags=foo'" };
    const rebuilds = [{ pid: ROOT, startNs: T0 + 1 * S, label: 'go list ./... (example.org/x)', previousAtMs: Date.UTC(2026, 0, 1), cacheChanged: false, settingsSeenBefore: true, moreChanges: 0,
      changed: [change], packages: [] as [string, string][] }];
    // run writes the context line as UTF-8; the capture is read as bytes (Latin-1 text)
    const asWritten = (line: string): string => Buffer.from(line, 'utf8').toString('latin1');
    const { spans } = await replay(runCapture([asWritten(formatContextLine(ROOT, { ...RECORDED, rebuilds }))]));
    expect(rootOf(spans).attributes['go.rebuild.changed']).toEqual(['GOFLAGS']);
    expect(rootOf(spans).attributes['go.rebuild.changes']).toEqual([change.text]);
    // a hostile one (a change of an unknown kind) makes the whole line invalid, counted
    const bad = await replay(runCapture([formatContextLine(ROOT, { ...RECORDED, rebuilds: [{ ...rebuilds[0]!, changed: [{ ...change, kind: 'evil' as 'env' }] }] })]));
    expect(bad.result.stats.malformedReasons.get('invalid #gostall context line')).toBe(1);
    expect(rootOf(bad.spans).attributes['go.rebuild.changed']).toBeUndefined();
  });

  it('refuses a context line that is not valid, and says so', async () => {
    const { spans, result } = await replay(runCapture(['#gostall context {"rootPid":4000,"mounts":"not a list"}']));
    expect(result.stats.malformedReasons.get('invalid #gostall context line')).toBe(1);
    expect(rootOf(spans).attributes['gostall.causes']).toEqual([]);
  });
});
