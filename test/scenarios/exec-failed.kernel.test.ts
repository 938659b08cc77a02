// A Go command told to run a tool that is not there (go build -toolexec /nonexistent/dlv):
// the build fails, and gostall blames exec.failed on the go process, naming the missing path.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, rootPid, traced } from './harness.js';

let workDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-exec-'));
  await writeHelloModule(join(workDir, 'hello'));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it('go build with a -toolexec program that does not exist is blamed on exec.failed, on the go process', async () => {
  const missing = join(workDir, 'not-installed', 'dlv');
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  const run = await traced(['go', 'build', '-toolexec', missing, '-o', join(workDir, 'out'), '.'], { cwd: join(workDir, 'hello'), env });
  logOutcome('missing tool (go build -toolexec)', run);
  expect(run.exitCode).not.toBe(0);
  const cause = expectSoleCause(run, 'exec.failed', 'go build');
  expect(cause.pid).toBe(rootPid(run));
  expect(cause.evidence).toContain(missing);
  expect(cause.evidence).toContain('ENOENT');
  expect(cause.attributes['gostall.cause.path']).toBe(missing);
});

it('a shell that execs a missing debugger is blamed on exec.failed, on the shell', async () => {
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  const run = await traced(['sh', '-c', 'exec /nonexistent/dlv version'], { cwd: workDir, env });
  logOutcome('missing tool (sh -c exec)', run);
  expect(run.exitCode).toBe(127);
  const cause = expectSoleCause(run, 'exec.failed', 'sh');
  expect(cause.evidence).toContain('/nonexistent/dlv');
});
