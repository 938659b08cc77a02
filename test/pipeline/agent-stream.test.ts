// The pipeline on a recorded agent stream (no kernel needed): what a long-lived process
// looks like while it runs. A call stuck in flight is reported every reportEvery while it
// lasts; finished children of a long-lived gopls are published while gopls still runs,
// under gopls's span; activity windows appear per window; an unfinished tree is published
// as still running when the agent stops; a root whose orphans outlive it is published
// without waiting for them, and they follow into its trace when they end.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/pipeline/pipeline.js';
import { recordedContextCollector } from '../../src/pipeline/context.js';
import { createResourceCache } from '../../src/export/resource-cache.js';
import { createMountTable } from '../../src/diagnose/mounts.js';
import { createFixedClock } from '../../src/model/clock.js';
import { rec } from '../agent/stream.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { ERRNO } from '../../src/vocabulary/errno.js';

const S = 1e9;
const T0 = 1000 * S;

function makeCore(overrides: Partial<Parameters<typeof createPipeline>[0]['settings']> = {}): { core: Pipeline; spans: ReadableSpan[] } {
  const spans: ReadableSpan[] = [];
  const core = createPipeline({
    settings: {
      evidenceThresholdNs: 50e6, episodes: { minDurationNs: 2 * S, mergeGapNs: 1 * S, reportEveryNs: 10 * S, stuckAfterNs: 1 * S },
      windowNs: 10 * S, longLivedNs: 60 * S, maxOpenTrees: 1000, maxQueuedTrees: 1000, ...overrides,
    },
    clock: createFixedClock(1_700_000_000 * S), resourceFor: createResourceCache({}),
    context: recordedContextCollector(() => createMountTable([{ mountPoint: '/', fsType: 'ext4', source: '/dev/sda', majMin: '8:0', root: '/', superOptions: 'rw' },
      { mountPoint: '/mnt/hung', fsType: 'fuse.sshfs', source: 'host:/src', majMin: '0:50', root: '/', superOptions: 'rw' }])),
    emit: (s) => spans.push(...s),
  });
  return { core, spans };
}

const feed = (core: Pipeline, lines: (string | string[])[]): void => { for (const l of lines.flat()) core.feedLine(l); };
const attr = (s: ReadableSpan, k: string): unknown => s.attributes[k];

describe('the pipeline on an agent stream', () => {
  it('reports a call stuck in flight every reportEvery, in the process\'s trace, then once more when it returns', async () => {
    const { core, spans } = makeCore();
    feed(core, [rec.ready(T0), rec.root(T0 + 1e6, 700, 1), rec.exec(T0 + 2e6, 700, 1, ['gopls'], '/usr/bin/gopls')]);
    const gopls = core.liveProcesses()[0]!;
    const stuck = { tid: 701, startNs: T0 + 1 * S, sc: SC.newfstatat, path: '/mnt/hung/go.work' };
    for (let t = 2; t <= 26; t++) core.inflight(new Map([[gopls, [stuck]]]), T0 + t * S);
    feed(core, [rec.syscall(T0 + 26.5 * S, 700, 701, SC.newfstatat, 25.5 * S, 0, '/mnt/hung/go.work')]);
    core.advance(T0 + 29 * S);
    await core.idle();
    const episodes = spans.filter((s) => s.name === 'stall stat');
    expect(episodes.map((e) => attr(e, 'gostall.episode.in_progress'))).toEqual([true, true, false]);
    const [first, second, last] = episodes as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(attr(first, 'gostall.episode.calls_in_flight')).toBe(1);
    expect(attr(first, 'gostall.episode.blocked_ns')).toBe(10 * S);
    expect(attr(second, 'gostall.episode.blocked_ns')).toBe(20 * S);
    expect(attr(last, 'gostall.episode.blocked_ns')).toBe(25.5 * S);
    expect(attr(first, 'gostall.episode.fs_type')).toBe('fuse.sshfs');
    expect(String(attr(first, 'gostall.episode.evidence'))).toMatch(/1 still in flight \(longest 10\.0+ s\), on fuse\.sshfs \/mnt\/hung, e\.g\. \/mnt\/hung\/go\.work/);
    // all three are the same episode, children of gopls's (not yet exported) span
    expect(new Set(episodes.map((e) => attr(e, 'gostall.episode.id'))).size).toBe(1);
    expect(new Set(episodes.map((e) => e.parentSpanContext?.spanId)).size).toBe(1);
    await core.finish(T0 + 30 * S);
    const goplsSpan = spans.find((s) => s.name === 'gopls')!;
    expect(goplsSpan.spanContext().spanId).toBe(first.parentSpanContext!.spanId);
    expect(goplsSpan.spanContext().traceId).toBe(first.spanContext().traceId);
    expect(attr(goplsSpan, 'gostall.process.still_running')).toBe(true);
  });

  it('publishes the finished children of a long-lived process while it runs, and forgets them', async () => {
    const { core, spans } = makeCore({ longLivedNs: 60 * S });
    feed(core, [rec.ready(T0), rec.root(T0, 800, 1), rec.exec(T0 + 1e6, 800, 1, ['gopls'], '/usr/bin/gopls')]);
    // a go list child at 70 s, long after gopls started
    let t = T0 + 70 * S;
    for (let i = 0; i < 3; i++) {
      const child = 900 + i;
      feed(core, [rec.fork(t, 800, child), rec.exec(t + 1e6, child, 800, ['go', 'list', '-json', './...'], '/usr/bin/go'),
        rec.sched(t + 500e6, child, child), rec.exit(t + 500e6, child)]);
      t += 5 * S;
      core.advance(t);
    }
    await core.idle();
    const lists = spans.filter((s) => s.name === 'go list');
    expect(lists).toHaveLength(3);
    expect(core.liveProcesses().map((p) => p.pid)).toEqual([800]);
    expect(core.stats.subtreesPublished).toBe(3);
    await core.finish(t);
    const gopls = spans.find((s) => s.name === 'gopls')!;
    for (const l of lists) {
      expect(l.parentSpanContext?.spanId).toBe(gopls.spanContext().spanId);
      expect(l.spanContext().traceId).toBe(gopls.spanContext().traceId);
      expect(attr(l, 'gostall.causes')).toBeUndefined();
    }
    expect(attr(gopls, 'gostall.agent.subtrees_published_early')).toBe(3);
    expect(spans.filter((s) => s.name === 'go list')).toHaveLength(3); // not again at the end
  });

  it('emits an activity window per window for a process that lives through it', async () => {
    const { core, spans } = makeCore({ windowNs: 10 * S });
    feed(core, [rec.ready(T0), rec.root(T0 + 1 * S, 600, 1), rec.exec(T0 + 1 * S, 600, 1, ['gopls'], '/usr/bin/gopls')]);
    for (let i = 0; i < 35; i++) {
      const ts = T0 + (2 + i) * S;
      feed(core, [rec.syscall(ts, 600, 600, SC.openat, 5e6, i % 5 === 0 ? -ERRNO.ENOENT : 0, `/src/f${i}.go`)]);
    }
    await core.idle();
    const windows = spans.filter((s) => s.name === 'activity window');
    // boundaries at 1010 s, 1020 s, 1030 s: gopls (from 1001 s) lived through the last two
    expect(windows).toHaveLength(2);
    expect(attr(windows[0]!, 'gostall.window.duration_ns')).toBe(10 * S);
    expect(attr(windows[0]!, 'gostall.window.open.slow_count')).toBe(10);
    expect(attr(windows[0]!, 'gostall.window.errno.ENOENT')).toBe(2);
  });

  it('publishes a root that exited while its child still runs without waiting for it; the orphan follows into the same trace', async () => {
    const { core, spans } = makeCore();
    feed(core, [rec.ready(T0), rec.root(T0, 800, 1), rec.exec(T0 + 1e6, 800, 1, ['gopls'], '/usr/bin/gopls'),
      rec.fork(T0 + 1 * S, 800, 900), rec.exec(T0 + 1.1 * S, 900, 800, ['go', 'list', './...'], '/usr/bin/go'),
      rec.fork(T0 + 1.5 * S, 900, 901), rec.exec(T0 + 1.6 * S, 901, 900, ['compile', '-V=full'], '/usr/lib/go/pkg/tool/linux_amd64/compile'),
      // gopls is killed; go list and its compile run on
      rec.sched(T0 + 3 * S, 800, 800), rec.exit(T0 + 3 * S, 800, 9)]);
    core.advance(T0 + 4.5 * S);
    await core.idle();
    expect(spans.find((s) => s.name === 'gopls')).toBeUndefined(); // within the grace period
    core.advance(T0 + 5.5 * S);
    await core.idle();
    const gopls = spans.find((s) => s.name === 'gopls')!;
    expect(gopls).toBeDefined();
    expect(spans.filter((s) => s.name === 'go list' || s.name === 'compile')).toEqual([]);
    expect(attr(gopls, 'gostall.agent.orphans_published_later')).toBe(1);
    expect(core.stats.orphansDetached).toBe(1);
    expect(core.stats.tracesPublished).toBe(1);
    // the orphans are still followed: the go list forks once more, then all end
    feed(core, [rec.fork(T0 + 6 * S, 900, 902), rec.exec(T0 + 6.1 * S, 902, 900, ['compile', '-V=full'], '/usr/lib/go/pkg/tool/linux_amd64/compile'),
      rec.sched(T0 + 7 * S, 902, 902), rec.exit(T0 + 7 * S, 902), rec.sched(T0 + 8 * S, 901, 901), rec.exit(T0 + 8 * S, 901),
      rec.sched(T0 + 9 * S, 900, 900), rec.exit(T0 + 9 * S, 900)]);
    core.advance(T0 + 12 * S);
    await core.idle();
    const list = spans.find((s) => s.name === 'go list')!;
    const compiles = spans.filter((s) => s.name === 'compile');
    expect(list.parentSpanContext?.spanId).toBe(gopls.spanContext().spanId);
    expect(list.spanContext().traceId).toBe(gopls.spanContext().traceId);
    expect(compiles).toHaveLength(2);
    for (const c of compiles) {
      expect(c.parentSpanContext?.spanId).toBe(list.spanContext().spanId);
      expect(c.spanContext().traceId).toBe(gopls.spanContext().traceId);
    }
    // a part of gopls's trace, not a trace of its own: no root-only attributes, same service
    expect(attr(list, 'gostall.causes')).toBeUndefined();
    expect(list.resource.attributes['service.name']).toBe('gopls');
    expect(core.stats.tracesPublished).toBe(1);
    expect(core.liveProcesses()).toEqual([]);
    expect(core.openTrees()).toBe(0);
    await core.finish(T0 + 13 * S);
    expect(spans.filter((s) => s.name === 'gopls' || s.name === 'go list')).toHaveLength(2); // nothing twice
  });

  it('treats a child whose fork record is read after its parent\'s exit as an orphan, not as part of a finished tree', async () => {
    const { core, spans } = makeCore();
    // the order CI read a Go tool that starts itself again and exits: the exit (one CPU's
    // buffer) before the fork printed just before it (another CPU's)
    feed(core, [rec.ready(T0), rec.root(T0, 800, 1), rec.exec(T0 + 1e6, 800, 1, ['tool'], '/usr/bin/tool'),
      rec.sched(T0 + 20e6, 800, 800), rec.exit(T0 + 20e6, 800),
      rec.fork(T0 + 10e6, 800, 900), rec.exec(T0 + 11e6, 900, 800, ['tool', 'child'], '/usr/bin/tool')]);
    core.advance(T0 + 1.5 * S);
    await core.idle();
    expect(spans.find((s) => s.name === 'tool')).toBeUndefined(); // not as a finished tree after 1 s
    core.advance(T0 + 2.5 * S);
    await core.idle();
    const parent = spans.find((s) => s.name === 'tool')!;
    expect(attr(parent, 'process.pid')).toBe(800);
    expect(attr(parent, 'gostall.agent.orphans_published_later')).toBe(1);
    expect(spans.some((s) => attr(s, 'process.pid') === 900)).toBe(false);
    feed(core, [rec.sched(T0 + 10 * S, 900, 900), rec.exit(T0 + 10 * S, 900, 3 << 8)]);
    core.advance(T0 + 12 * S);
    await core.idle();
    const child = spans.find((s) => attr(s, 'process.pid') === 900)!;
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(attr(child, 'process.exit.code')).toBe(3);
    expect(core.openTrees()).toBe(0);
  });
});
