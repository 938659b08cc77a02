/**
 * Runs the real gostall CLI (node bin/gostall.js run --json … --out … -- CMD) on a real
 * fault and reads back what a user gets: the diagnosis JSON, the decoded spans and the
 * terminal summary. Assertions check the cause ids, the span that carries each cause and
 * the evidence text, and that nothing else was blamed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { PROJECT_ROOT, decodeOtlpJsonLines, type DecodedSpan } from '../support/otlp-decode.js';
import { stopChild } from '../support/faults/common.js';

export const GOSTALL_BIN = join(PROJECT_ROOT, 'bin/gostall.js');
/** A traced command must finish well within this; a hang fails the test instead of the suite. */
const RUN_TIMEOUT_MILLIS = 120_000;
/**
 * Other people's work above this share of the CPUs makes a run contended for real (this
 * machine is shared), so cpu.contention is then a true answer the tests accept — nothing else.
 */
export const BUSY_MACHINE_SHARE = 0.4;

export interface DiagnosisCause {
  id: string; pid: number; process: string; evidence: string; hint: string; weightNs: number;
  attributes: Record<string, string | number>;
}
export interface Diagnosis { traceId: string; command: string; wallNs: number; causes: DiagnosisCause[] }

export interface TracedRun {
  exitCode: number | null;
  /** share of the machine's CPUs other work used during the run, measured here, independently of gostall */
  othersShare: number;
  /** gostall's summary (and CMD's stderr, which passes through) */
  stderr: string;
  diagnosis: Diagnosis;
  spans: DecodedSpan[];
}

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtimeMs(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when a source file is newer than it (npm test builds first; a lone vitest run may not have). */
export function ensureBuilt(): void {
  const main = join(PROJECT_ROOT, 'dist/src/cli/main.js');
  let builtMs = 0;
  try {
    builtMs = statSync(main).mtimeMs;
  } catch {
    /* never built */
  }
  if (newestMtimeMs(join(PROJECT_ROOT, 'src')) <= builtMs) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  } catch (err) {
    // tsc still emits when it reports type errors (someone's work in progress elsewhere);
    // only a build that wrote nothing is fatal here.
    if (statSync(main).mtimeMs <= builtMs) throw err;
  }
}

/** Machine-wide busy CPU time, and the CPU time of this test process and everything it waited for. */
export interface CpuSnapshot { atMs: number; busyNs: number; oursNs: number }

export function cpuSnapshot(): CpuSnapshot {
  const tickNs = 1e7; // USER_HZ = 100
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ours = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  return { atMs: performance.now(), busyNs: busy * tickNs, oursNs: ours * tickNs };
}

/** Share of the machine's CPU capacity used by processes other than this test and what it ran. */
export function othersShare(before: CpuSnapshot, after: CpuSnapshot): number {
  const capacityNs = availableParallelism() * (after.atMs - before.atMs) * 1e6;
  if (capacityNs <= 0) return 0;
  return Math.max(0, (after.busyNs - before.busyNs) - (after.oursNs - before.oursNs)) / capacityNs;
}

/** The environment for gostall and CMD: the test's, minus any collector gostall would try to reach. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(env)) if (k.startsWith('OTEL_')) delete env[k];
  return env;
}

export interface TracedHandle {
  child: ChildProcess;
  /** gostall's stderr so far (to explain a run that ended early) */
  stderr: () => string;
  done: Promise<TracedRun>;
}

/** Starts `gostall run` on command; done resolves when gostall exits, with everything it wrote. */
export function startTraced(command: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): TracedHandle {
  const dir = mkdtempSync(join(tmpdir(), 'gostall-scenario-'));
  const jsonPath = join(dir, 'diagnosis.json');
  const outPath = join(dir, 'trace.otlp.jsonl');
  const before = cpuSnapshot();
  const child = spawn(process.execPath, [GOSTALL_BIN, 'run', '--json', jsonPath, '--out', outPath, '--', ...command], {
    cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const done = new Promise<TracedRun>((resolve, reject) => {
    const timer = setTimeout(() => void stopChild(child).catch(() => undefined), RUN_TIMEOUT_MILLIS);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      try {
        const diagnosis = JSON.parse(readFileSync(jsonPath, 'utf8')) as Diagnosis;
        const spans = decodeOtlpJsonLines(readFileSync(outPath, 'utf8'));
        resolve({ exitCode, othersShare: othersShare(before, cpuSnapshot()), stderr, diagnosis, spans });
      } catch (err) {
        reject(new Error(`gostall left no diagnosis (exit ${exitCode}): ${(err as Error).message}\n${stderr}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
  return { child, stderr: () => stderr, done };
}

/** Runs `gostall run` on command to the end. */
export function traced(command: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<TracedRun> {
  return startTraced(command, opts).done;
}

/** One line per run for the test log: what a user would have been told. */
export function logOutcome(scenario: string, run: TracedRun): void {
  const causes = run.diagnosis.causes.map((c) => `${c.id} @ ${c.process} (pid ${c.pid}): ${c.evidence}`);
  console.log(`SCENARIO ${scenario} [other work on the machine: ${Math.round(run.othersShare * 100)}% of the CPUs]: ` +
    `exit ${run.exitCode}, ${causes.length === 0 ? 'no cause' : causes.join(' | ')}`);
}

/** Cause ids a run may show besides the expected ones: cpu.contention while the shared machine was busy. */
function tolerated(run: TracedRun): string[] {
  return run.othersShare >= BUSY_MACHINE_SHARE ? ['cpu.contention'] : [];
}

function spanOfPid(run: TracedRun, pid: number): DecodedSpan {
  const span = run.spans.find((s) => s.attributes['process.pid'] === pid);
  if (!span) throw new Error(`no span for pid ${pid}`);
  return span;
}

function rootSpan(run: TracedRun): DecodedSpan {
  const roots = run.spans.filter((s) => s.parentSpanId === undefined);
  expect(roots).toHaveLength(1);
  return roots[0]!;
}

/**
 * The run reported no cause at all, in the JSON and on the spans (except a cpu.contention that
 * is true: other work, measured by the test itself, kept the machine busy meanwhile).
 */
export function expectNoCause(run: TracedRun): void {
  if (tolerated(run).length > 0 && run.diagnosis.causes.length > 0) {
    expectOnlyCauses(run, [], []);
    return;
  }
  expect(run.diagnosis.causes, run.stderr).toEqual([]);
  expect(run.spans.filter((s) => s.attributes['gostall.cause'] !== undefined)).toEqual([]);
  expect(rootSpan(run).attributes['gostall.causes']).toEqual([]);
  expect(run.stderr).toContain('no cause found');
}

/**
 * Every cause of the run has one of ids (and each of mustHave is there), each is on the span
 * of the process that carries the evidence, and the root span ranks them.
 */
export function expectOnlyCauses(run: TracedRun, ids: string[], mustHave: string[] = ids): DiagnosisCause[] {
  const found = run.diagnosis.causes.map((c) => c.id);
  const allowed = [...ids, ...tolerated(run)];
  for (const id of found) expect(allowed, `unexpected cause ${id}\n${run.stderr}`).toContain(id);
  for (const id of mustHave) expect(found, run.stderr).toContain(id);
  for (const c of run.diagnosis.causes) {
    const span = spanOfPid(run, c.pid);
    const carried = span.attributes['gostall.cause.ids'] ?? [span.attributes['gostall.cause']];
    expect(carried).toContain(c.id);
    if (span.attributes['gostall.cause'] === c.id) expect(span.attributes['gostall.cause.evidence']).toBe(c.evidence);
    expect(typeof span.attributes['gostall.cause.hint']).toBe('string');
  }
  const root = rootSpan(run).attributes;
  const ranked = [...new Set(run.diagnosis.causes.map((c) => c.id))];
  expect(root['gostall.causes']).toEqual(ranked);
  if (ranked[0] !== undefined) expect(root['gostall.cause.primary']).toBe(ranked[0]);
  // No span outside the diagnosis claims a cause.
  const claimed = run.spans.filter((s) => s.attributes['gostall.cause'] !== undefined).map((s) => s.attributes['process.pid']);
  for (const pid of claimed) expect(run.diagnosis.causes.map((c) => c.pid)).toContain(pid);
  return run.diagnosis.causes.filter((c) => ids.includes(c.id));
}

/** Exactly one expected cause id (besides a tolerated cpu.contention), on the process named processName. */
export function expectSoleCause(run: TracedRun, id: string, processName: string): DiagnosisCause {
  const causes = expectOnlyCauses(run, [id]);
  const c = causes[0]!;
  expect(causes.every((x) => x.pid === c.pid)).toBe(true);
  expect(c.process).toBe(processName);
  expect(spanOfPid(run, c.pid).name).toBe(processName);
  expect(run.stderr).toContain(`${id} — ${processName} (pid ${c.pid})`);
  return c;
}

/** The pid of the root span (the traced command itself). */
export function rootPid(run: TracedRun): number {
  return rootSpan(run).attributes['process.pid'] as number;
}
