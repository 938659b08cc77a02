/**
 * gostall benchmark (`npm run bench`): measurement only, never assertions. Prints tables on
 * stdout, progress on stderr, and writes every number to .bench/results.json. Exits 0
 * unless the bench itself failed. Settings: see bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { benchAgent, type AgentResults } from './agent.js';
import { benchBuildOverhead, type BuildResults } from './build-overhead.js';
import { ConfigError, readConfig } from './config.js';
import { benchParseThroughput, type ParseResults } from './parse-throughput.js';
import { benchHostCost, type HostCostResults } from './host-cost.js';
import { benchFixedCost, type FixedCostResults } from './fixed-cost.js';
import { benchSoak, type SoakResults } from './soak.js';
import { benchRunViaAgent, type RunViaAgentResults } from './run-via-agent.js';
import { benchProbeCost, type ProbeCostResults } from './probe-cost.js';
import { renderAgent, renderBuild, renderFixedCost, renderHostCost, renderParse, renderProbeCost, renderSoak, renderRunViaAgent } from './report.js';

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function version(cmd: string, args: string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim(); } catch { return 'unavailable'; }
}

async function main(): Promise<number> {
  let cfg;
  try {
    cfg = readConfig();
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`bench: ${err.message}\n`); return 2; }
    throw err;
  }
  mkdirSync(join(cfg.outDir, 'logs'), { recursive: true, mode: 0o700 });
  const started = new Date();
  const results: {
    startedAt: string; finishedAt?: string; quick: boolean; machine: Record<string, unknown>; config: Record<string, unknown>;
    loadAverageStart: number[]; loadAverageEnd?: number[];
    build?: BuildResults; probecost?: ProbeCostResults; hostcost?: HostCostResults; fixedcost?: FixedCostResults; parse?: ParseResults; agent?: AgentResults; runagent?: RunViaAgentResults; soak?: SoakResults; errors: Record<string, string>;
  } = {
    startedAt: started.toISOString(),
    quick: cfg.quick,
    machine: {
      host: hostname(), kernel: release(), cpus: cpus().length, node: process.version,
      go: version('go', ['version']), bpftrace: version('bpftrace', ['--version']), strace: version('strace', ['-V']),
    },
    config: { pkgs: cfg.pkgs, pairs: cfg.pairs, soakMinutes: cfg.soakMinutes, streamLines: cfg.streamLines, parseReps: cfg.parseReps, sections: [...cfg.sections] },
    loadAverageStart: loadavg().map((x) => Math.round(x * 100) / 100),
    errors: {},
  };
  log(`load average ${results.loadAverageStart.join(' ')}; ${cfg.quick ? 'QUICK mode; ' : ''}sections ${[...cfg.sections].join(', ')}`);

  const out: string[] = [];
  const section = async <T>(name: string, run: () => Promise<T>, render: (r: T) => string): Promise<T | undefined> => {
    try {
      const r = await run();
      out.push(render(r));
      return r;
    } catch (err) {
      results.errors[name] = (err as Error).stack ?? String(err);
      log(`${name}: FAILED: ${(err as Error).message}`);
      out.push(`${name}: failed: ${(err as Error).message}\n`);
      return undefined;
    }
  };
  if (cfg.sections.has('build')) results.build = await section('build', () => benchBuildOverhead(cfg, log), renderBuild);
  if (cfg.sections.has('probecost')) results.probecost = await section('probecost', () => benchProbeCost(cfg, cpus().length, log), renderProbeCost);
  if (cfg.sections.has('hostcost')) results.hostcost = await section('hostcost', () => benchHostCost(cfg, log), renderHostCost);
  if (cfg.sections.has('fixedcost')) results.fixedcost = await section('fixedcost', () => benchFixedCost(cfg, log), renderFixedCost);
  if (cfg.sections.has('parse')) results.parse = await section('parse', () => benchParseThroughput(cfg, log), renderParse);
  if (cfg.sections.has('agent')) results.agent = await section('agent', () => benchAgent(cfg, log), renderAgent);
  if (cfg.sections.has('runagent')) results.runagent = await section('runagent', () => benchRunViaAgent(cfg, log), renderRunViaAgent);
  if (cfg.sections.has('soak')) results.soak = await section('soak', () => benchSoak(cfg, log), renderSoak);

  results.finishedAt = new Date().toISOString();
  results.loadAverageEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  // results.json is the latest run; a stamped copy keeps earlier (e.g. partial) runs from being lost.
  const resultsPath = join(cfg.outDir, 'results.json');
  const body = JSON.stringify(results, null, 2) + '\n';
  writeFileSync(resultsPath, body, { mode: 0o600 });
  writeFileSync(join(cfg.outDir, `results-${results.startedAt.replace(/[-:]/g, '').replace(/\..*/, '')}.json`), body, { mode: 0o600 });
  process.stdout.write(`\ngostall bench ${cfg.quick ? '(QUICK) ' : ''}${results.startedAt} · load average start ${results.loadAverageStart.join(' ')} end ${results.loadAverageEnd.join(' ')} · ${cpus().length} CPUs\n\n`);
  process.stdout.write(out.join('\n'));
  process.stdout.write(`\nall numbers: ${resultsPath}\n`);
  return Object.keys(results.errors).length > 0 ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`bench: internal error: ${(err as Error).stack ?? err}\n`); process.exitCode = 1; },
);
