// Test support for the agent tests: start `gostall agent` as a user would (the CLI, with a
// JSON config), read its /metrics, stop it with SIGTERM, and sample its memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GOSTALL = join(PROJECT_ROOT, 'bin/gostall.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll find() until it returns a value; on timeout, fail naming what was awaited, the span
 * names the receiver holds and the agent's stderr (what a reader of a failed run needs).
 */
export async function waitForValue<T>(what: string, find: () => T | undefined, timeoutMs: number,
  seen: { receiver: { spans: { name: string }[] }; agent: { stderr(): string } }): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; received: ${[...new Set(seen.receiver.spans.map((s) => s.name))].join(', ')}\n${seen.agent.stderr()}`);
    }
    await sleep(100);
  }
}

/** A TCP port nobody listens on right now (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Prometheus text → "name{labels}" → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

export interface RunningAgent {
  proc: ChildProcess;
  pid: number;
  dir: string;
  metricsUrl: string;
  stderr(): string;
  metrics(): Promise<Map<string, number>>;
  /** GET /healthz status */
  health(): Promise<number>;
  /** Poll until /healthz answers 200 (probes attached). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  cleanup(): Promise<void>;
}

/** Start the agent with this config (JSON object), metrics on a free port, state in a temp dir. */
export async function startAgentProcess(config: Record<string, unknown>, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<RunningAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'gostall-agent-test-'));
  const port = await freePort();
  const full = { stateDir: join(dir, 'state'), metrics: { listen: `127.0.0.1:${port}` }, ...config };
  const configPath = join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(full, null, 2));
  const env = { ...process.env, ...opts.env };
  // The agent reads OTEL_* itself; tests set what they mean through the config.
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const proc = spawn(process.execPath, [GOSTALL, 'agent', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const metricsUrl = `http://127.0.0.1:${port}`;
  const agent: RunningAgent = {
    proc,
    pid: proc.pid!,
    dir,
    metricsUrl,
    stderr: () => err,
    async metrics() {
      const res = await fetch(`${metricsUrl}/metrics`);
      return parseMetrics(await res.text());
    },
    async health() {
      try {
        return (await fetch(`${metricsUrl}/healthz`)).status;
      } catch {
        return 0;
      }
    },
    async waitHealthy(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`agent exited early:\n${err}`);
        if ((await agent.health()) === 200) return;
        await sleep(200);
      }
      throw new Error(`agent not healthy after ${timeoutMs} ms:\n${err}`);
    },
    async stop(timeoutMs = 60_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(timer);
      return { ...r, stderr: err };
    },
    async cleanup() {
      // SIGTERM first: the agent ends its tracer itself (and a SIGKILL reaches bpftrace
      // through its parent-death signal only once the agent is gone)
      if (proc.exitCode === null && proc.signalCode === null) await agent.stop(30_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return agent;
}

/** Run the CLI to completion (config checks, replay). */
export function runGostall(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string; maxRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const p = spawn(process.execPath, [GOSTALL, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    let maxRss = 0;
    const sampler = setInterval(() => { maxRss = Math.max(maxRss, rssOf(p.pid)); }, 100);
    p.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err, maxRssBytes: maxRss });
    });
    p.stdin!.end(opts.input);
  });
}

/** Current RSS of a process in bytes (0 when gone); synchronous read of /proc is fine in tests. */
export function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s*(\d+) kB$/m.exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
