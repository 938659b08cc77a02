// Editor stall: gopls loads the workspace with its own `go list` / `go env` children; here the
// `go` on its PATH is a wrapper (like an asdf/goenv shim) that waits on a pipe nobody writes,
// so gopls hangs. gostall blames lsp.stall on gopls, naming the child, how long gopls waited
// and the pipe the child was blocked on. The same gopls with the real go has no cause.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { run as runCommand, waitUntil } from '../support/faults/common.js';
import { cleanEnv, ensureBuilt, expectNoCause, expectSoleCause, logOutcome, startTraced, traced } from './harness.js';

let workDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-lsp-'));
  await writeHelloModule(join(workDir, 'hello'));
  await mkdir(join(workDir, 'shim'));
  await runCommand('mkfifo', [join(workDir, 'fifo')]);
  // until "released" exists, every go command first waits to open the FIFO for reading
  await writeFile(join(workDir, 'shim/go'), `#!/bin/sh\n[ -e "${workDir}/released" ] || read x < "${workDir}/fifo"\nexec /usr/bin/go "$@"\n`);
  await chmod(join(workDir, 'shim/go'), 0o755);
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function env(shim: boolean): NodeJS.ProcessEnv {
  const base = goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir });
  return cleanEnv({ ...base, PATH: shim ? `${join(workDir, 'shim')}:${base.PATH}` : base.PATH! });
}

/** Seconds the oldest process running our shim has been alive (undefined: none yet). */
function shimAgeSeconds(): number | undefined {
  const shim = join(workDir, 'shim/go');
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  let oldest: number | undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(shim)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / 100;
      oldest = Math.max(oldest ?? 0, uptime - start);
    } catch {
      /* gone */
    }
  }
  return oldest;
}

it('gopls waiting on its go list child, which waits on a pipe, is blamed on lsp.stall', async () => {
  const handle = startTraced(['gopls', 'check', 'main.go'], { cwd: join(workDir, 'hello'), env: env(true) });
  try {
    // the stall lasts past the rule's 5 s threshold, then the shim is released
    await waitUntil(() => (shimAgeSeconds() ?? 0) >= 6, 'gopls\'s go child to hang for 6 s', { timeoutMs: 60_000, intervalMs: 200 });
  } finally {
    writeFileSync(join(workDir, 'released'), '');
    writeFileSync(join(workDir, 'fifo'), 'go\n'); // blocks until the waiting reader opens it
  }
  const run = await handle.done;
  logOutcome('gopls waiting on a hung go shim', run);
  const c = expectSoleCause(run, 'lsp.stall', 'gopls');
  expect(c.evidence).toMatch(/^gopls \(pid \d+\) waited [\d.]+ s for its child go (list|env) \(pid \d+\)/);
  expect(c.evidence).toContain(`in openat of ${join(workDir, 'fifo')}`);
  expect(Number(c.attributes['gostall.cause.wait_ns'])).toBeGreaterThanOrEqual(5e9);
});

it('the same gopls check with the real go has no cause', async () => {
  const run = await traced(['gopls', 'check', 'main.go'], { cwd: join(workDir, 'hello'), env: env(false) });
  logOutcome('gopls check, healthy', run);
  expect(run.exitCode).toBe(0);
  expectNoCause(run);
});
