// The unit's system-call filter cannot be tried without booting systemd, so this checks what it
// would do: every system call the agent (bin/gostall as the unit starts it, node, setpriv, bpftrace) makes while it starts,
// traces a go build and stops — recorded with strace, under the unit's capability list — is
// allowed by the unit's SystemCallFilter= lines, as systemd-analyze expands them.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilityNames } from '../../src/probe-runner/capabilities.js';
import { GOSTALL_FRONT } from '../integration/harness.js';
import { freePort } from '../agent/support.js';
import { PROJECT_ROOT, unitDirectiveValues } from './support.js';

let work: string;
beforeAll(async () => { work = await mkdtemp(join(tmpdir(), 'gostall-syscalls-')); });
afterAll(async () => { if (work) await rm(work, { recursive: true, force: true }); });

/** The system calls a systemd filter expression names, groups expanded recursively. */
function expand(item: string, seen = new Set<string>()): string[] {
  if (!item.startsWith('@')) return [item];
  if (seen.has(item)) return [];
  seen.add(item);
  const out = execFileSync('systemd-analyze', ['syscall-filter', item], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l && l !== item).flatMap((l) => expand(l, seen));
}

/** Allowed = the allow-list lines minus the deny-list (~) lines, as systemd applies them. */
function allowedSyscalls(unit: string): Set<string> {
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const line of unitDirectiveValues(unit, 'SystemCallFilter')) {
    const deny = line.startsWith('~');
    for (const item of line.replace(/^~/, '').split(/\s+/).filter(Boolean)) for (const s of expand(item)) (deny ? denied : allowed).add(s);
  }
  for (const s of denied) allowed.delete(s);
  return allowed;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms:\n${log()}`);
}

describe('the systemd unit\'s system-call filter', () => {
  it('allows every call the agent makes while it starts, traces a go build and stops', async () => {
    const unit = readFileSync(join(PROJECT_ROOT, 'deploy/systemd/gostall-agent.service'), 'utf8');
    const allowed = allowedSyscalls(unit);
    expect(allowed.has('bpf') && allowed.has('perf_event_open')).toBe(true);

    const port = await freePort();
    const out = join(work, 'agent.jsonl');
    // the tracer settings of the unit's configuration (deploy/systemd/agent.json): with them the
    // agent does not try the mount namespace its sandbox forbids (tracer.mountNamespace)
    const unitConfig = JSON.parse(readFileSync(join(PROJECT_ROOT, 'deploy/systemd/agent.json'), 'utf8')) as { tracer?: unknown };
    expect(unitConfig.tracer).toEqual({ mountNamespace: false });
    const config = join(work, 'agent.json');
    await writeFile(config, JSON.stringify({ tracer: unitConfig.tracer }));
    const bounding = ['-all', ...capabilityNames().map((c) => `+${c.toLowerCase()}`)].join(',');
    const agent = spawn('strace', ['-f', '-qq', '-o', join(work, 'trace'), '-ff', 'setpriv', '--bounding-set', bounding, '--',
      GOSTALL_FRONT, 'agent', '--config', config, '--out', out, '--state-dir', join(work, 'state'), '--metrics-listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
    const exited = new Promise((r) => agent.once('exit', r));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((x) => x.status, () => 0)) === 200, 180_000, () => log);
      const unique = `syscalls${process.pid}x${Date.now().toString(36)}`;
      await writeFile(join(work, 'go.mod'), `module example.com/${unique}\n\ngo 1.19\n`);
      await writeFile(join(work, 'main.go'), 'package main\n\nfunc main() {}\n');
      execFileSync('go', ['build', '-o', join(work, unique), '.'], { cwd: work, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' }, stdio: 'ignore' });
      await waitFor(async () => (await readFile(out, 'utf8').catch(() => '')).includes(unique), 60_000, () => log);
    } finally {
      // SIGTERM to the agent itself (strace's child), so it stops as it would under systemd.
      const child = Number(readFileSync(`/proc/${agent.pid}/task/${agent.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
      if (child > 0) process.kill(child, 'SIGTERM'); else agent.kill('SIGTERM');
      await exited;
    }
    const made = new Set<string>();
    for (const f of (await readdir(work)).filter((n) => n.startsWith('trace.'))) {
      for (const m of (await readFile(join(work, f), 'utf8')).matchAll(/^([a-z_0-9]+)\(/gm)) made.add(m[1]!);
    }
    expect(made.has('bpf'), 'strace saw the tracer').toBe(true);
    expect([...made].filter((s) => !allowed.has(s)).sort()).toEqual([]);
  });
});
