/** The agent's /metrics families: what the pipeline, the tracer and the export sink are doing. */
import type { SinkStats } from '../export/sink.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { readRssBytes } from '../vocabulary/procfs.js';
import { labelled, type MetricFamily } from './metrics.js';
import type { Supervisor } from './supervisor.js';

export function agentMetrics(x: {
  core: Pipeline; supervisor: Supervisor; adoptOverflow: number; gapsTotalNs: number;
  /** events counted once a second, the last 10 s */
  eventHistory: number[];
}): MetricFamily[] {
  const { core, supervisor, eventHistory } = x;
  const s = core.stats;
  const rate = eventHistory.length > 1 ? (eventHistory[eventHistory.length - 1]! - eventHistory[0]!) / (eventHistory.length - 1) : 0;
  return [
    { name: 'gostall_events_total', help: 'probe records turned into events', type: 'counter', samples: [{ value: s.events }] },
    { name: 'gostall_events_per_second', help: 'events per second over the last 10 s', type: 'gauge', samples: [{ value: Math.round(rate) }] },
    { name: 'gostall_events_lost_total', help: 'events the kernel could not hand to bpftrace (perf buffer full)', type: 'counter', samples: [{ value: s.lostEvents }] },
    { name: 'gostall_records_malformed_total', help: 'probe output lines that were not valid records, by reason', type: 'counter', samples: labelled('reason', s.malformedReasons) },
    { name: 'gostall_records_orphan_total', help: 'records about tasks never seen starting', type: 'counter', samples: [{ value: s.orphanRecords }] },
    { name: 'gostall_roots_total', help: 'Go tool processes that became roots of a trace', type: 'counter', samples: [{ value: s.roots }] },
    { name: 'gostall_roots_refused_total', help: 'roots not traced because limits.maxOpenTrees was reached', type: 'counter', samples: [{ value: s.rootsRefused }] },
    { name: 'gostall_processes_adopted_total', help: 'processes already running when the tracer (re)started, followed from then on', type: 'counter', samples: [{ value: s.adopted }] },
    { name: 'gostall_adopt_overflow_total', help: 'running processes the tracer could not adopt (32 slots per start)', type: 'counter', samples: [{ value: x.adoptOverflow }] },
    { name: 'gostall_exits_inferred_total', help: 'processes found gone without an exit record (tracer gap, lost events)', type: 'counter', samples: [{ value: s.exitsInferred }] },
    { name: 'gostall_trees_open', help: 'traces whose root or descendants still run', type: 'gauge', samples: [{ value: core.openTrees() }] },
    { name: 'gostall_trees_queued', help: 'finished trees waiting to be turned into spans', type: 'gauge', samples: [{ value: core.queuedTrees() }] },
    { name: 'gostall_trees_dropped_total', help: 'finished trees dropped because limits.maxQueuedTrees was reached', type: 'counter', samples: [{ value: s.treesDropped }] },
    { name: 'gostall_traces_published_total', help: 'finished trees turned into spans', type: 'counter', samples: [{ value: s.tracesPublished }] },
    { name: 'gostall_traces_forced_total', help: 'trees published although a forked task was never seen again (lost records, tracer gap)', type: 'counter', samples: [{ value: s.treesForced }] },
    { name: 'gostall_orphans_detached_total', help: 'processes still running when their trace root exited, published later into its trace', type: 'counter', samples: [{ value: s.orphansDetached }] },
    { name: 'gostall_episodes_total', help: 'stall episodes reported', type: 'counter', samples: [{ value: s.episodes }] },
    { name: 'gostall_episodes_open', help: 'stall episodes being followed', type: 'gauge', samples: [{ value: core.openEpisodes() }] },
    { name: 'gostall_spans_produced_total', help: 'spans gostall produced', type: 'counter', samples: [{ value: s.spansProduced }] },
    { name: 'gostall_tracer_up', help: '1 while bpftrace has its probes attached', type: 'gauge', samples: [{ value: supervisor.up ? 1 : 0 }] },
    { name: 'gostall_tracer_pid', help: 'pid of the running bpftrace (0 when none)', type: 'gauge', samples: [{ value: supervisor.up ? supervisor.pid ?? 0 : 0 }] },
    { name: 'gostall_tracer_restarts_total', help: 'times bpftrace was started again after it went away', type: 'counter', samples: [{ value: supervisor.restarts }] },
    { name: 'gostall_tracer_gap_seconds_total', help: 'time without a running tracer', type: 'counter', samples: [{ value: x.gapsTotalNs / 1e9 }] },
    { name: 'gostall_tracer_resident_memory_bytes', help: 'RSS of bpftrace', type: 'gauge', samples: [{ value: readRssBytes(supervisor.pid) }] },
    { name: 'process_resident_memory_bytes', help: 'RSS of the gostall agent', type: 'gauge', samples: [{ value: process.memoryUsage.rss() }] },
  ];
}

/** The export sink's families (only with a collector). */
export function exportMetrics(ex: SinkStats): MetricFamily[] {
  return [
    { name: 'gostall_spans_exported_total', help: 'spans the collector acknowledged', type: 'counter', samples: [{ value: ex.exported }] },
    { name: 'gostall_spans_spooled_total', help: 'spans written to the on-disk spool', type: 'counter', samples: [{ value: ex.spooled }] },
    { name: 'gostall_spans_dropped_total', help: 'spans lost, by reason', type: 'counter', samples: labelled('reason', ex.dropped) },
    { name: 'gostall_export_failures_total', help: 'failed export requests, by reason', type: 'counter', samples: labelled('reason', ex.failures) },
    { name: 'gostall_export_backing_off', help: '1 while the collector is considered down', type: 'gauge', samples: [{ value: ex.backingOff ? 1 : 0 }] },
    { name: 'gostall_export_queue_spans', help: 'spans waiting in memory', type: 'gauge', samples: [{ value: ex.memorySpans }] },
    { name: 'gostall_spool_bytes', help: 'bytes in the spool', type: 'gauge', samples: [{ value: ex.spoolBytes }] },
    { name: 'gostall_spool_spans', help: 'spans in the spool', type: 'gauge', samples: [{ value: ex.spoolSpans }] },
  ];
}
