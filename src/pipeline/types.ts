/** The pipeline's contract: its settings, what it is given, what it counts, what it offers. */
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { BuildParallelism } from '../diagnose/build-parallelism.js';
import type { Cause } from '../diagnose/types.js';
import type { RebuildFindings } from '../diagnose/rebuild-diff.js';
import type { BuildHistory } from './build-history.js';
import type { ProbeEvent } from '../events/types.js';
import type { WallClock } from '../model/clock.js';
import type { ProcessNode } from '../model/process.js';
import type { AdoptedProcess } from '../vocabulary/procfs.js';
import type { ContextCollector } from './context.js';
import type { EpisodeSettings, Ongoing } from './episodes.js';
import type { LiveSpanStats } from './live-spans.js';
import type { QueueStats } from './publish-queue.js';
import type { RecordCounts } from './records.js';

export interface PipelineSettings {
  evidenceThresholdNs: number;
  episodes: EpisodeSettings & { stuckAfterNs: number };
  /** activity window length; 0 = no windows */
  windowNs: number;
  longLivedNs: number;
  /** unfinished trees kept at most; roots beyond are counted and not traced */
  maxOpenTrees: number;
  /** finished trees waiting to be published at most; beyond, they are counted and dropped */
  maxQueuedTrees: number;
}

/** A trace whose root has been published (run's summary and --json read it). */
export interface PublishedTrace {
  root: ProcessNode; traceId: string; causes: Cause[]; spanCount: number; endNs: number;
  /** a Go build's parallelism against its CPUs (undefined: no compile, or CPUs unknown) */
  parallelism?: BuildParallelism;
  /** what changed since the last recorded build, per building go command (with a build history) */
  rebuilds?: RebuildFindings[];
}

export interface PipelineOptions {
  settings: PipelineSettings;
  clock: WallClock;
  context: ContextCollector;
  /** the resource of a trace: its root's executable, the container it runs in */
  resourceFor: (root: ProcessNode, containerId: string | undefined) => Resource;
  /** spans ready for export; called in order, never with an empty list */
  emit: (spans: ReadableSpan[]) => void;
  onTracePublished?: (t: PublishedTrace) => void;
  /** the local build history (run, agent): builds say why they rebuilt; none for replay */
  buildHistory?: BuildHistory;
  /** every process of a tree has exited (run: stop waiting for the drain) */
  onTreeComplete?: (root: ProcessNode) => void;
}

export interface PipelineStats extends RecordCounts, QueueStats, LiveSpanStats {
  events: number;
  lostEvents: number;
  orphanRecords: number;
  roots: number;
  rootsRefused: number;
  tracesPublished: number;
  subtreesPublished: number;
  spansProduced: number;
  adopted: number;
  exitsInferred: number;
  gapNs: number;
}

export interface Pipeline {
  stats: PipelineStats;
  /** One line of probe output (stdout), without its newline. */
  feedLine(line: string): void;
  feedEvent(e: ProbeEvent): void;
  /** Count a line the caller refused before feeding it (e.g. too long to read whole). */
  malformed(reason: string): void;
  /** Advance time when no events arrive (tracer down, idle host). */
  advance(nowNs: number): void;
  /** Calls found in flight (live agent, from /proc) as of nowNs; replaces the previous set. */
  inflight(byNode: Map<ProcessNode, Ongoing[]>, nowNs: number): void;
  /** Roots to create when the next R record arrives (processes the new tracer adopts). */
  expectAdoptions(list: AdoptedProcess[]): void;
  /** The tracer was not running from startNs to endNs. */
  gap(startNs: number, endNs: number): void;
  /** End processes that are gone although no exit was seen (lost records, tracer gaps). */
  reconcile(isAlive: (p: ProcessNode) => boolean, atNs: number): number;
  /** Processes believed running, roots first (seeds for a restarted tracer). */
  liveProcesses(): ProcessNode[];
  openTrees(): number;
  openEpisodes(): number;
  queuedTrees(): number;
  /** Close episodes, publish every tree (unfinished ones as still running), wait for it. */
  finish(endNs: number): Promise<void>;
  /** Resolves when the publish queue is empty. */
  idle(): Promise<void>;
}
