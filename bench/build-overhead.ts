/**
 * Issue 2 item 7 (1 and 3): wall-time overhead of `gostall run` on a cold-cache
 * `go build -a PKGS`, against the same build untraced and under `strace -f`. Each build
 * gets a fresh empty GOCACHE. Variants alternate within pairs (ABC, CBA, ABC…) so drift in
 * the machine's load falls on all of them; ratios are taken within a pair, then the median.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import type { BenchConfig } from './config.js';
import type { ExitUsage } from './exit-usage-hook.js';
import { exitUsageEnv } from './agent-process.js';
import { readRootSpan, type RootSpanInfo } from './otlp-root.js';
import { cpuSecondsInWindow, lastCpuSeconds, sampleProcessAndChild, type CpuSeries, type TreeSampler } from './proc-sampler.js';
import { median, min, max, round } from './stats.js';
import { runTimed } from './timed-command.js';

export const VARIANTS = ['untraced', 'gostall', 'strace'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface GostallDetails {
  /** root span duration: the command's own runtime, shim release to exit */
  commandNs: number | undefined;
  spanCount: number | undefined;
  /** gostall.lost_events on the root span */
  lostEventsAttr: number | undefined;
  malformedRecordsAttr: number | undefined;
  /** "N events lost" read from the summary's warning line (0 when there is none) */
  lostEventsSummary: number;
  summaryWarnings: string[];
  /** the gostall node process itself (exact, from its exit hook) */
  agentPeakRssKiB: number | undefined;
  agentCpuSeconds: number | undefined;
  /** the bpftrace child (sampled every 250 ms): whole run, peak RSS */
  bpftraceCpuSeconds: number | undefined;
  bpftracePeakRssKiB: number | undefined;
  /** CPU used while the command ran (root span window, from 250 ms samples): start-up excluded */
  agentCpuSecondsWhileTracing: number | undefined;
  bpftraceCpuSecondsWhileTracing: number | undefined;
}

export interface BuildSample {
  pair: number;
  variant: Variant;
  wallNs: number;
  exitCode: number | null;
  signal: string | null;
  load1: number;
  gostall?: GostallDetails;
}

export interface BuildResults {
  pkgs: string[];
  pairs: number;
  samples: BuildSample[];
  summary: Record<string, number | string | null>;
}

/** Commands per variant; the build itself is identical in all three. */
function commandFor(v: Variant, cfg: BenchConfig, outFile: string): [string, string[]] {
  const build = ['go', 'build', '-a', ...cfg.pkgs];
  switch (v) {
    case 'untraced':
      return [build[0]!, build.slice(1)];
    case 'strace':
      return ['strace', ['-f', '-o', '/dev/null', ...build]];
    case 'gostall':
      // the installed command, as users start it (bin/gostall: what it does before Node starts
      // counts); --standalone: its own tracer even if an agent is serving run requests
      return [join(cfg.root, 'bin/gostall'), ['run', '--standalone', '--out', outFile, '--', ...build]];
  }
}

/** The order of variants in pair i: forwards on even pairs, backwards on odd ones. */
export function pairOrder(i: number): Variant[] {
  return i % 2 === 0 ? [...VARIANTS] : [...VARIANTS].reverse();
}

const LOST_RE = /(\d+) events lost by the kernel buffer/;

function summaryOf(log: string): { lost: number; warnings: string[] } {
  const warnings = log.split('\n').filter((l) => /^\s*warning:/.test(l)).map((l) => l.trim());
  const m = warnings.map((w) => LOST_RE.exec(w)).find((x) => x);
  return { lost: m ? Number(m[1]) : 0, warnings };
}

async function runOne(v: Variant, pair: number, cfg: BenchConfig, dirs: { work: string; logs: string }): Promise<BuildSample> {
  const gocache = mkdtempSync(join(cfg.outDir, 'gocache-'));
  const tag = `pair${pair}-${v}`;
  const outFile = join(dirs.logs, `${tag}.otlp.jsonl`);
  const usageFile = join(dirs.logs, `${tag}.usage.json`);
  const logPath = join(dirs.logs, `${tag}.log`);
  rmSync(outFile, { force: true });
  rmSync(usageFile, { force: true });
  const [file, args] = commandFor(v, cfg, outFile);
  // gostall writes its own resource usage (exact peak RSS and CPU) as it exits
  const env: NodeJS.ProcessEnv = { ...process.env, GOCACHE: gocache, GOFLAGS: '', ...(v === 'gostall' ? exitUsageEnv(cfg.root, usageFile) : {}) };
  let sampler: TreeSampler | undefined;
  const load1 = loadavg()[0]!;
  try {
    const run = await runTimed(file, args, {
      cwd: dirs.work, env, logPath,
      onSpawn: (pid) => { if (v === 'gostall') sampler = sampleProcessAndChild(pid, 'bpftrace'); },
    });
    const sample: BuildSample = { pair, variant: v, wallNs: run.wallNs, exitCode: run.exitCode, signal: run.signal, load1 };
    if (v === 'gostall') {
      const series = sampler!.stop();
      sample.gostall = gostallDetails(outFile, usageFile, logPath, series.parent, series.child);
    }
    return sample;
  } finally {
    sampler?.stop();
    rmSync(gocache, { recursive: true, force: true });
  }
}

function gostallDetails(outFile: string, usageFile: string, logPath: string, agent: CpuSeries, bpftrace: CpuSeries): GostallDetails {
  let root: RootSpanInfo | undefined;
  try { root = existsSync(outFile) ? readRootSpan(outFile) : undefined; } catch { root = undefined; }
  let usage: ExitUsage | undefined;
  try { usage = JSON.parse(readFileSync(usageFile, 'utf8')) as ExitUsage; } catch { usage = undefined; }
  const s = summaryOf(readFileSync(logPath, 'utf8'));
  const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
  return {
    commandNs: root?.durationNs,
    spanCount: root?.spanCount,
    lostEventsAttr: num(root?.attributes['gostall.lost_events']),
    malformedRecordsAttr: num(root?.attributes['gostall.malformed_records']),
    lostEventsSummary: s.lost,
    summaryWarnings: s.warnings,
    agentPeakRssKiB: usage?.maxRssKiB,
    agentCpuSeconds: usage ? (usage.userCpuMicros + usage.systemCpuMicros) / 1e6 : undefined,
    bpftraceCpuSeconds: lastCpuSeconds(bpftrace),
    bpftracePeakRssKiB: bpftrace.peakRssKiB,
    agentCpuSecondsWhileTracing: root ? cpuSecondsInWindow(agent, root.startEpochMillis, root.endEpochMillis) : undefined,
    bpftraceCpuSecondsWhileTracing: root ? cpuSecondsInWindow(bpftrace, root.startEpochMillis, root.endEpochMillis) : undefined,
  };
}

export async function benchBuildOverhead(cfg: BenchConfig, log: (line: string) => void): Promise<BuildResults> {
  const work = join(cfg.outDir, 'work');
  const logs = join(cfg.outDir, 'logs');
  mkdirSync(work, { recursive: true });
  mkdirSync(logs, { recursive: true });
  // One untimed build first, so the Go sources and toolchain are in the page cache for every variant alike.
  log(`build: warm-up (untimed) go build -a ${cfg.pkgs.join(' ')}`);
  await runOne('untraced', -1, cfg, { work, logs });
  const samples: BuildSample[] = [];
  for (let pair = 0; pair < cfg.pairs; pair++) {
    for (const v of pairOrder(pair)) {
      const s = await runOne(v, pair, cfg, { work, logs });
      samples.push(s);
      const extra = s.gostall ? ` (command ${fmtS(s.gostall.commandNs)}, lost ${s.gostall.lostEventsAttr ?? '?'})` : '';
      log(`build: pair ${pair + 1}/${cfg.pairs} ${v.padEnd(8)} ${fmtS(s.wallNs)}${extra} exit ${s.exitCode ?? s.signal} load ${s.load1.toFixed(2)}`);
    }
  }
  return { pkgs: cfg.pkgs, pairs: cfg.pairs, samples, summary: summarize(samples) };
}

function fmtS(ns: number | undefined): string {
  return ns === undefined ? '?' : `${(ns / 1e9).toFixed(2)} s`;
}

/** Medians per variant and of the per-pair ratios. */
export function summarize(samples: BuildSample[]): Record<string, number | string | null> {
  const byPair = new Map<number, Partial<Record<Variant, BuildSample>>>();
  for (const s of samples) {
    const p = byPair.get(s.pair) ?? {};
    p[s.variant] = s;
    byPair.set(s.pair, p);
  }
  const wall = (v: Variant) => samples.filter((s) => s.variant === v).map((s) => s.wallNs / 1e9);
  const gostallRatio: number[] = [], commandRatio: number[] = [], straceRatio: number[] = [];
  for (const p of byPair.values()) {
    const base = p.untraced?.wallNs;
    if (!base) continue;
    if (p.gostall) gostallRatio.push(p.gostall.wallNs / base);
    if (p.gostall?.gostall?.commandNs !== undefined) commandRatio.push(p.gostall.gostall.commandNs / base);
    if (p.strace) straceRatio.push(p.strace.wallNs / base);
  }
  const g = samples.filter((s) => s.gostall).map((s) => s.gostall!);
  const defined = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
  const lostAttr = defined(g.map((d) => d.lostEventsAttr));
  const commandS = defined(g.map((d) => d.commandNs)).map((ns) => ns / 1e9);
  const agentCpu = defined(g.map((d) => d.agentCpuSeconds));
  const bpfCpu = defined(g.map((d) => d.bpftraceCpuSeconds));
  const perTracedSecond = (pick: (d: GostallDetails) => number | undefined) =>
    median(defined(g.map((d) => { const c = pick(d); return c !== undefined && d.commandNs ? c / (d.commandNs / 1e9) : undefined; })));
  const fixedOverhead = samples.filter((s) => s.gostall?.commandNs !== undefined).map((s) => (s.wallNs - s.gostall!.commandNs!) / 1e9);
  const failed = samples.filter((s) => s.exitCode !== 0).length;
  const r = (x: number) => (Number.isFinite(x) ? round(x, 3) : null);
  return {
    untraced_wall_s_median: r(median(wall('untraced'))),
    gostall_wall_s_median: r(median(wall('gostall'))),
    gostall_command_s_median: r(median(commandS)),
    strace_wall_s_median: r(median(wall('strace'))),
    gostall_wall_ratio_median: r(median(gostallRatio)),
    gostall_wall_ratio_min: r(min(gostallRatio)),
    gostall_wall_ratio_max: r(max(gostallRatio)),
    gostall_command_ratio_median: r(median(commandRatio)),
    gostall_command_ratio_min: r(min(commandRatio)),
    gostall_command_ratio_max: r(max(commandRatio)),
    strace_ratio_median: r(median(straceRatio)),
    strace_ratio_min: r(min(straceRatio)),
    strace_ratio_max: r(max(straceRatio)),
    lost_events_attr_max: lostAttr.length ? max(lostAttr) : null,
    lost_events_attr_total: lostAttr.reduce((a, b) => a + b, 0),
    lost_events_summary_total: g.reduce((a, d) => a + d.lostEventsSummary, 0),
    malformed_records_total: defined(g.map((d) => d.malformedRecordsAttr)).reduce((a, b) => a + b, 0),
    gostall_runs_without_root_span: g.filter((d) => d.commandNs === undefined).length,
    agent_peak_rss_mib_max: r(max(defined(g.map((d) => d.agentPeakRssKiB))) / 1024),
    agent_peak_rss_mib_median: r(median(defined(g.map((d) => d.agentPeakRssKiB))) / 1024),
    bpftrace_peak_rss_mib_median_sampled: r(median(defined(g.map((d) => d.bpftracePeakRssKiB))) / 1024),
    gostall_fixed_overhead_s_median: r(median(fixedOverhead)),
    agent_cpu_s_median: r(median(agentCpu)),
    bpftrace_cpu_s_median_sampled: r(median(bpfCpu)),
    agent_cpu_per_traced_s_median_sampled: r(perTracedSecond((d) => d.agentCpuSecondsWhileTracing)),
    bpftrace_cpu_per_traced_s_median_sampled: r(perTracedSecond((d) => d.bpftraceCpuSecondsWhileTracing)),
    whole_run_cpu_per_traced_s_median: r(perTracedSecond((d) => (d.agentCpuSeconds !== undefined && d.bpftraceCpuSeconds !== undefined ? d.agentCpuSeconds + d.bpftraceCpuSeconds : undefined))),
    builds_failed: failed,
  };
}
