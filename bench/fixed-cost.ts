/**
 * Where the fixed cost of one `gostall run` goes, by part: node start-up, loading the run
 * command's modules (and the export modules, which load while bpftrace attaches), bpftrace
 * compiling the probe (spawn → its `Attaching N probes...` line), loading and attaching it
 * (that line → BEGIN), detaching it (SIGINT → exit; `run` itself ends bpftrace with SIGKILL and lets
 * the kernel detach while it exits), and the whole `gostall run -- true`. The probe parts
 * are measured for the run probe set now and, when the repository's history is at hand,
 * for the probe of main 55c4477 (before the probe sets), so the report shows before and after.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchConfig } from './config.js';
import { median, round } from './stats.js';
import { findBpftrace } from '../src/probe-runner/environment.js';
import { startTracer } from '../src/probe-runner/bpftrace.js';
import { linuxProbeScript } from '../src/paths.js';

export interface ProbeFixedCost { label: string; compileMs: number; attachMs: number; detachMs: number }

export interface FixedCostResults {
  reps: number;
  nodeStartMs: number;
  /** the same with the environment as given (NODE_EXTRA_CA_CERTS, where set, left in) */
  nodeStartAsGivenMs: number;
  runModulesMs: number;
  exportModulesMs: number;
  wholeRunTrueMs: number;
  probes: ProbeFixedCost[];
}

const BEFORE_COMMIT = '55c4477';

/** A chunk of dist/bundle by the module it starts with (its name carries a content hash). */
function bundleChunk(root: string, name: string): string {
  const file = readdirSync(join(root, 'dist/bundle')).find((f) => f.startsWith(`${name}-`) && f.endsWith('.js'));
  if (!file) throw new Error(`no ${name} chunk in dist/bundle: run npm run build`);
  return join('dist/bundle', file);
}

function wallMs(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { stdio: 'ignore', env });
  if (r.status !== 0) throw new Error(`${file} ${args.slice(0, 2).join(' ')} exited ${r.status ?? r.signal}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function probeCost(bpftrace: string, label: string, script: string, reps: number, log: (l: string) => void): Promise<ProbeFixedCost> {
  const compile: number[] = [];
  const attach: number[] = [];
  const detach: number[] = [];
  {
    for (let i = 0; i < reps; i++) {
      const sleeper = spawn('sleep', ['3600'], { stdio: 'ignore' });
      try {
        const params = { rootPid: sleeper.pid!, syscallThresholdNs: 1_000_000, offcpuThresholdNs: 1_000_000 };
        // bpftrace prints "Attaching N probes..." once the program is compiled, before it
        // loads (verifier) and attaches each one; BEGIN's R record follows the last attach
        let compiledAt: bigint | undefined;
        const t0 = process.hrtime.bigint();
        const tracer = startTracer({ bpftrace, script, params, onLine: (line) => { if (line.startsWith('Attaching ')) compiledAt ??= process.hrtime.bigint(); } });
        await tracer.ready;
        const readyAt = process.hrtime.bigint();
        compiledAt ??= readyAt;
        compile.push(Number(compiledAt - t0) / 1e6);
        attach.push(Number(readyAt - compiledAt) / 1e6);
        const t1 = process.hrtime.bigint();
        await tracer.stop();
        detach.push(Number(process.hrtime.bigint() - t1) / 1e6);
      } finally {
        sleeper.kill('SIGKILL');
      }
    }
  }
  const r = { label, compileMs: round(median(compile), 0), attachMs: round(median(attach), 0), detachMs: round(median(detach), 0) };
  log(`fixedcost: ${label}: compile ${r.compileMs} ms, attach ${r.attachMs} ms, detach ${r.detachMs} ms`);
  return r;
}

export async function benchFixedCost(cfg: BenchConfig, log: (line: string) => void): Promise<FixedCostResults> {
  const bpftrace = findBpftrace();
  if (!bpftrace) throw new Error('bpftrace not found');
  const reps = Math.max(3, cfg.pairs);
  const root = resolve('.');
  const nodeStart: number[] = [];
  const nodeStartAsGiven: number[] = [];
  const runModules: number[] = [];
  const exportModules: number[] = [];
  const whole: number[] = [];
  const imp = (...specs: string[]) => ['--input-type=module', '-e', `await Promise.all([${specs.map((x) => `import(${JSON.stringify(join(root, x))})`).join(', ')}])`];
  // Node's environment as bin/gostall gives it for a run that sends to no collector (src/cli/moved-env.ts)
  const nodeEnv: NodeJS.ProcessEnv = { ...process.env };
  if (nodeEnv.NODE_EXTRA_CA_CERTS !== undefined) {
    nodeEnv.GOSTALL_MOVED_NODE_EXTRA_CA_CERTS = nodeEnv.NODE_EXTRA_CA_CERTS;
    delete nodeEnv.NODE_EXTRA_CA_CERTS;
  }
  for (let i = 0; i < reps; i++) {
    nodeStartAsGiven.push(wallMs(process.execPath, ['-e', '0']));
    const n = wallMs(process.execPath, ['-e', '0'], nodeEnv);
    nodeStart.push(n);
    // what bin/gostall.js runs: the bundle's entry and run's part of it (`run --help` loads it and stops)
    runModules.push(wallMs(process.execPath, [join(root, 'bin/gostall.js'), 'run', '--help'], nodeEnv) - n);
    exportModules.push(wallMs(process.execPath, imp(bundleChunk(root, 'reliable'), bundleChunk(root, 'http-send')), nodeEnv) - n);
    const out = join(cfg.outDir, 'logs', 'fixedcost-true.otlp.jsonl');
    // the installed command, as users start it; its own tracer even where an agent serves runs
    whole.push(wallMs(join(root, 'bin/gostall'), ['run', '--standalone', '--out', out, '--', 'true']));
  }
  const probes: ProbeFixedCost[] = [];
  let before: string | undefined;
  try {
    before = execFileSync('git', ['show', `${BEFORE_COMMIT}:probes/linux/gostall.bt`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    log(`fixedcost: no git history here: the probe of ${BEFORE_COMMIT} is not measured`);
  }
  if (before) {
    const dir = mkdtempSync(join(tmpdir(), 'gostall-bench-'));
    try {
      writeFileSync(join(dir, 'before.bt'), before, { mode: 0o600 });
      probes.push(await probeCost(bpftrace, `probe of main ${BEFORE_COMMIT}`, join(dir, 'before.bt'), reps, log));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  probes.push(await probeCost(bpftrace, 'run probe set now', linuxProbeScript(), reps, log));
  return {
    reps,
    nodeStartMs: round(median(nodeStart), 0),
    nodeStartAsGivenMs: round(median(nodeStartAsGiven), 0),
    runModulesMs: round(median(runModules), 0),
    exportModulesMs: round(median(exportModules), 0),
    wholeRunTrueMs: round(median(whole), 0),
    probes,
  };
}
