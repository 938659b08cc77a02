/**
 * Driving a `gostall agent` process for the bench: start it with the exit-usage preload,
 * learn its metrics port from its log, and read its /metrics and /healthz.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { BenchConfig } from './config.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A time limit to race against: its timer never keeps the bench alive by itself (after the race is won, it would for up to `ms`). */
export const timeLimit = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms).unref(); });

/** Sum of every sample of each metric family (labels folded), from a Prometheus text page. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match) m.set(match[1]!, (m.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return m;
}

export interface AgentProcess {
  pid: number;
  port: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stopLine: () => string | undefined;
}

/**
 * The variables that make a gostall started through bin/gostall (which execs Node: the pid
 * stays the same) write its own resource usage to usageFile as it exits (exit-usage-hook.ts).
 */
export function exitUsageEnv(root: string, usageFile: string): NodeJS.ProcessEnv {
  const hook = pathToFileURL(join(root, 'dist/bench/exit-usage-hook.js')).href;
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${hook}"`.trim(), GOSTALL_BENCH_USAGE_FILE: usageFile };
}

export function startAgentProcess(cfg: BenchConfig, args: string[], usageFile: string, logPath: string): AgentProcess {
  // started as users start it, through the installed command (bin/gostall: its Node flags for the agent)
  const child = spawn(join(cfg.root, 'bin/gostall'), ['agent', ...args], {
    env: { ...process.env, ...exitUsageEnv(cfg.root, usageFile) }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = openSync(logPath, 'w', 0o600);
  let stop: string | undefined;
  const port = new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (line) => {
      writeSync(log, `${line}\n`);
      const m = /metrics on http:\/\/[^ ]*:(\d+)\/metrics/.exec(line);
      if (m) resolve(Number(m[1]));
      if (line.includes('stopped:')) stop = line;
    });
    rl.once('close', () => reject(new Error('the agent exited before it served /metrics')));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }); });
  });
  void exited.then(() => setTimeout(() => { try { closeSync(log); } catch { /* closed */ } }, 100));
  return { pid: child.pid!, port, exited, stopLine: () => stop };
}

export async function waitHealthy(port: number, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return;
    } catch { /* not yet */ }
    await sleep(250);
  }
  throw new Error('the agent did not attach its probes in time (/healthz never answered 200)');
}

/**
 * Wait until the agent has read everything the workload made the probe print: the event
 * counter grows no faster than it does idle over a
 * whole second. Returns the seconds waited.
 */
export async function waitDrained(port: number, idleEventsPerS: number, maxMillis: number): Promise<number> {
  const t0 = Date.now();
  const allowance = Math.max(50, idleEventsPerS * 2);
  let prev = (await scrape(port)).get('gostall_events_total') ?? 0;
  while (Date.now() - t0 < maxMillis) {
    await sleep(1000);
    const now = (await scrape(port)).get('gostall_events_total') ?? 0;
    if (now - prev <= allowance) return (Date.now() - t0 - 1000) / 1000;
    prev = now;
  }
  return (Date.now() - t0) / 1000;
}

