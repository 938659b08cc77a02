/**
 * Issue 9: `gostall run` through a running agent on what developers run all day, a
 * warm-cache `go build` of a small module (target ≤ 1.10× and ≤ +50 ms over untraced).
 * An agent runs for the whole section (its socket in a temp dir); untraced builds, builds
 * through bin/gostall (the installed command: the agent builds the trace, no Node) and
 * through node bin/gostall.js (Node asks the agent for the records and builds the trace
 * itself, what bin/gostall falls back to for options it does not take) alternate within
 * rounds (the order rotates), ratios and differences are taken within a round, then the
 * median. The cache is warmed first, so every build only checks it and links nothing new;
 * then the same rounds with main.go edited before each build (compile and link: what a
 * developer's change costs).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { startAgentProcess, timeLimit, waitHealthy } from './agent-process.js';
import { median, round } from './stats.js';
import { runTimed } from './timed-command.js';
import { progStatsBetween, readProgCounters, withBpfStats } from './bpf-prog-stats.js';
import { findChild, readThreadsCpuNs } from './proc-sampler.js';

export interface RunViaAgentResults {
  pairs: number;
  untracedMs: number[];
  viaAgentMs: number[];
  /** node bin/gostall.js through the agent, in the same rounds */
  viaNodeMs: number[];
  /** runs whose summary shows they traced on their own (the agent did not answer in time), and bin/gostall runs whose trace the agent did not build */
  fellBack: number;
  failed: number;
  summary: { untracedMedianMs: number; viaAgentMedianMs: number; ratioMedian: number; deltaMedianMs: number; viaNodeMedianMs: number; nodeRatioMedian: number; nodeDeltaMedianMs: number };
  /**
   * Where a run through the agent spends its time, per run, from the trace it wrote (the
   * command's root span) and the bench's own clock: startup = gostall started → CMD's exec,
   * command = CMD's exec → CMD's exit, afterExit = CMD's exit → gostall exited.
   */
  split: { startupMs: number[]; commandMs: number[]; afterExitMs: number[] };
  splitMedian: { startupMs: number; commandMs: number; afterExitMs: number };
  /**
   * The same rounds when each build follows an edit (main.go's string changes before every
   * run): the go command compiles the package and links, as after a developer's change.
   */
  edited: { untracedMs: number[]; viaAgentMs: number[]; viaNodeMs: number[]; summary: RunViaAgentResults['summary']; splitMedian: RunViaAgentResults['splitMedian'] };
  /**
   * The probes' own time on the build after an edit: BPF_PROBE_BUILDS more such builds through
   * bin/gostall with kernel.bpf_stats_enabled=1 (restored after), the agent's bpftrace's
   * program counters read before and after. Steadier than wall time on a shared machine: it
   * counts the programs' CPU wherever they ran. Undefined when the counters could not be read.
   */
  probeTime: {
    builds: number; bpfMsPerBuild: number; programs: Array<{ name: string; runsPerBuild: number; nsPerRun: number }>;
    /**
     * What the agent's processes ran per build over the same builds (scheduler time): its
     * Node's main thread, Node's other threads (V8's compiler and GC, libuv) and its bpftrace.
     */
    agentCpuMsPerBuild: { nodeMain: number; nodeOther: number; bpftrace: number } | undefined;
  } | undefined;
  /** traced builds the agent served before the measured rounds (see AGENT_WARMUP_BUILDS) */
  agentWarmupBuilds: number;
  /** cold `go build -a` of BENCH_PKGS, the build section's (a fresh GOCACHE each build), untraced vs through the agent (target ≤ 1.03×) */
  cold: { pairs: number; pkgs: string[]; untracedMs: number[]; viaAgentMs: number[]; failed: number; untracedMedianMs: number; viaAgentMedianMs: number; ratioMedian: number; deltaMedianMs: number };
}

/** Wall clock in epoch ns with sub-millisecond resolution. */
function epochNowNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

/** The root span's start and end (epoch ns) in an OTLP JSON lines file, if there is one. */
export function rootSpanWindow(text: string): { startNs: number; endNs: number } | undefined {
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const doc = JSON.parse(line) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<{ parentSpanId?: string; startTimeUnixNano: string; endTimeUnixNano: string }> }> }> };
    for (const rs of doc.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) {
      if (!span.parentSpanId) return { startNs: Number(span.startTimeUnixNano), endNs: Number(span.endTimeUnixNano) };
    }
  }
  return undefined;
}

function writeModule(dir: string, word = 'small'): void {
  writeFileSync(join(dir, 'go.mod'), 'module bench.example/small\n\ngo 1.19\n');
  writeFileSync(join(dir, 'main.go'), `package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc main() { fmt.Println(strings.ToUpper("${word}")) }\n`);
}

interface WarmSetup { ws: string; env: NodeJS.ProcessEnv; logs: string; work: string; build: readonly [string, readonly string[]]; edit: boolean }

/**
 * Rounds of untraced / bin/gostall / node bin/gostall.js builds, the order rotating; with
 * `edit`, main.go changes before every build (a new string: compile and link).
 */
async function warmRounds(cfg: BenchConfig, w: WarmSetup) {
  const { ws, env, logs, work, build } = w;
  const untracedMs: number[] = [];
  const viaAgentMs: number[] = [];
  const viaNodeMs: number[] = [];
  let fellBack = 0;
  let failed = 0;
  let edits = 0;
  const split = { startupMs: [] as number[], commandMs: [] as number[], afterExitMs: [] as number[] };
  const tracePath = join(work, 'trace.otlp.jsonl');
  const pairs = Math.max(cfg.pairs, 5) * 2;
  const variants = ['untraced', 'agent', 'node'] as const;
  const kind = w.edit ? 'edit' : 'noop';
  for (let p = 0; p < pairs; p++) {
    const order = [...variants.slice(p % 3), ...variants.slice(0, p % 3)];
    for (const v of order) {
      if (w.edit) writeModule(ws, `small-${++edits}`);
      const runLog = join(logs, `runagent-${kind}-${v}.log`);
      const traced = ['run', '--out', tracePath, '--', build[0], ...build[1]];
      const [f, a] = v === 'untraced' ? [build[0], [...build[1]]] : v === 'agent' ? [join(cfg.root, 'bin/gostall'), traced] : [process.execPath, [join(cfg.root, 'bin/gostall.js'), ...traced]];
      rmSync(tracePath, { force: true });
      const startedNs = epochNowNs();
      const r = await runTimed(f, a, { cwd: ws, env, logPath: runLog });
      const endedNs = startedNs + r.wallNs;
      if (v === 'agent') {
        let root: ReturnType<typeof rootSpanWindow>;
        try { root = rootSpanWindow(readFileSync(tracePath, 'utf8')); } catch { root = undefined; }
        if (root) {
          split.startupMs.push((root.startNs - startedNs) / 1e6);
          split.commandMs.push((root.endNs - root.startNs) / 1e6);
          split.afterExitMs.push((endedNs - root.endNs) / 1e6);
        }
      }
      if (r.exitCode !== 0) failed++;
      if (v === 'untraced') untracedMs.push(r.wallNs / 1e6);
      else {
        (v === 'agent' ? viaAgentMs : viaNodeMs).push(r.wallNs / 1e6);
        if (/Attaching|tracing on its own/.test(readFileSync(runLog, 'utf8'))) fellBack++;
      }
    }
  }
  const within = (xs: number[], f: (x: number, u: number) => number) => round(median(untracedMs.map((u, i) => f(xs[i]!, u))), 3);
  const summary = {
    untracedMedianMs: round(median(untracedMs), 1), viaAgentMedianMs: round(median(viaAgentMs), 1),
    ratioMedian: within(viaAgentMs, (x, u) => x / u), deltaMedianMs: round(within(viaAgentMs, (x, u) => x - u), 1),
    viaNodeMedianMs: round(median(viaNodeMs), 1), nodeRatioMedian: within(viaNodeMs, (x, u) => x / u), nodeDeltaMedianMs: round(within(viaNodeMs, (x, u) => x - u), 1),
  };
  const splitMedian = { startupMs: round(median(split.startupMs), 1), commandMs: round(median(split.commandMs), 1), afterExitMs: round(median(split.afterExitMs), 1) };
  return { pairs, untracedMs, viaAgentMs, viaNodeMs, fellBack, failed, split, summary, splitMedian };
}

export async function benchRunViaAgent(cfg: BenchConfig, log: (line: string) => void): Promise<RunViaAgentResults> {
  const logs = join(cfg.outDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const work = mkdtempSync(join(cfg.outDir, 'runagent-'));
  const ws = join(work, 'ws');
  mkdirSync(ws);
  writeModule(ws);
  const socket = join(work, 'agent/run.sock');
  const configPath = join(work, 'agent.json');
  writeFileSync(configPath, JSON.stringify({ executables: ['gopls'], run: { socket }, metrics: { enabled: true } }), { mode: 0o600 });
  const agent = startAgentProcess(cfg, ['--config', configPath, '--out', join(work, 'agent.otlp.jsonl'), '--state-dir', join(work, 'state'), '--metrics-listen', '127.0.0.1:0'],
    join(logs, 'runagent.usage.json'), join(logs, 'runagent-agent.log'));
  // a collector or tracer setting in the bench's environment would send bin/gostall to Node
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('GOSTALL_')));
  Object.assign(env, { GOCACHE: join(work, 'gocache'), GOFLAGS: '', GOSTALL_AGENT_SOCKET: socket });
  const build = ['go', ['build', '-o', join(work, 'small'), '.']] as const;
  try {
    const port = await Promise.race([agent.port, timeLimit(60_000).then(() => { throw new Error('the agent did not start in time'); })]);
    await waitHealthy(port, 90_000);
    await runTimed(build[0], [...build[1]], { cwd: ws, env, logPath: join(logs, 'runagent-warm.log') });
    await warmUpAgent(cfg, { ws, env, logs, work, build });
    const builtBefore = await tracesBuilt(port);
    const noop = await warmRounds(cfg, { ws, env, logs, work, build, edit: false });
    const edit = await warmRounds(cfg, { ws, env, logs, work, build, edit: true });
    // every bin/gostall run of both workloads must have been built by the agent
    const unbuilt = Math.max(0, noop.pairs + edit.pairs - ((await tracesBuilt(port)) - builtBefore));
    const probeTime = await probeTimePerBuild(cfg, agent.pid, { ws, env, logs, work, build });
    if (probeTime) {
      const cpu = probeTime.agentCpuMsPerBuild;
      log(`runagent: the probes' own time per build after an edit: ${probeTime.bpfMsPerBuild} ms over ${probeTime.builds} builds`
        + (cpu ? `; the agent's CPU per build: node main ${cpu.nodeMain} ms, node other threads ${cpu.nodeOther} ms, bpftrace ${cpu.bpftrace} ms` : ''));
    }
    const { untracedMs, viaAgentMs, viaNodeMs, split, pairs } = noop;
    const fellBack = noop.fellBack + edit.fellBack + unbuilt;
    const failed = noop.failed + edit.failed;
    const summary = noop.summary;
    const cold = await coldPairs(cfg, ws, env, logs, work);
    const splitMedian = noop.splitMedian;
    log(`runagent: warm go build ${summary.untracedMedianMs} ms untraced, ${summary.viaAgentMedianMs} ms through the agent (${summary.ratioMedian}×, +${summary.deltaMedianMs} ms), `
      + `${summary.viaNodeMedianMs} ms through the agent from Node (${summary.nodeRatioMedian}×, +${summary.nodeDeltaMedianMs} ms); `
      + `through the agent: startup ${splitMedian.startupMs} ms, command ${splitMedian.commandMs} ms, after its exit ${splitMedian.afterExitMs} ms`);
    log(`runagent: edit, then go build: ${edit.summary.untracedMedianMs} ms untraced, ${edit.summary.viaAgentMedianMs} ms through the agent (${edit.summary.ratioMedian}×, +${edit.summary.deltaMedianMs} ms); `
      + `startup ${edit.splitMedian.startupMs} ms, command ${edit.splitMedian.commandMs} ms, after its exit ${edit.splitMedian.afterExitMs} ms`);
    log(`runagent: cold go build -a ${cold.pkgs.join(' ')} ${cold.untracedMedianMs} ms untraced, ${cold.viaAgentMedianMs} ms through the agent (${cold.ratioMedian}×, +${cold.deltaMedianMs} ms)`);
    return { pairs, untracedMs, viaAgentMs, viaNodeMs, fellBack, failed, summary, split, splitMedian, agentWarmupBuilds: AGENT_WARMUP_BUILDS,
      edited: { untracedMs: edit.untracedMs, viaAgentMs: edit.viaAgentMs, viaNodeMs: edit.viaNodeMs, summary: edit.summary, splitMedian: edit.splitMedian }, probeTime, cold };
  } finally {
    try { process.kill(agent.pid, 'SIGTERM'); await Promise.race([agent.exited, timeLimit(30_000)]); } catch { /* gone */ }
    rmSync(work, { recursive: true, force: true });
  }
}

const BPF_PROBE_BUILDS = 10;

/**
 * Traced builds the agent serves before anything is timed. The issue's agent is one already
 * running on the machine; a fresh one has not yet compiled its per-run code (trace building
 * runs once a build): over its first ~100 runs its Node's CPU per build after an edit fell
 * from ~21 to ~16 ms on its main thread and from ~7 to ~3 ms on V8's other threads (2-CPU VM,
 * 30 builds measured after 5 or after 100). The no-op rounds then start from a partly warm
 * agent, as the edit rounds always did (they follow them).
 */
const AGENT_WARMUP_BUILDS = 20;

/** One build through bin/gostall, untimed, after an edit when `edit` names the new string; its trace and log are named by `name`. */
async function tracedBuild(cfg: BenchConfig, w: Omit<WarmSetup, 'edit'>, name: string, edit?: string): Promise<void> {
  if (edit !== undefined) writeModule(w.ws, edit);
  const traced = ['run', '--out', join(w.work, `${name}.otlp.jsonl`), '--', w.build[0], ...w.build[1]];
  await runTimed(join(cfg.root, 'bin/gostall'), traced, { cwd: w.ws, env: w.env, logPath: join(w.logs, `runagent-${name}.log`) });
}

/** Half of them after an edit, half no-op, alternating, untimed. */
async function warmUpAgent(cfg: BenchConfig, w: Omit<WarmSetup, 'edit'>): Promise<void> {
  for (let i = 0; i < AGENT_WARMUP_BUILDS; i++) await tracedBuild(cfg, w, 'agent-warmup', i % 2 === 0 ? `warmup-${i}` : undefined);
}

/** BPF run time of the agent's programs per build after an edit (see RunViaAgentResults.probeTime). */
async function probeTimePerBuild(cfg: BenchConfig, agentPid: number, w: Omit<WarmSetup, 'edit'>): Promise<RunViaAgentResults['probeTime']> {
  const tracer = findChild(agentPid, 'bpftrace');
  if (tracer === undefined) return undefined;
  return withBpfStats(async () => {
    const before = readProgCounters(tracer);
    const nodeBefore = readThreadsCpuNs(agentPid);
    const tracerBefore = readThreadsCpuNs(tracer);
    for (let i = 0; i < BPF_PROBE_BUILDS; i++) await tracedBuild(cfg, w, 'probe-time', `probe-time-${i}`);
    const nodeAfter = readThreadsCpuNs(agentPid);
    const tracerAfter = readThreadsCpuNs(tracer);
    const perBuildMs = (ns: number) => round(ns / BPF_PROBE_BUILDS / 1e6, 2);
    const agentCpuMsPerBuild = nodeBefore && nodeAfter && tracerBefore && tracerAfter ? {
      nodeMain: perBuildMs(nodeAfter.mainNs - nodeBefore.mainNs),
      nodeOther: perBuildMs((nodeAfter.allNs - nodeAfter.mainNs) - (nodeBefore.allNs - nodeBefore.mainNs)),
      bpftrace: perBuildMs(tracerAfter.allNs - tracerBefore.allNs),
    } : undefined;
    const programs = await progStatsBetween(before, readProgCounters(tracer));
    if (programs.length === 0) return undefined;
    const top = programs.slice(0, 6).map((p) => ({
      name: p.name, runsPerBuild: round(p.runCount / BPF_PROBE_BUILDS, 0), nsPerRun: round(p.runTimeNs / p.runCount, 0),
    }));
    return { builds: BPF_PROBE_BUILDS, bpfMsPerBuild: round(programs.reduce((t, p) => t + p.runTimeNs, 0) / BPF_PROBE_BUILDS / 1e6, 2), programs: top, agentCpuMsPerBuild };
  });
}

/** The agent's count of traces it built for bin/gostall. */
async function tracesBuilt(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^gostall_run_traces_built_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Cold `go build -a` pairs (alternated), each build with an empty GOCACHE. */
async function coldPairs(cfg: BenchConfig, ws: string, baseEnv: NodeJS.ProcessEnv, logs: string, work: string): Promise<RunViaAgentResults['cold']> {
  const pairs = cfg.quick ? 1 : 3;
  const untracedMs: number[] = [];
  const viaAgentMs: number[] = [];
  let failed = 0;
  const gocache = join(work, 'gocache-cold');
  // the build section's packages: the same build standalone (section 1) and through the agent
  const args = ['build', '-a', ...cfg.pkgs];
  for (let p = 0; p < pairs; p++) {
    for (const v of p % 2 === 0 ? ['untraced', 'agent'] : ['agent', 'untraced']) {
      rmSync(gocache, { recursive: true, force: true });
      const env = { ...baseEnv, GOCACHE: gocache };
      const [f, a] = v === 'untraced' ? ['go', args] : [join(cfg.root, 'bin/gostall'), ['run', '--out', join(work, 'cold.otlp.jsonl'), '--', 'go', ...args]];
      rmSync(join(work, 'cold.otlp.jsonl'), { force: true });
      const r = await runTimed(f, a, { cwd: ws, env, logPath: join(logs, `runagent-cold-${v}.log`) });
      if (r.exitCode !== 0) failed++;
      (v === 'untraced' ? untracedMs : viaAgentMs).push(r.wallNs / 1e6);
    }
  }
  rmSync(gocache, { recursive: true, force: true });
  return {
    pairs, pkgs: cfg.pkgs, untracedMs, viaAgentMs, failed,
    untracedMedianMs: round(median(untracedMs), 1), viaAgentMedianMs: round(median(viaAgentMs), 1),
    ratioMedian: round(median(untracedMs.map((u, i) => viaAgentMs[i]! / u)), 3),
    deltaMedianMs: round(median(untracedMs.map((u, i) => viaAgentMs[i]! - u)), 1),
  };
}
