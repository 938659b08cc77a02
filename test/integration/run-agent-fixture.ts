/**
 * What the tests of `gostall run` through an agent share, for both clients (run-via-agent:
 * node bin/gostall.js; run-front: bin/gostall): an agent serving run requests for the whole
 * file, and a run through an agent that is killed while the command runs.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { sleep, startAgentProcess, type RunningAgent } from '../agent/support.js';
import { spawnShim } from '../../src/cli/shim.js';
import { runGostall, type GostallRun, type RunOptions } from './harness.js';

export interface RunAgent { dir: string; socketPath: string; agent: RunningAgent }

/**
 * An agent (following go, capturing stderr as run does: a failing command's causes) with
 * its run socket in a temp dir others may enter, started before the file's tests and
 * stopped after them; the returned function gives it to the tests.
 */
export function useRunAgent(prefix: string, batchDelay?: string): () => RunAgent {
  let fixture: RunAgent | undefined;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    await chmod(dir, 0o755);
    const socketPath = join(dir, 'agent/run.sock');
    const agent = await startAgentProcess({ executables: ['go'], tracer: { stderr: true }, run: { socket: socketPath },
      export: { out: join(dir, 'agent.otlp.jsonl'), ...(batchDelay ? { batch: { delay: batchDelay } } : {}) } });
    fixture = { dir, socketPath, agent };
    await agent.waitHealthy();
  }, 120_000);
  afterAll(async () => {
    await fixture?.agent.cleanup();
    if (fixture) await rm(fixture.dir, { recursive: true, force: true });
  });
  return () => fixture!;
}

/** A run through an agent killed (SIGKILL, nothing flushed) while the command runs: its result once the command is let go. */
export async function runWhileTheAgentDies(dir: string, name: string, opts: RunOptions & { env: NodeJS.ProcessEnv }): Promise<GostallRun> {
  const sock = join(dir, `${name}/run.sock`);
  const dying = await startAgentProcess({ executables: ['go'], run: { socket: sock }, export: { out: join(dir, `${name}-agent.otlp.jsonl`) } });
  try {
    await dying.waitHealthy();
    const ready = join(dir, `${name}-ready`);
    const release = join(dir, `${name}-release`);
    const running = runGostall(['run', '--out', join(dir, `${name}.otlp.jsonl`), '--', 'sh', '-c',
      `touch ${ready}; while [ ! -e ${release} ]; do sleep 0.05; done; exit 4`], { ...opts, env: { ...opts.env, GOSTALL_AGENT_SOCKET: sock } });
    while (!existsSync(ready)) await sleep(50); // (the caller's timeout bounds this)
    dying.proc.kill('SIGKILL');
    await dying.stop();
    writeFileSync(release, '');
    return await running;
  } finally {
    await dying.cleanup();
  }
}

/**
 * Sends `request` (its pid: a waiting shim of ours) to the agent and, once it follows, `later`
 * (after the shim's command has run, with release); all the agent said until it closed the
 * connection (or answered a flush).
 */
export function askThenSend(socketPath: string, request: Record<string, unknown>, later: string, opts: { release?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const shim = spawnShim(['true']);
    const s = createConnection(socketPath);
    let got = '';
    let sent = false;
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      if (!sent && got.includes('"type":"following"')) {
        sent = true;
        if (opts.release) { shim.release(); setTimeout(() => s.write(later), 200); } else s.write(later);
      }
      if (got.includes('"type":"flushed"')) s.end();
    });
    s.on('close', () => { shim.child.kill('SIGKILL'); resolve(got); });
    s.write(`${JSON.stringify({ v: 1, ...request, pid: shim.pid })}\n`);
  });
}

/**
 * A module asking for go 1.30 that imports a package Go 1.19 lacks, in dir/newer: only the
 * go command's stderr ("package slices is not in GOROOT") tells the toolchain is too old. The
 * command builds it from dir, so the go command's own directory, read at its exec, names it.
 */
export async function newerGoModule(dir: string): Promise<string[]> {
  const mod = join(dir, 'newer');
  await mkdir(mod, { recursive: true });
  writeFileSync(join(mod, 'go.mod'), 'module example.com/newer\n\ngo 1.30\n');
  writeFileSync(join(mod, 'main.go'), 'package main\n\nimport "slices"\n\nfunc main() { _ = slices.Contains([]int{1}, 1) }\n');
  return ['sh', '-c', 'cd newer && exec go build -o /dev/null .'];
}
