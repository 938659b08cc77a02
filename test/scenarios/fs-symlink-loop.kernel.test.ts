// A module with a symbolic-link loop that the go command must resolve: fs.symlink_loop on the
// go process, naming the link.
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, traced } from './harness.js';

let workDir: string;
let moduleDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-symlink-'));
  moduleDir = join(workDir, 'hello');
  await writeHelloModule(moduleDir);
  // a -> b -> a: what a link farm or a careless `ln -s` leaves behind
  await symlink('b', join(moduleDir, 'a'));
  await symlink('a', join(moduleDir, 'b'));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it('go vet of a package path that loops through symlinks is blamed on fs.symlink_loop, naming the link', async () => {
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  const run = await traced(['go', 'vet', './a/...'], { cwd: moduleDir, env });
  logOutcome('symlink loop (go vet ./a/...)', run);
  expect(run.exitCode).not.toBe(0);
  const cause = expectSoleCause(run, 'fs.symlink_loop', 'go vet');
  expect(cause.evidence).toContain(`${moduleDir}/a`);
  expect(cause.evidence).toContain('ELOOP');
  expect(cause.attributes['gostall.cause.path']).toBe(join(moduleDir, 'a'));
});
