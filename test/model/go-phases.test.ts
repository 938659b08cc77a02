// The go command's own trace (go build -debug-trace=FILE) read back: phases matched per
// worker, the loading steps folded, hostile or damaged files refused whole.
import { describe, expect, it } from 'vitest';
import { MAX_DEBUG_TRACE_EVENTS, parseGoDebugTrace } from '../../src/events/go-debug-trace.js';
import { goPhasesOf } from '../../src/model/go-phases.js';
import { debugTraceFlag } from '../../src/diagnose/context-go-debug-trace.js';

const T = 1_796_532_525_000_000; // µs of Unix time, as Go writes them
const ev = (name: string, ph: string, dtMicros: number, tid = 0) => ({ name, ph, ts: T + dtMicros, pid: 0, tid });

/** A small build as Go 1.19 writes it: the command, loading (with nested steps), the builder and two workers. */
const BUILD = [
  ev('Running build command', 'B', 0),
  ev('load.PackagesAndErrors', 'B', 10),
  ev('modload.loadImport ex.org/dt', 'B', 20),
  ev('load.loadPackageData ex.org/dt', 'B', 21),
  ev('load.loadPackageData ex.org/dt', 'E', 30),
  ev('modload.loadImport ex.org/dt', 'E', 31),
  ev('load.PackagesAndErrors', 'E', 100),
  ev('exec.Builder.Do (link-install /tmp/out)', 'B', 110),
  ev('Executing action (build internal/goarch)', 'B', 111, 1),
  ev('Executing action (build ex.org/dt)', 'B', 112, 2),
  ev('Executing action (build internal/goarch)', 'E', 150, 1),
  { name: 'Executing action (build internal/goarch) -> Executing action (link-install ex.org/dt)', ph: 's', ts: T + 150, pid: 0, tid: 1, id: 1, cat: 'flow' },
  ev('Executing action (build ex.org/dt)', 'E', 400, 2),
  { name: 'Executing action (build ex.org/dt) -> Executing action (link-install ex.org/dt)', ph: 's', ts: T + 400, pid: 0, tid: 2, id: 2, cat: 'flow' },
  { name: 'Executing action (build ex.org/dt) -> Executing action (link-install ex.org/dt)', ph: 'f', ts: T + 401, pid: 0, tid: 1, id: 2, cat: 'flow', bp: 'e' },
  ev('Executing action (link-install ex.org/dt)', 'B', 401, 1),
  ev('Executing action (link-install ex.org/dt)', 'E', 900, 1),
  ev('exec.Builder.Do (link-install /tmp/out)', 'E', 901),
  ev('Running build command', 'E', 905),
];

describe('go -debug-trace phases', () => {
  it('keeps the command, loading, the builder and every action; folds the per-import steps', () => {
    const events = parseGoDebugTrace(JSON.stringify(BUILD))!;
    expect(events).toHaveLength(18); // the flows' ends ("f") are dropped: they repeat the dependent's start
    const { phases, folded, unmatched } = goPhasesOf(events);
    expect(phases.map((p) => p.name)).toEqual([
      'Running build command', 'load.PackagesAndErrors', 'exec.Builder.Do (link-install /tmp/out)',
      'Executing action (build internal/goarch)', 'Executing action (build ex.org/dt)', 'Executing action (link-install ex.org/dt)',
    ]);
    expect(folded).toBe(2);
    expect(unmatched).toBe(0);
    const dt = phases.find((p) => p.action?.target === 'ex.org/dt')!;
    expect(dt).toMatchObject({ worker: 2, action: { mode: 'build', target: 'ex.org/dt' }, startEpochNs: (T + 112) * 1000, endEpochNs: (T + 400) * 1000 });
    expect(dt.readyEpochNs).toBeUndefined(); // no dependency flows into it
    // the link was ready when the last of its dependencies finished (ex.org/dt at +400 µs, not goarch at +150)
    const link = phases.find((p) => p.action?.mode === 'link-install')!;
    expect(link.readyEpochNs).toBe((T + 400) * 1000);
    // epoch ns as doubles are exact to 256 ns: 1 µs of wait, within that
    expect(Math.abs(link.startEpochNs - link.readyEpochNs! - 1000)).toBeLessThanOrEqual(256);
  });

  it('reads the file of a build that was killed (the array never closed), counting what never ended', () => {
    const text = `[\n${BUILD.slice(0, 10).map((e) => JSON.stringify(e)).join('\n,')}\n,`;
    const { phases, unmatched } = goPhasesOf(parseGoDebugTrace(text)!);
    expect(phases.map((p) => p.name)).toEqual(['load.PackagesAndErrors']);
    expect(unmatched).toBe(4);
  });

  it('refuses anything but a trace-event array, whole', () => {
    for (const bad of ['{}', 'not json', '[{"name":"x","ph":"B","ts":"soon"}]', '[{"name":"x","ph":"B","ts":-1}]', '[1,2]',
      JSON.stringify([{ name: 'x'.repeat(5000), ph: 'B', ts: 1 }])]) {
      expect(parseGoDebugTrace(bad), bad.slice(0, 40)).toBeUndefined();
    }
    const tooMany = `[${Array.from({ length: MAX_DEBUG_TRACE_EVENTS + 1 }, () => '{"name":"x","ph":"B","ts":1}').join(',')}]`;
    expect(parseGoDebugTrace(tooMany)).toBeUndefined();
  });

  it('finds the flag in every form the go command takes', () => {
    expect(debugTraceFlag(['go', 'build', '-debug-trace=t.json', './...'])).toBe('t.json');
    expect(debugTraceFlag(['go', 'build', '--debug-trace=/tmp/t.json'])).toBe('/tmp/t.json');
    expect(debugTraceFlag(['go', 'build', '-debug-trace', 't.json', '.'])).toBe('t.json');
    expect(debugTraceFlag(['go', 'build', './...'])).toBeUndefined();
    expect(debugTraceFlag(['go', 'run', '.', '--', '-debug-trace=x'])).toBeUndefined();
  });
});
