/** Renders the results as aligned text tables for the terminal. */
import type { BuildResults } from './build-overhead.js';
import type { ParseResults } from './parse-throughput.js';
import type { AgentResults } from './agent.js';
import type { ProbeCostResults } from './probe-cost.js';
import type { HostCostResults } from './host-cost.js';
import type { RunViaAgentResults } from './run-via-agent.js';
import type { FixedCostResults } from './fixed-cost.js';
import type { SoakResults } from './soak.js';

function table(title: string, rows: [string, string, string?][]): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const body = rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}${c ? `  ${c}` : ''}`);
  return [title, ...body, ''].join('\n');
}

const num = (x: unknown, digits = 2, unit = ''): string =>
  typeof x === 'number' && Number.isFinite(x) ? `${x.toFixed(digits)}${unit}` : 'n/a';
const int = (x: unknown): string => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const verdict = (ok: boolean | undefined): string => (ok === undefined ? '' : ok ? 'target met' : 'TARGET MISSED');

export function renderBuild(b: BuildResults): string {
  const s = b.summary;
  const ratio = s.gostall_command_ratio_median as number | null;
  const lost = (s.lost_events_attr_total as number) + (s.lost_events_summary_total as number);
  return table(`1. cold go build -a ${b.pkgs.join(' ')} — ${b.pairs} pair(s), medians (ratios are per pair, then median)`, [
    ['untraced wall', num(s.untraced_wall_s_median, 2, ' s')],
    ['gostall run wall (incl. the fixed cost below)', num(s.gostall_wall_s_median, 2, ' s')],
    ['gostall: traced command runtime (root span, release→exit)', num(s.gostall_command_s_median, 2, ' s')],
    ['gostall: fixed cost per run (wall − command: attach, drain, publish)', num(s.gostall_fixed_overhead_s_median, 2, ' s')],
    ['strace -f -o /dev/null wall', num(s.strace_wall_s_median, 2, ' s')],
    ['ratio gostall run wall / untraced', num(s.gostall_wall_ratio_median, 3, '×'), `range ${num(s.gostall_wall_ratio_min, 3)}–${num(s.gostall_wall_ratio_max, 3)}`],
    ['ratio traced command (root span) / untraced', num(ratio, 3, '×'), `range ${num(s.gostall_command_ratio_min, 3)}–${num(s.gostall_command_ratio_max, 3)}  target ≤ 1.10×: ${verdict(ratio === null ? undefined : ratio <= 1.1)}`],
    ['ratio strace / untraced', num(s.strace_ratio_median, 3, '×'), `range ${num(s.strace_ratio_min, 3)}–${num(s.strace_ratio_max, 3)}`],
    ['lost events (root span attr total / summary total)', `${int(s.lost_events_attr_total)} / ${int(s.lost_events_summary_total)}`, `target 0: ${verdict(lost === 0)}`],
    ['malformed records (total)', int(s.malformed_records_total)],
    ['gostall runs without a root span in --out', int(s.gostall_runs_without_root_span)],
    ['builds with non-zero exit', int(s.builds_failed)],
    ['3. gostall node process peak RSS (VmHWM at exit), median / max', `${num(s.agent_peak_rss_mib_median, 1)} / ${num(s.agent_peak_rss_mib_max, 1)} MiB`],
    ['   bpftrace peak RSS (sampled), median', num(s.bpftrace_peak_rss_mib_median_sampled, 1, ' MiB')],
    ['   gostall node CPU time per run (whole run), median', num(s.agent_cpu_s_median, 2, ' s')],
    ['   bpftrace CPU time per run (whole run incl. probe compile, sampled), median', num(s.bpftrace_cpu_s_median_sampled, 2, ' s')],
    ['   CPU per traced second while the command ran: node / bpftrace (sampled)', `${num(s.agent_cpu_per_traced_s_median_sampled, 3)} / ${num(s.bpftrace_cpu_per_traced_s_median_sampled, 3)} s/s`],
    ['   CPU per traced second, whole run (node + bpftrace incl. start-up)', num(s.whole_run_cpu_per_traced_s_median, 3, ' s/s')],
  ]);
}

export function renderParse(p: ParseResults): string {
  const rows: [string, string, string?][] = [
    ['capture (real probe stream, kernel thresholds 1 ms)', `${int(Object.values(p.captureMix).reduce((a, b) => a + b, 0))} lines`, Object.entries(p.captureMix).map(([k, v]) => `${k}:${v}`).join(' ')],
    ['synthesized stream (repetitions with fresh pids)', `${int(p.streamLines)} lines`, `${p.repetitions} repetitions, ${int(p.eventsInStream)} events, ${int(p.malformedInStream)} malformed`],
  ];
  for (const [name, l] of Object.entries(p.loops)) {
    rows.push([`${name} (median of ${l.secondsPerRep.length})`, `${int(l.linesPerSecond)} lines/s`, `${num(l.nsPerLine, 0)} ns/line`]);
  }
  rows.push(['parseLine events/s', int(p.eventsPerSecondParse)]);
  rows.push(['parse + tree.add events/s', int(p.eventsPerSecondModel)]);
  rows.push(['time ratio parseLine / split', num(p.parseLineOverSplitTimeRatio, 2, '×')]);
  rows.push(['time ratio parse+tree / split', num(p.modelOverSplitTimeRatio, 2, '×')]);
  rows.push(['time ratio pipeline through run\'s sliced feeder / pipeline', num(p.slicedOverPipelineTimeRatio, 3, '×')]);
  for (const [mode, m] of Object.entries(p.memory)) {
    const what = mode === 'retain' ? 'all trees kept (run)' : 'complete trees released (agent)';
    if ('error' in m) {
      rows.push([`3b. memory, ${what}`, 'failed', m.error]);
      continue;
    }
    rows.push([`3b. memory, ${what}: readline + parse + tree`, `${int(m.linesPerSecond)} lines/s`]);
    rows.push(['    RSS at start / after all lines (after gc)', `${num(m.startRssMiB, 1)} / ${num(m.checkpoints.at(-1)?.rssMiB, 1)} MiB`, `heap ${num(m.checkpoints.at(-1)?.heapUsedMiB, 1)} MiB, peak RSS ${num(m.peakRssMiB, 1)} MiB`]);
    rows.push(['    RSS / heap checkpoints (lines: MiB)', m.checkpoints.map((c) => `${int(c.lines)}: ${num(c.rssMiB, 0)}/${num(c.heapUsedMiB, 0)}`).join('  ')]);
    rows.push(['    processes retained / roots held / still live', `${int(m.processesRetained)} / ${int(m.roots)} / ${int(m.liveProcesses)}`]);
    rows.push(['    trees seen complete (onTreeComplete) / trees in stream', `${int(m.completedTrees)} / ${int(p.repetitions)}`]);
  }
  return table('2. parser throughput on a recorded probe stream', rows);
}

export function renderAgent(a: AgentResults): string {
  if (!a.available) return table('4. agent', [['status', a.note]]);
  const b = a.builds;
  const c = a.capacity;
  const rows: [string, string, string?][] = [
    ['isolation', a.isolatedCgroup ? `cgroup ${a.isolatedCgroup}` : 'none: host-wide (other Go tools count too)'],
    [`idle CPU per second (${num(a.idle.seconds, 0)} s): node / bpftrace`, `${num(a.idle.agentCpuPerS, 4)} / ${num(a.idle.bpftraceCpuPerS, 4)} s/s`, `${num(a.idle.eventsPerS, 1)} events/s idle`],
    [`build loop: ${b.count} × cold go build -a, traced seconds`, num(b.tracedSeconds, 1, ' s'), `walls ${b.wallSeconds.map((w) => w.toFixed(1)).join(', ')}${b.failed ? `, ${b.failed} failed` : ''}`],
    ['  CPU per traced second: node / bpftrace', `${num(b.agentCpuPerTracedS, 4)} / ${num(b.bpftraceCpuPerTracedS, 4)} s/s`, `(${num(b.agentCpuSeconds, 2)} / ${num(b.bpftraceCpuSeconds, 2)} s CPU)`],
    ['  events / lost / traces published', `${int(b.events)} / ${int(b.lostEvents)} / ${int(b.tracesPublished)}`],
    ['  tracer restarts / seconds without a tracer', `${int(b.tracerRestarts)} / ${num(b.tracerGapSeconds, 1)} s`, b.tracerRestarts ? 'bpftrace exited during the loop: see .bench/logs/agent.log' : ''],
    ['  RSS after the loop: node / bpftrace', `${num(b.agentRssMiB, 1)} / ${num(b.bpftraceRssMiB, 1)} MiB`, `node peak so far ${num(b.agentPeakRssMiBSoFar, 1)} MiB`],
    ['node peak RSS over the whole agent run (VmHWM at exit)', num(a.agentPeakRssMiB, 1, ' MiB'), `CPU total ${num(a.agentCpuSecondsTotal, 2)} s`],
    [`capacity steps (${c.stepSeconds} s each; one S record per generated call)`, ''],
  ];
  for (const s of c.steps) {
    rows.push([`  target ${int(s.targetPerS)}/s`, `${int(s.generatedPerS)}/s generated`, `events ${int(s.events)}, lost ${int(s.lostEvents)}, drain ${num(s.drainSeconds, 1)} s, CPU per generated s: node ${num(s.agentCpuPerS, 2)} bpftrace ${num(s.bpftraceCpuPerS, 2)}${s.tracerRestarts ? `, TRACER DOWN/RESTARTED ${s.tracerRestarts}× (gap ${num(s.tracerGapSeconds, 1)} s)` : ''}`]);
  }
  const limit = c.firstTracerFailureAtRecordsPerS !== undefined ? `bpftrace exited/crashed at ${int(c.firstTracerFailureAtRecordsPerS)}/s (see .bench/logs/agent.log)`
    : c.firstLossAtRecordsPerS !== undefined ? `first loss at ${int(c.firstLossAtRecordsPerS)}/s` : 'no step lost events (raise BENCH_AGENT_RATES)';
  rows.push(['highest generated rate with no lost events and no tracer failure', c.sustainedRecordsPerS === undefined ? 'none' : `${int(c.sustainedRecordsPerS)} records/s`, limit]);
  if (a.agentStopLine) rows.push(['agent said on exit', a.agentStopLine.slice(0, 120)]);
  return table('4. gostall agent under load', rows);
}

export function renderProbeCost(c: ProbeCostResults): string {
  const rows: [string, string, string?][] = [
    ['traced command runtime (root span) / gostall wall', `${num(c.commandSeconds, 2)} / ${num(c.wallSeconds, 2)} s`],
    ['BPF program time, all probes (host-wide hits)', num(c.totalRunSeconds, 3, ' s'), `${int(c.totalRunCount)} runs`],
    ['  as a share of the machine while the command ran', num(c.shareOfMachine === undefined ? undefined : c.shareOfMachine * 100, 2, ' %'), 'BPF time ÷ (runtime × CPUs)'],
  ];
  for (const p of c.programs.slice(0, 12)) {
    rows.push([`  ${p.name}`, `${num(p.runTimeNs / 1e6, 1)} ms`, `${int(p.runCount)} runs, ${num(p.runCount ? p.runTimeNs / p.runCount : NaN, 0)} ns/run`]);
  }
  return table('1b. probe cost (one extra traced build with kernel.bpf_stats_enabled=1; not part of the timed pairs)', rows);
}

export function renderFixedCost(f: FixedCostResults): string {
  const rows: [string, string, string?][] = [
    ['node start-up (node -e 0)', num(f.nodeStartMs, 0, ' ms'), 'as bin/gostall starts Node for a run without a collector'],
    ['  the same, environment as given', num(f.nodeStartAsGivenMs, 0, ' ms'), 'NODE_EXTRA_CA_CERTS, where set, makes Node load its certificate store first'],
    ['loading the run command\'s modules', num(f.runModulesMs, 0, ' ms'), 'before bpftrace is spawned'],
    ['loading the export modules', num(f.exportModulesMs, 0, ' ms'), 'overlapped with the probe attach'],
  ];
  for (const p of f.probes) {
    rows.push([`${p.label}: bpftrace compile / load+attach / detach`, `${num(p.compileMs, 0)} / ${num(p.attachMs, 0)} / ${num(p.detachMs, 0)} ms`, 'detach is not waited for by run (SIGKILL once quiet)']);
  }
  rows.push(['whole bin/gostall run --standalone -- true', num(f.wholeRunTrueMs, 0, ' ms')]);
  return table(`1d. fixed cost of one gostall run, by part (medians of ${f.reps})`, rows);
}

export function renderHostCost(h: HostCostResults): string {
  const rows: [string, string, string?][] = [['untraced syscall, nothing attached (median CPU)', num(h.untracedNsPerSyscallMedian, 0, ' ns')]];
  for (const s of h.sets) {
    const who = s.set === 'run' ? 'run set (while a command is traced)' : s.stderrHook ? 'agent set with tracer.stderr' : 'agent set (always on, default)';
    rows.push(
      [`${who}: dd bs=1 CPU ratio`, num(s.dd.ratioMedian, 3, '×'), `range ${num(s.dd.ratioMin, 2)}–${num(s.dd.ratioMax, 2)}; +${num(s.ddAddedNsPerSyscallMedian, 0)} ns per syscall; a worst case`],
      [`${who}: git status (${int(h.gitFiles)} files) CPU ratio`, num(s.git.ratioMedian, 3, '×'), `range ${num(s.git.ratioMin, 2)}–${num(s.git.ratioMax, 2)}`],
      [`${who}: one-byte writes to stderr CPU ratio`, num(s.stderr.ratioMedian, 3, '×'), `range ${num(s.stderr.ratioMin, 2)}–${num(s.stderr.ratioMax, 2)}; the agent's write hook's worst case`],
      [`${who}: attach / detach (median)`, `${num(s.attachSecondsMedian, 2)} / ${num(s.detachSecondsMedian, 2)} s`, 'bpftrace spawn → BEGIN; SIGINT → exit'],
    );
  }
  return table(`1c. cost to untraced processes (CPU time of never-traced workloads; ${h.sets[0]?.dd.pairs.length ?? 0} pair(s) per set)`, rows);
}

export function renderSoak(k: SoakResults): string {
  const t = k.totals;
  return table(`5. agent soak: ${k.minutes} min of builds + one gopls session${k.isolatedCgroup ? ' (agent confined to the bench cgroup)' : ' (host-wide)'}`, [
    ['builds (cold go build -a, go vet, go test) / failed', `${int(k.builds.runs)} / ${int(k.builds.failed)}`],
    ['gopls edits / answers / failed requests', `${int(k.gopls.edits)} / ${int(k.gopls.answered)} / ${int(k.gopls.failedRequests)}`, k.gopls.stillRunningAtEnd ? 'gopls ran the whole soak' : 'GOPLS EXITED EARLY'],
    ['agent RSS after warm-up / at end / max sampled', `${num(k.agentRss.afterWarmupMiB, 1)} / ${num(k.agentRss.endMiB, 1)} / ${num(k.agentRss.maxMiB, 1)} MiB`, `VmHWM at exit ${num(k.agentRss.peakHwmMiB, 1)} MiB`],
    ['agent RSS trend over the second half', num(k.agentRss.slopeSecondHalfMiBPerHour, 1, ' MiB/h'), 'least-squares slope of the samples'],
    ['gostall run -- go build through the agent: runs / failed / followed / refused / broken traces', `${int(k.runsViaAgent.runs)} / ${int(k.runsViaAgent.failed)} / ${int(k.runsViaAgent.followed)} / ${int(k.runsViaAgent.refused)} / ${int(k.runsViaAgent.broken)}`],
    ['bin/gostall run -- go build (the agent builds the trace): runs / failed / traces the agent built / spans written', `${int(k.frontRuns.runs)} / ${int(k.frontRuns.failed)} / ${int(k.frontRuns.built)} / ${int(k.frontRuns.spansWritten)}`],
    ['bpftrace RSS max / at end', `${num(k.bpftraceRss.maxMiB, 1)} / ${num(k.bpftraceRss.endMiB, 1)} MiB`],
    ['agent CPU per second', num(k.agentCpuPerSecond, 4, ' s/s')],
    ['events / lost / malformed', `${int(t.gostall_events_total)} / ${int(t.gostall_events_lost_total)} / ${int(t.gostall_records_malformed_total)}`],
    ['roots / traces published / forced', `${int(t.gostall_roots_total)} / ${int(t.gostall_traces_published_total)} / ${int(t.gostall_traces_forced_total)}`],
    ['spans produced / exported / dropped', `${int(t.gostall_spans_produced_total)} / ${int(t.gostall_spans_exported_total)} / ${int(t.gostall_spans_dropped_total)}`, `sink got ${int(k.sink.requests)} requests`],
    ['spans produced (agent + runs) / received by the sink', `${int((t.gostall_spans_produced_total ?? 0) + k.runsViaAgent.spansReported)} / ${int(k.sink.spans)}`],
    ['stall episodes / tracer restarts / trees dropped', `${int(t.gostall_episodes_total)} / ${int(t.gostall_tracer_restarts_total)} / ${int(t.gostall_trees_dropped_total)}`],
    ['orphan records in the agent\'s pipeline / records read before their fork record / of those overdue', `${int(t.gostall_records_orphan_total)} / ${int(t.gostall_run_records_before_fork_total)} / ${int(t.gostall_run_records_fork_overdue_total)}`, 'a run\'s records given to the agent show as orphans there'],
  ]);
}

/** The soak's curve: one row per sample. */
export function renderSoakCurve(k: SoakResults): string {
  const head = 'min  agent RSS MiB  CPU %  bpftrace MiB  events  lost  spans produced/received  runs (via agent)';
  const rows = k.samples.map((s) => [
    (s.atSeconds / 60).toFixed(1).padStart(4), num(s.agentRssMiB, 1).padStart(13), num(s.agentCpuPercent, 2).padStart(6),
    num(s.bpftraceRssMiB, 1).padStart(13), int(s.events).padStart(7), int(s.lostEvents).padStart(5),
    `${int(s.spansProduced)}/${int(s.spansReceived)}`.padStart(24), `${int(s.runs)} (${int(s.runsFollowed)})`.padStart(17),
  ].join(' '));
  return [head, ...rows].join('\n') + '\n';
}

export function renderRunViaAgent(r: RunViaAgentResults): string {
  const s = r.summary;
  return table(`6. gostall run through a running agent: warm-cache go build of a small module, ${r.pairs} rounds (order rotated)`, [
    ['untraced / bin/gostall through the agent (median)', `${num(s.untracedMedianMs, 1)} / ${num(s.viaAgentMedianMs, 1)} ms`],
    ['ratio (median of rounds)', num(s.ratioMedian, 3, '×'), 'target ≤ 1.10×'],
    ['added time (median of rounds)', num(s.deltaMedianMs, 1, ' ms'), 'target ≤ +50 ms'],
    ['node bin/gostall.js through the agent: median / ratio / added', `${num(s.viaNodeMedianMs, 1)} ms / ${num(s.nodeRatioMedian, 3, '×')} / ${num(s.nodeDeltaMedianMs, 1, ' ms')}`, 'Node builds the trace (what bin/gostall falls back to)'],
    ['bin/gostall through the agent: startup / command / after its exit (medians)', `${num(r.splitMedian.startupMs, 1)} / ${num(r.splitMedian.commandMs, 1)} / ${num(r.splitMedian.afterExitMs, 1)} ms`, 'gostall start → exec of CMD → CMD exit → gostall exit'],
    ['edit, then build (compile + link): untraced / bin/gostall (medians)', `${num(r.edited.summary.untracedMedianMs, 1)} / ${num(r.edited.summary.viaAgentMedianMs, 1)} ms`, 'main.go changed before every build'],
    ['  ratio / added time (medians of rounds)', `${num(r.edited.summary.ratioMedian, 3, '×')} / ${num(r.edited.summary.deltaMedianMs, 1, ' ms')}`, 'target ≤ 1.10× and ≤ +50 ms'],
    ['  node bin/gostall.js: ratio / added', `${num(r.edited.summary.nodeRatioMedian, 3, '×')} / ${num(r.edited.summary.nodeDeltaMedianMs, 1, ' ms')}`],
    ['  bin/gostall: startup / command / after its exit (medians)', `${num(r.edited.splitMedian.startupMs, 1)} / ${num(r.edited.splitMedian.commandMs, 1)} / ${num(r.edited.splitMedian.afterExitMs, 1)} ms`],
    ['runs that traced on their own or fell back to Node / failed builds (both workloads)', `${int(r.fellBack)} / ${int(r.failed)}`],
    ...(r.probeTime ? [
      [`the probes' own time per build after an edit (BPF run time, ${int(r.probeTime.builds)} builds)`, num(r.probeTime.bpfMsPerBuild, 2, ' ms'),
        r.probeTime.programs.slice(0, 3).map((p) => `${p.name} ${int(p.runsPerBuild)}×${int(p.nsPerRun)} ns`).join(', ')] as [string, string, string],
      ...(r.probeTime.agentCpuMsPerBuild ? [[
        '  the agent\'s CPU per build, same builds: Node main thread / Node\'s other threads / bpftrace',
        `${num(r.probeTime.agentCpuMsPerBuild.nodeMain, 2)} / ${num(r.probeTime.agentCpuMsPerBuild.nodeOther, 2)} / ${num(r.probeTime.agentCpuMsPerBuild.bpftrace, 2)} ms`,
        `scheduler time; after ${int(r.agentWarmupBuilds)} warm-up builds and the rounds above`] as [string, string, string]] : []),
    ] : []),
    [`cold go build -a ${r.cold.pkgs.join(' ')}: untraced / bin/gostall through the agent (${r.cold.pairs} pairs)`, `${num(r.cold.untracedMedianMs / 1000, 2)} / ${num(r.cold.viaAgentMedianMs / 1000, 2)} s`],
    ['  ratio / added time (medians of pairs)', `${num(r.cold.ratioMedian, 3, '×')} / ${num(r.cold.deltaMedianMs, 0, ' ms')}`, `target ≤ 1.03×${r.cold.failed > 0 ? `; ${int(r.cold.failed)} FAILED` : ''}`],
  ]);
}
