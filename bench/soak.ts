/**
 * Issue 4 "done when": `gostall agent` for an hour of builds plus a gopls session, with
 * bounded memory. The agent (confined to a private cgroup when cgroup v2 is there) exports
 * over OTLP/HTTP to a local sink that accepts everything, while in its cgroup:
 *   - Go builds run back to back: a cold `go build -a` of BENCH_PKGS, then `go vet` and
 *     `go test` of a generated module (so go, compile, link, vet and test binaries come and go);
 *   - one gopls serves that module for the whole soak, driven by a real LSP client that
 *     edits main.go and asks for its symbols every 5 s (a long-lived process: activity
 *     windows, in-flight tracking).
 *   - `gostall run -- go build ./...` (warm cache) back to back through the agent's socket
 *     (issue 9: run follows its command through a running agent), exporting to the same sink.
 * Every minute (BENCH_SOAK_SAMPLE_SECONDS) the bench samples the agent's and bpftrace's RSS,
 * the agent's CPU over that minute and its /metrics; the sink (OTLP/HTTP JSON) counts the
 * spans it received, to set against the spans produced by the agent and by the runs.
 * Memory is judged on the trend after a warm-up: the RSS slope over the second half.
 * `npm run soak -- --minutes N` runs only this (bench/soak-main.ts); it is not part of CI.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { scrape, sleep, startAgentProcess, waitHealthy, timeLimit } from './agent-process.js';
import { createBenchCgroup } from './cgroup.js';
import type { ExitUsage } from './exit-usage-hook.js';
import { startGopls, type GoplsSession } from './lsp-client.js';
import { readCpuSeconds, readRssKiB } from './proc-sampler.js';
import { round } from './stats.js';
import { runTimed } from './timed-command.js';

export interface SoakSample {
  atSeconds: number;
  agentRssMiB: number | undefined;
  bpftraceRssMiB: number | undefined;
  events: number;
  lostEvents: number;
  spansExported: number;
  spansDropped: number;
  spoolSpans: number;
  treesOpen: number;
  /** agent CPU over the interval since the previous sample, % of one core */
  agentCpuPercent: number | undefined;
  /** spans the agent produced plus spans the runs through it reported */
  spansProduced: number;
  /** spans the sink received (agent and runs) */
  spansReceived: number;
  runs: number;
  runsFollowed: number;
}

export interface SoakResults {
  minutes: number;
  isolatedCgroup: string | undefined;
  builds: { runs: number; failed: number };
  runsViaAgent: { runs: number; failed: number; followed: number; refused: number; spansReported: number; broken: number };
  /** every other run is bin/gostall's (the agent builds the trace, written to a file): how many, how many the agent built, spans written */
  frontRuns: { runs: number; failed: number; built: number; spansWritten: number };
  gopls: { edits: number; answered: number; failedRequests: number; stillRunningAtEnd: boolean };
  sink: { requests: number; bytes: number; spans: number };
  samples: SoakSample[];
  agentRss: { afterWarmupMiB: number | undefined; endMiB: number | undefined; maxMiB: number | undefined; peakHwmMiB: number | undefined; slopeSecondHalfMiBPerHour: number | undefined };
  bpftraceRss: { maxMiB: number | undefined; endMiB: number | undefined };
  totals: Record<string, number>;
  agentCpuPerSecond: number | undefined;
  agentStopLine: string | undefined;
}

function rssMiB(pid: number | undefined): number | undefined {
  const kib = readRssKiB(pid);
  return kib === undefined ? undefined : round(kib / 1024, 1);
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number | undefined {
  if (points.length < 3) return undefined;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx === 0 ? undefined : sxy / sxx;
}

/** A Go module for gopls, vet and test: PKGS packages of a few files each, and main.go using them. */
function writeWorkspace(dir: string, pkgs: number): void {
  writeFileSync(join(dir, 'go.mod'), 'module soak.example/ws\n\ngo 1.19\n');
  const imports: string[] = [];
  for (let p = 0; p < pkgs; p++) {
    const pdir = join(dir, `p${p}`);
    mkdirSync(pdir, { recursive: true });
    for (let f = 0; f < 4; f++) {
      writeFileSync(join(pdir, `f${f}.go`), `package p${p}\n\nimport "strings"\n\n// F${f} joins its words.\nfunc F${f}(words ...string) string { return strings.Join(words, "${f}") }\n\ntype T${f} struct{ N int }\n\nfunc (t T${f}) Double() int { return 2 * t.N }\n`);
    }
    writeFileSync(join(pdir, 'p_test.go'), `package p${p}\n\nimport "testing"\n\nfunc TestF0(t *testing.T) {\n\tif F0("a", "b") != "a0b" {\n\t\tt.Fatal(F0("a", "b"))\n\t}\n}\n`);
    imports.push(`\t"soak.example/ws/p${p}"`);
  }
  writeFileSync(join(dir, 'main.go'), mainGo(imports, 0));
}

function mainGo(imports: string[], edit: number): string {
  const uses = imports.map((_, i) => `\t_ = p${i}.F0("x", "y")`).join('\n');
  return `package main\n\nimport (\n\t"fmt"\n${imports.join('\n')}\n)\n\n// Edit${edit} is what the soak's editor typed last.\nfunc Edit${edit}() int { return ${edit} }\n\nfunc main() {\n${uses}\n\tfmt.Println(Edit${edit}())\n}\n`;
}

/** An OTLP/HTTP endpoint that accepts every export (the soak measures the agent, not a collector). */
/** Spans in an OTLP/HTTP JSON request, counted with plain JSON.parse. */
function countJsonSpans(body: string): number {
  try {
    const req = JSON.parse(body) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
    return (req.resourceSpans ?? []).reduce((n, r) => n + (r.scopeSpans ?? []).reduce((m, sc) => m + (sc.spans?.length ?? 0), 0), 0);
  } catch { return 0; }
}

function startSink(): Promise<{ server: Server; port: number; stats: { requests: number; bytes: number; spans: number } }> {
  const stats = { requests: 0, bytes: 0, spans: 0 };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => { stats.bytes += c.length; parts.push(c); });
    req.on('end', () => {
      stats.requests++;
      stats.spans += countJsonSpans(Buffer.concat(parts).toString('utf8'));
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' });
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, stats })));
}

/**
 * `stopEarly` (Ctrl-C or SIGTERM to `npm run soak`) ends the soak at once: what was measured
 * is reported when the agent still answers, and the cgroup, state and workspace are removed
 * whatever happens (before, an interrupted soak left its cgroup and directories behind).
 */
export async function benchSoak(cfg: BenchConfig, log: (line: string) => void, stopEarly?: AbortSignal): Promise<SoakResults> {
  const logs = join(cfg.outDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const stateDir = mkdtempSync(join(cfg.outDir, 'soak-state-'));
  const ws = mkdtempSync(join(cfg.outDir, 'soak-ws-'));
  writeWorkspace(ws, 20);
  const cgroup = createBenchCgroup();
  if (!cgroup) log('soak: no cgroup v2 available: the agent traces host-wide');
  const sink = await startSink();
  const configPath = join(stateDir, 'config.json');
  const runSocket = join(stateDir, 'run/run.sock');
  const sinkUrl = `http://127.0.0.1:${sink.port}/v1/traces`;
  writeFileSync(configPath, JSON.stringify({
    executables: ['go', 'gopls', 'compile', 'link', 'asm', 'cgo', 'vet'],
    ...(cgroup ? { cgroup: cgroup.path } : {}),
    run: { socket: runSocket },
  }), { mode: 0o600 });
  const usageFile = join(logs, 'soak.usage.json');
  rmSync(usageFile, { force: true });
  const agent = startAgentProcess(cfg, ['--config', configPath, '--endpoint', sinkUrl, '--protocol', 'http/json', '--state-dir', stateDir, '--metrics-listen', '127.0.0.1:0'], usageFile, join(logs, 'soak-agent.log'));
  const wrap = (file: string, args: string[]): [string, string[]] => (cgroup ? cgroup.wrap(file, args) : [file, args]);
  let gopls: GoplsSession | undefined;
  let stop = false;
  try {
    const port = await Promise.race([agent.port, timeLimit(60_000).then(() => { throw new Error('the agent did not start its metrics server in time'); })]);
    await waitHealthy(port, 90_000);
    const t0 = Date.now();
    const endAt = t0 + cfg.soakMinutes * 60_000;
    const cpu0 = readCpuSeconds(agent.pid);
    log(`soak: agent attached; ${cfg.soakMinutes} min of builds and a gopls session (metrics on port ${port})`);

    const goplsStats = { edits: 0, answered: 0, failedRequests: 0 };
    gopls = await startGopls(ws, { wrap });
    const imports = Array.from({ length: 20 }, (_, i) => `\t"soak.example/ws/p${i}"`);
    const editor = (async () => {
      try { await gopls!.symbols; goplsStats.answered++; } catch { goplsStats.failedRequests++; }
      while (!stop) {
        await sleep(5000);
        if (stop) break;
        goplsStats.edits++;
        try {
          await Promise.race([gopls!.edit(mainGo(imports, goplsStats.edits)), timeLimit(60_000).then(() => { throw new Error('no answer in 60 s'); })]);
          goplsStats.answered++;
        } catch {
          goplsStats.failedRequests++;
        }
      }
    })();

    const buildStats = { runs: 0, failed: 0 };
    const builder = (async () => {
      const steps: [string, string[], boolean][] = [
        ['go', ['build', '-a', ...cfg.pkgs], true],
        ['go', ['vet', './...'], false],
        ['go', ['test', '-count=1', './...'], false],
      ];
      while (!stop) {
        for (const [file, args, cold] of steps) {
          if (stop) break;
          const gocache = cold ? mkdtempSync(join(cfg.outDir, 'gocache-')) : join(stateDir, 'gocache-warm');
          try {
            const [f, a] = wrap(file, args);
            const r = await runTimed(f, a, { cwd: ws, env: { ...process.env, GOCACHE: gocache, GOFLAGS: '' }, logPath: join(logs, 'soak-build.log') });
            buildStats.runs++;
            if (r.exitCode !== 0) buildStats.failed++;
          } finally {
            if (cold) rmSync(gocache, { recursive: true, force: true });
          }
        }
      }
    })();

    const runStats = { runs: 0, failed: 0, followed: 0, refused: 0, spansReported: 0, broken: 0 };
    const frontStats = { runs: 0, failed: 0, built: 0, spansWritten: 0 };
    const runner = (async () => {
      const goEnv = { GOSTALL_AGENT_SOCKET: runSocket, GOCACHE: join(stateDir, 'gocache-run'), GOFLAGS: '' };
      for (let n = 0; !stop; n++) {
        const runLog = join(logs, 'soak-run.log');
        if (n % 2 === 1) {
          // the installed command: the agent builds the trace and bin/gostall writes it (no Node)
          const out = join(stateDir, 'front.otlp.jsonl');
          const [f, a] = wrap(join(cfg.root, 'bin/gostall'), ['run', '--out', out, '--', 'go', 'build', './...']);
          const r = await runTimed(f, a, { cwd: ws, env: { ...withoutGostallSettings(process.env), ...goEnv }, logPath: runLog });
          rmSync(out, { force: true });
          frontStats.runs++;
          if (r.exitCode !== 0) frontStats.failed++;
          const written = /(\d+) spans? written to/.exec(readFileSync(runLog, 'utf8'));
          if (written) frontStats.spansWritten += Number(written[1]);
          await sleep(2000);
          continue;
        }
        const [f, a] = wrap(process.execPath, [join(cfg.root, 'bin/gostall.js'), 'run', '--endpoint', sinkUrl, '--protocol', 'http/json', '--', 'go', 'build', './...']);
        const r = await runTimed(f, a, { cwd: ws, env: { ...process.env, ...goEnv }, logPath: runLog });
        runStats.runs++;
        if (r.exitCode !== 0) runStats.failed++;
        const text = readFileSync(runLog, 'utf8');
        const sent = /(\d+) spans? sent to/.exec(text);
        if (sent) runStats.spansReported += Number(sent[1]);
        if (/tracing on its own/.test(text)) runStats.refused++;
        // the command's tree not seen (a trace without its exec or exit)
        if (/unknown was still running|was not seen|could not be finished/.test(text)) runStats.broken++;
        await sleep(2000);
      }
    })();

    const samples: SoakSample[] = [];
    let lastCpu = { at: Date.now(), cpu: cpu0 };
    const sample = async () => {
      const m = await scrape(port);
      const cpuNow = readCpuSeconds(agent.pid);
      const agentCpuPercent = cpuNow !== undefined && lastCpu.cpu !== undefined ? round((100 * (cpuNow - lastCpu.cpu)) / ((Date.now() - lastCpu.at) / 1000), 2) : undefined;
      lastCpu = { at: Date.now(), cpu: cpuNow };
      runStats.followed = m.get('gostall_run_requests_total') ?? 0;
      const s: SoakSample = {
        agentCpuPercent, spansProduced: (m.get('gostall_spans_produced_total') ?? 0) + runStats.spansReported, spansReceived: sink.stats.spans,
        runs: runStats.runs + frontStats.runs, runsFollowed: runStats.followed - (m.get('gostall_run_refused_total') ?? 0),
        atSeconds: round((Date.now() - t0) / 1000, 1),
        agentRssMiB: rssMiB(agent.pid), bpftraceRssMiB: rssMiB(m.get('gostall_tracer_pid')),
        events: m.get('gostall_events_total') ?? 0, lostEvents: m.get('gostall_events_lost_total') ?? 0,
        spansExported: m.get('gostall_spans_exported_total') ?? 0, spansDropped: m.get('gostall_spans_dropped_total') ?? 0,
        spoolSpans: m.get('gostall_spool_spans') ?? 0, treesOpen: m.get('gostall_trees_open') ?? 0,
      };
      samples.push(s);
      return s;
    };
    const sampleMillis = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 60) * 1000;
    const stopped = new Promise<void>((resolve) => stopEarly?.addEventListener('abort', () => resolve(), { once: true }));
    while (Date.now() < endAt) {
      await Promise.race([sleep(Math.min(sampleMillis, Math.max(0, endAt - Date.now()))), stopped]);
      if (stopEarly?.aborted) { log(`soak: stopped early, after ${round((Date.now() - t0) / 60_000, 1)} min`); break; }
      const s = await sample();
      log(`soak: ${Math.round(s.atSeconds / 60)} min: agent RSS ${s.agentRssMiB} MiB, CPU ${s.agentCpuPercent} %, bpftrace ${s.bpftraceRssMiB} MiB, ${s.events} events, ${s.lostEvents} lost, spans produced ${s.spansProduced} / received ${s.spansReceived}, ${buildStats.runs} builds, ${s.runs} runs (${frontStats.runs} of them bin/gostall; ${s.runsFollowed} through the agent), ${goplsStats.answered} gopls answers`);
    }
    stop = true;
    await Promise.all([builder, editor, runner]);
    const stillRunning = gopls.proc.exitCode === null && gopls.proc.signalCode === null;
    await gopls.kill();
    gopls = undefined;
    await sleep(15_000); // the last trees and gopls's exit are published
    const last = await sample();
    const m = await scrape(port);
    const cpu1 = readCpuSeconds(agent.pid);
    const elapsedS = (Date.now() - t0) / 1000;

    process.kill(agent.pid, 'SIGTERM');
    await Promise.race([agent.exited, timeLimit(60_000)]);
    let usage: ExitUsage | undefined;
    try { usage = JSON.parse(readFileSync(usageFile, 'utf8')) as ExitUsage; } catch { usage = undefined; }

    // Warm-up: the first sixth of the soak (at least one sample); the trend is judged on the second half.
    const warm = samples.find((s) => s.atSeconds >= elapsedS / 6) ?? samples[0];
    const secondHalf = samples.filter((s) => s.atSeconds >= elapsedS / 2 && s.agentRssMiB !== undefined)
      .map((s): [number, number] => [s.atSeconds / 3600, s.agentRssMiB!]);
    const rssValues = samples.map((s) => s.agentRssMiB).filter((x): x is number => x !== undefined);
    const btValues = samples.map((s) => s.bpftraceRssMiB).filter((x): x is number => x !== undefined);
    const slopeH = slope(secondHalf);
    const keys = ['gostall_events_total', 'gostall_events_lost_total', 'gostall_records_malformed_total', 'gostall_roots_total',
      'gostall_traces_published_total', 'gostall_traces_forced_total', 'gostall_episodes_total', 'gostall_spans_produced_total',
      'gostall_spans_exported_total', 'gostall_spans_spooled_total', 'gostall_spans_dropped_total', 'gostall_export_failures_total',
      'gostall_tracer_restarts_total', 'gostall_trees_dropped_total', 'gostall_records_orphan_total',
      'gostall_run_records_before_fork_total', 'gostall_run_records_fork_overdue_total'];
    return {
      minutes: cfg.soakMinutes,
      isolatedCgroup: cgroup?.path,
      builds: buildStats,
      frontRuns: { ...frontStats, built: m.get('gostall_run_traces_built_total') ?? 0 },
      runsViaAgent: { ...runStats, followed: runStats.followed - (m.get('gostall_run_refused_total') ?? 0), refused: m.get('gostall_run_refused_total') ?? 0 },
      gopls: { ...goplsStats, stillRunningAtEnd: stillRunning },
      sink: { ...sink.stats },
      samples,
      agentRss: {
        afterWarmupMiB: warm?.agentRssMiB, endMiB: last.agentRssMiB,
        maxMiB: rssValues.length ? Math.max(...rssValues) : undefined,
        peakHwmMiB: usage ? round(usage.maxRssKiB / 1024, 1) : undefined,
        slopeSecondHalfMiBPerHour: slopeH === undefined ? undefined : round(slopeH, 1),
      },
      bpftraceRss: { maxMiB: btValues.length ? Math.max(...btValues) : undefined, endMiB: last.bpftraceRssMiB },
      totals: Object.fromEntries(keys.map((k) => [k, m.get(k) ?? 0])),
      agentCpuPerSecond: cpu0 !== undefined && cpu1 !== undefined ? round((cpu1 - cpu0) / elapsedS, 4) : undefined,
      agentStopLine: agent.stopLine(),
    };
  } finally {
    stop = true;
    await gopls?.kill().catch(() => {});
    try { process.kill(agent.pid, 0); process.kill(agent.pid, 'SIGTERM'); await Promise.race([agent.exited, timeLimit(30_000)]); } catch { /* already gone */ }
    sink.server.close();
    cgroup?.remove();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(ws, { recursive: true, force: true });
  }
}

/** The environment without OTEL_* and GOSTALL_* settings, which would send bin/gostall to Node. */
function withoutGostallSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('GOSTALL_')));
}
