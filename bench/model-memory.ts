/**
 * Child-process entry (run with --expose-gc): streams a probe stream file line by line into
 * one process tree and reports memory at checkpoints, so the bench's own arrays do not
 * pollute the numbers. Prints one JSON object on stdout. Modes:
 *   retain   keep every tree, as `run` does until it publishes (grows with history);
 *   release  release each tree once it is complete, as a long-running agent does after
 *            publishing it (memory should follow live processes only).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ProcessNode } from '../src/model/process.js';
import { createProcessTree, walk } from '../src/model/tree.js';
import { feedLine, type FeedCounts } from './feed-model.js';
import { MIB, round } from './stats.js';

export interface MemoryCheckpoint { lines: number; rssMiB: number; heapUsedMiB: number }
export type MemoryMode = 'retain' | 'release';

export interface ModelMemoryReport {
  mode: MemoryMode;
  lines: number;
  events: number;
  malformed: number;
  seconds: number;
  linesPerSecond: number;
  roots: number;
  /** trees whose root and every descendant were seen to exit (onTreeComplete fired) */
  completedTrees: number;
  processesRetained: number;
  liveProcesses: number;
  startRssMiB: number;
  checkpoints: MemoryCheckpoint[];
  peakRssMiB: number;
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function snapshot(lines: number): MemoryCheckpoint {
  gc();
  const m = process.memoryUsage();
  return { lines, rssMiB: round(m.rss / MIB, 1), heapUsedMiB: round(m.heapUsed / MIB, 1) };
}

async function main(path: string, mode: MemoryMode, checkpointEvery: number): Promise<void> {
  const start = snapshot(0);
  const tree = createProcessTree();
  // Released after add() returns, not from inside the tree's own callback.
  const complete: ProcessNode[] = [];
  let completedTrees = 0;
  tree.onTreeComplete = (root) => {
    completedTrees++;
    if (mode === 'release') complete.push(root);
  };
  const counts: FeedCounts = { lines: 0, events: 0, malformed: 0 };
  const checkpoints: MemoryCheckpoint[] = [];
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const t0 = process.hrtime.bigint();
  let paused = 0n;
  for await (const line of rl) {
    feedLine(tree, line, counts);
    while (complete.length > 0) tree.release(complete.pop()!);
    if (counts.lines % checkpointEvery === 0) {
      const p0 = process.hrtime.bigint();
      checkpoints.push(snapshot(counts.lines));
      paused += process.hrtime.bigint() - p0;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0 - paused) / 1e9;
  if (checkpoints.at(-1)?.lines !== counts.lines) checkpoints.push(snapshot(counts.lines));
  let retained = 0;
  let live = 0;
  for (const root of tree.roots()) {
    for (const p of walk(root)) { retained++; if (p.endNs === undefined) live++; }
  }
  const report: ModelMemoryReport = {
    mode,
    ...counts,
    seconds: round(seconds, 3),
    linesPerSecond: Math.round(counts.lines / seconds),
    roots: tree.roots().length,
    completedTrees,
    processesRetained: retained,
    liveProcesses: live,
    startRssMiB: start.rssMiB,
    checkpoints,
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

const [path, mode, every] = process.argv.slice(2);
if (!path || (mode !== 'retain' && mode !== 'release')) {
  process.stderr.write('usage: node --expose-gc dist/bench/model-memory.js STREAM_FILE retain|release [CHECKPOINT_LINES]\n');
  process.exitCode = 2;
} else {
  await main(path, mode, Number(every) || 250_000);
}
