/**
 * Issue 2 item 7 (2 and 3b): parser and model throughput on a recorded probe stream, and
 * memory after feeding the whole stream into one process tree.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseLine } from '../src/events/parse.js';
import { createProcessTree } from '../src/model/tree.js';
import { createMountTable } from '../src/diagnose/mounts.js';
import { createResourceCache } from '../src/export/resource-cache.js';
import { createFixedClock } from '../src/model/clock.js';
import { recordedContextCollector } from '../src/pipeline/context.js';
import { createPipeline } from '../src/pipeline/pipeline.js';
import { createSlicedFeeder } from '../src/cli/sliced-feeder.js';
import type { BenchConfig } from './config.js';
import { feedLine, type FeedCounts } from './feed-model.js';
import type { MemoryMode, ModelMemoryReport } from './model-memory.js';
import { recordProbeStream, type Capture } from './record-stream.js';
import { median, round } from './stats.js';
import { synthesizeStream } from './synthesize-stream.js';

const execFileAsync = promisify(execFile);

/** Lines in one 64 KiB read from the tracer (these lines average ~110 bytes). */
const LINES_PER_READ = 600;

/** A loop over all lines; returns a number so the work cannot be optimised away. */
type Loop = (lines: readonly string[]) => number;

const LOOPS: Record<string, Loop> = {
  /** baseline: the cheapest thing any line parser must do */
  split(lines) {
    let n = 0;
    for (let i = 0; i < lines.length; i++) n += lines[i]!.split('\t').length;
    return n;
  },
  parseLine(lines) {
    let n = 0;
    for (let i = 0; i < lines.length; i++) if (parseLine(lines[i]!).ok === true) n++;
    return n;
  },
  /** parse + createProcessTree().add: the model alone */
  model(lines) {
    const tree = createProcessTree();
    const counts: FeedCounts = { lines: 0, events: 0, malformed: 0 };
    for (let i = 0; i < lines.length; i++) feedLine(tree, lines[i]!, counts);
    return counts.events;
  },
  /**
   * the pipeline's per-line work as run, agent and replay do it: validation, parse, tree,
   * roots; finished trees are dropped (maxQueuedTrees 0), so span building is not timed and
   * nothing piles up between the synchronous loops
   */
  pipeline(lines) {
    const p = createPipeline(benchPipelineOptions());
    for (let i = 0; i < lines.length; i++) p.feedLine(lines[i]!);
    return p.stats.events;
  },
  /**
   * the same through `gostall run`'s sliced feeder (src/cli/sliced-feeder.ts): the lines of
   * each read queued, then fed (run reads up to 64 KiB at a time, ~600 of these lines; it
   * feeds them after the read, here synchronously)
   */
  pipelineSliced(lines) {
    const p = createPipeline(benchPipelineOptions());
    const feeder = createSlicedFeeder((l) => p.feedLine(l));
    for (let i = 0; i < lines.length; i++) {
      feeder.push(lines[i]!);
      if (i % LINES_PER_READ === LINES_PER_READ - 1) feeder.feedAll();
    }
    feeder.feedAll();
    return p.stats.events;
  },
};

function benchPipelineOptions(): Parameters<typeof createPipeline>[0] {
  return {
    settings: {
      evidenceThresholdNs: 50e6, episodes: { minDurationNs: 2e9, mergeGapNs: 1e9, reportEveryNs: 10e9, stuckAfterNs: 1e9 },
      windowNs: 0, longLivedNs: 60e9, maxOpenTrees: 1_000_000, maxQueuedTrees: 0,
    },
    clock: createFixedClock(0), context: recordedContextCollector(() => createMountTable([])), resourceFor: createResourceCache({}),
    emit: () => {},
  };
}

function timeLoop(loop: Loop, lines: readonly string[]): { seconds: number; result: number } {
  const t0 = process.hrtime.bigint();
  const result = loop(lines);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, result };
}

export interface ParseResults {
  capture: Capture;
  streamPath: string;
  streamLines: number;
  repetitions: number;
  distinctPidsPerRepetition: number;
  eventsInStream: number;
  malformedInStream: number;
  /** tag → count in the capture */
  captureMix: Record<string, number>;
  loops: Record<string, { secondsPerRep: number[]; medianSeconds: number; linesPerSecond: number; nsPerLine: number }>;
  parseLineOverSplitTimeRatio: number;
  modelOverSplitTimeRatio: number;
  /** run's sliced feeder in front of the pipeline, against the pipeline fed directly */
  slicedOverPipelineTimeRatio: number;
  eventsPerSecondParse: number;
  eventsPerSecondModel: number;
  memory: Record<MemoryMode, ModelMemoryReport | { error: string }>;
}

function mixOf(lines: readonly string[]): Record<string, number> {
  const mix: Record<string, number> = {};
  for (const l of lines) {
    const tab = l.indexOf('\t');
    const tag = tab === -1 ? (l.startsWith('Lost') ? 'Lost' : 'other') : l.slice(0, tab);
    mix[tag] = (mix[tag] ?? 0) + 1;
  }
  return mix;
}

export async function benchParseThroughput(cfg: BenchConfig, log: (line: string) => void): Promise<ParseResults> {
  log(`parse: recording a probe stream of go build -a ${cfg.pkgs.join(' ')}${cfg.rerecord ? '' : ' (or reusing one)'}`);
  const capture = await recordProbeStream({ outDir: cfg.outDir, pkgs: cfg.pkgs, rerecord: cfg.rerecord, workDir: join(cfg.outDir, 'work') });
  const captureLines = readFileSync(capture.path, 'utf8').split('\n').filter((l) => l.length > 0);
  log(`parse: capture has ${captureLines.length} lines${capture.reused ? ' (reused)' : ''}; synthesizing ${cfg.streamLines}`);
  const synth = synthesizeStream(captureLines, cfg.streamLines);
  const streamPath = join(cfg.outDir, 'stream.txt');
  writeFileSync(streamPath, synth.lines.join('\n') + '\n', { mode: 0o600 });
  const lines = synth.lines;

  // Warm up every loop (JIT), then time them in rotating order so drift hits all alike.
  const names = Object.keys(LOOPS);
  const results: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const outputs: Record<string, number> = {};
  for (const n of names) outputs[n] = timeLoop(LOOPS[n]!, lines).result;
  for (let rep = 0; rep < cfg.parseReps; rep++) {
    const order = names.map((_, i) => names[(i + rep) % names.length]!);
    for (const n of order) results[n]!.push(timeLoop(LOOPS[n]!, lines).seconds);
  }
  const counts: FeedCounts = { lines: 0, events: 0, malformed: 0 };
  const tree = createProcessTree();
  for (const l of lines) feedLine(tree, l, counts);

  const loops: ParseResults['loops'] = {};
  for (const n of names) {
    const med = median(results[n]!);
    loops[n] = { secondsPerRep: results[n]!.map((s) => round(s, 4)), medianSeconds: round(med, 4), linesPerSecond: Math.round(lines.length / med), nsPerLine: round((med * 1e9) / lines.length, 1) };
    log(`parse: ${n.padEnd(9)} median ${med.toFixed(3)} s over ${lines.length} lines (${Math.round(lines.length / med).toLocaleString('en-US')} lines/s)`);
  }

  const memory = {} as ParseResults['memory'];
  for (const mode of ['retain', 'release'] as const) {
    log(`parse: memory after streaming the whole file into one tree, ${mode} mode (child process)`);
    try {
      const every = Math.max(1, Math.floor(cfg.streamLines / 4));
      const { stdout } = await execFileAsync(process.execPath, ['--expose-gc', join(cfg.root, 'dist/bench/model-memory.js'), streamPath, mode, String(every)], { maxBuffer: 1 << 20 });
      memory[mode] = JSON.parse(stdout) as ModelMemoryReport;
    } catch (err) {
      memory[mode] = { error: (err as Error).message };
    }
  }

  const med = (n: string) => loops[n]!.medianSeconds;
  return {
    capture,
    streamPath,
    streamLines: lines.length,
    repetitions: synth.repetitions,
    distinctPidsPerRepetition: synth.distinctPids,
    eventsInStream: counts.events,
    malformedInStream: counts.malformed,
    captureMix: mixOf(captureLines),
    loops,
    parseLineOverSplitTimeRatio: round(med('parseLine') / med('split'), 2),
    modelOverSplitTimeRatio: round(med('model') / med('split'), 2),
    slicedOverPipelineTimeRatio: round(med('pipelineSliced') / med('pipeline'), 3),
    eventsPerSecondParse: Math.round(outputs.parseLine! / med('parseLine')),
    eventsPerSecondModel: Math.round(counts.events / med('model')),
    memory,
  };
}
