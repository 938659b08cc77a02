// gopls hanging in the editor, reported while it hangs: gopls's `go list` child is a `go`
// wrapper (like an asdf/goenv shim) waiting to open a pipe nobody writes. The agent's stall
// episode of that child says lsp.stall — gopls has waited so long for its child, which is
// blocked in openat of the FIFO — before anything exits.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { run as runCommand } from '../support/faults/common.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startAgentProcess, waitForValue, type RunningAgent } from './support.js';

let receiver: OtlpReceiver;
let agent: RunningAgent;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gostall-lsp-live-'));
  await writeHelloModule(join(workDir, 'hello'));
  await mkdir(join(workDir, 'shim'));
  await runCommand('mkfifo', [join(workDir, 'fifo')]);
  // until "released" exists, every go command first waits to open the FIFO for reading
  await writeFile(join(workDir, 'shim/go'), `#!/bin/sh\n[ -e "${workDir}/released" ] || read x < "${workDir}/fifo"\nexec /usr/bin/go "$@"\n`);
  await chmod(join(workDir, 'shim/go'), 0o755);
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({ executables: ['gopls'], episodes: { reportEvery: '1s' }, export: { endpoint: receiver.url, batch: { delay: '100ms' } } });
  await agent.waitHealthy();
}, 120_000);

afterAll(async () => {
  await agent?.cleanup();
  await receiver?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('gopls stalled on a blocked child, under the agent', () => {
  it('the child\'s stall episode says lsp.stall while gopls still waits', async () => {
    const base = goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir });
    const env = { ...process.env, ...base, PATH: `${join(workDir, 'shim')}:${base.PATH ?? process.env.PATH}` };
    const gopls = spawn('gopls', ['check', 'main.go'], { cwd: join(workDir, 'hello'), env, stdio: 'ignore' });
    const exited = new Promise((r) => gopls.once('exit', r));
    const fifo = join(workDir, 'fifo');
    try {
      const span = await waitForValue('a stall episode blamed on lsp.stall', () => receiver.spans.find((s) =>
        s.name.startsWith('stall ') && s.attributes['gostall.cause'] === 'lsp.stall' && String(s.attributes['gostall.cause.evidence']).includes(fifo)), 60_000, { receiver, agent });
      expect(gopls.exitCode, 'reported while gopls still waits').toBeNull();
      expect(span.attributes['gostall.episode.in_progress']).toBe(true);
      expect(String(span.attributes['gostall.cause.evidence'])).toMatch(/^gopls \(pid \d+\) has waited [\d.]+ s for its child go( \S+)? \(pid \d+\)/);
      expect(String(span.attributes['gostall.cause.evidence'])).toContain(`in openat of ${fifo} (still in flight)`);
      expect(Number(span.attributes['gostall.cause.wait_ns'])).toBeGreaterThanOrEqual(5e9);
    } finally {
      writeFileSync(join(workDir, 'released'), '');
      writeFileSync(fifo, 'go\n'); // blocks until the waiting reader opens it
      await exited;
    }
  }, 180_000);
});
