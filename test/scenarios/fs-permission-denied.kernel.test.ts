// The classic dev-container mistake: Go caches created by root, go run as another user.
// fs.permission_denied on the go process, with gostall.cause.scope saying which cache.
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goEnv, writeHelloModule, writeModuleNeedingDownload } from '../support/faults/goModule.js';
import { commandAsUser, createUser, type TestUser } from '../support/faults/otherUser.js';
import { writeFileProxy } from '../support/faults/fileProxy.js';
import { run as runCommand } from '../support/faults/common.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, traced } from './harness.js';

let workDir: string;
let user: TestUser | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-perm-'));
  await chmod(workDir, 0o755); // the user must reach the modules, just not write the caches
  user = await createUser();
  for (const m of ['hello', 'needsdep']) {
    const dir = join(workDir, m);
    if (m === 'hello') await writeHelloModule(dir); else await writeModuleNeedingDownload(dir);
    await runCommand('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
  }
});

afterAll(async () => {
  await user?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A root-owned, world-readable directory (what `RUN go build` in a Dockerfile leaves behind). */
async function rootOwnedDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  await chown(path, 0, 0);
  await chmod(path, 0o755);
  return path;
}

it('go build as another user with a root-owned GOCACHE is blamed on fs.permission_denied, scope gocache', async () => {
  const u = user!;
  const gocache = await rootOwnedDir(join(workDir, 'root-gocache'));
  const env = cleanEnv(goEnv({ gocache, gomodcache: join(u.home, 'go/pkg/mod'), home: u.home }));
  const cmd = commandAsUser(u, 'go', ['build', '-o', '/dev/null', '.']);
  const run = await traced([cmd.file, ...cmd.args], { cwd: join(workDir, 'hello'), env });
  logOutcome('root-owned GOCACHE', run);
  expect(run.exitCode).not.toBe(0);
  const cause = expectSoleCause(run, 'fs.permission_denied', 'go build');
  expect(cause.attributes['gostall.cause.scope']).toBe('gocache');
  expect(cause.evidence).toContain(gocache);
  expect(cause.evidence).toContain('EACCES');
  expect(cause.evidence).toContain(`uid ${u.uid}`);
});

it('a module download as another user into a root-owned GOMODCACHE is blamed on fs.permission_denied, scope gomodcache', async () => {
  const u = user!;
  const gomodcache = await rootOwnedDir(join(workDir, 'root-gomodcache'));
  const proxy = await writeFileProxy(join(workDir, 'proxy'));
  await runCommand('chmod', ['-R', 'a+rX', join(workDir, 'proxy')]);
  const env = cleanEnv({ ...goEnv({ gocache: join(u.home, '.cache/go-build'), gomodcache, home: u.home }), GOPROXY: proxy });
  const cmd = commandAsUser(u, 'go', ['build', '-o', '/dev/null', '.']);
  const run = await traced([cmd.file, ...cmd.args], { cwd: join(workDir, 'needsdep'), env });
  logOutcome('root-owned GOMODCACHE', run);
  expect(run.exitCode).not.toBe(0);
  const cause = expectSoleCause(run, 'fs.permission_denied', 'go build');
  expect(cause.attributes['gostall.cause.scope']).toBe('gomodcache');
  expect(cause.evidence).toContain(gomodcache);
});
