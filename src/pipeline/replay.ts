/**
 * Replay of a recorded probe stream (what bpftrace printed, e.g. captured on another
 * machine with `bpftrace … > capture.txt`, or saved by `gostall run --raw FILE`) through
 * the same pipeline as run and the agent.
 * Roots are the R record's root pid (a `gostall run` capture) or the G records (an agent
 * capture); time comes from the records, so the spans are the ones a live run would have
 * made. Bad input is counted by reason and skipped; it never costs its neighbours.
 *
 * A capture may start with comment lines; "#gostall clock_offset_ns=N" gives the offset
 * (epoch ns = monotonic ns + N) of the machine it was recorded on.
 */
import type { Readable } from 'node:stream';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { MountTable } from '../diagnose/mounts.js';
import { createFixedClock } from '../model/clock.js';
import type { ProcessNode } from '../model/process.js';
import { recordedContextCollector } from './context.js';
import { CLOCK_OFFSET_HEADER, MAX_RECORDING_LINE_BYTES, isContextLine, parseContextLine } from './recording.js';
import { createLineSplitter } from '../probe-runner/line-splitter.js';
import { NOT_PRINTABLE } from './records.js';
import { createPipeline, type Pipeline, type PipelineSettings, type PipelineStats } from './pipeline.js';

export { CLOCK_OFFSET_HEADER };

export interface ReplayOptions {
  settings: PipelineSettings;
  /** epoch ns = monotonic ns + offset; undefined: from the capture's header, else this machine's */
  clockOffsetNs: number | undefined;
  fallbackOffsetNs: () => number;
  resourceFor: (root: ProcessNode, containerId: string | undefined) => Resource;
  mounts: () => MountTable;
  emit: (spans: ReadableSpan[]) => void;
  /** resolves when the emitted spans are written (backpressure for huge captures) */
  drained: () => Promise<void>;
  pendingWrites: () => number;
}

export interface ReplayResult { stats: PipelineStats; clockOffsetNs: number; offsetSource: 'flag' | 'header' | 'this machine'; tooLong: number }

export async function replayStream(input: Readable, opts: ReplayOptions): Promise<ReplayResult> {
  let offset = opts.clockOffsetNs;
  let offsetSource: ReplayResult['offsetSource'] = offset !== undefined ? 'flag' : 'this machine';
  let core: Pipeline | undefined;
  let tooLong = 0;
  const context = recordedContextCollector(opts.mounts);

  function start(): Pipeline {
    if (offset === undefined) offset = opts.fallbackOffsetNs();
    core = createPipeline({
      settings: opts.settings, clock: createFixedClock(offset), context,
      resourceFor: opts.resourceFor, emit: opts.emit,
    });
    return core;
  }

  /** A comment line of gostall's own; the clock offset header counts only before the first record. */
  function comment(text: string): void {
    if (isContextLine(text)) {
      const found = parseContextLine(text);
      if (found) context.record(found.rootPid, found.ctx);
      else (core ?? start()).malformed('invalid #gostall context line');
      return;
    }
    // Binary garbage can start with '#' too: it is counted like any other damaged line, not taken for a comment.
    if (NOT_PRINTABLE.test(text)) {
      (core ?? start()).malformed('non-ASCII or control bytes');
      return;
    }
    const m = core ? undefined : CLOCK_OFFSET_HEADER.exec(text);
    if (m && opts.clockOffsetNs === undefined) {
      offset = Number(m[1]);
      offsetSource = 'header';
    }
  }

  // Records longer than MAX_LINE_LENGTH are refused by the parser; the splitter's larger
  // bound is for gostall's context lines (a mount table).
  const splitter = createLineSplitter(MAX_RECORDING_LINE_BYTES, {
    line(text) {
      if (text.startsWith('#')) {
        comment(text);
        return;
      }
      core ??= start();
      core.feedLine(text);
    },
    tooLong() {
      tooLong++;
      (core ?? start()).malformed('line too long');
    },
  });

  for await (const chunk of input) {
    splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer));
    // Keep memory bounded however large the capture: let publishing and writing catch up.
    if (core && (core.queuedTrees() > 256 || opts.pendingWrites() > 64)) {
      await core.idle();
      await opts.drained();
    }
  }
  splitter.end();
  const c = core ?? start();
  await c.finish(0);
  await opts.drained();
  return { stats: c.stats, clockOffsetNs: offset!, offsetSource, tooLong };
}
