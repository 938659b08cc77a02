// Seed 002: one module cache shared by two users. User A downloads a module (Go leaves the
// extracted tree read-only and A's); user B, with the same GOMODCACHE, runs go clean -modcache
// and is refused. Blamed on fs.permission_denied, scope gomodcache, naming A as the owner.
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { goEnv, writeModuleNeedingDownload } from '../support/faults/goModule.js';
import { commandAsUser, createUser, type TestUser } from '../support/faults/otherUser.js';
import { writeFileProxy } from '../support/faults/fileProxy.js';
import { run as runCommand } from '../support/faults/common.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, traced } from './harness.js';

let workDir: string;
let userA: TestUser | undefined;
let userB: TestUser | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-shared-'));
  await chmod(workDir, 0o755);
  userA = await createUser();
  userB = await createUser();
});

afterAll(async () => {
  // A's read-only trees: make them removable first
  if (workDir) await runCommand('chmod', ['-R', 'u+w', workDir]).catch(() => undefined);
  if (workDir) await rm(workDir, { recursive: true, force: true });
  await userB?.restore();
  await userA?.restore();
});

it('go clean -modcache by user B in a module cache user A filled is blamed on fs.permission_denied, scope gomodcache, owner A', async () => {
  const a = userA!, b = userB!;
  const shared = join(workDir, 'shared-modcache');
  await mkdir(shared);
  await chmod(shared, 0o777); // a shared volume both users may write
  const proxy = await writeFileProxy(join(workDir, 'proxy'));
  await runCommand('chmod', ['-R', 'a+rX', join(workDir, 'proxy')]);
  const modA = join(workDir, 'a-module');
  await writeModuleNeedingDownload(modA);
  await runCommand('chown', ['-R', `${a.uid}:${a.gid}`, modA]);
  const base = (u: TestUser) => cleanEnv({ ...goEnv({ gocache: join(u.home, '.cache/go-build'), gomodcache: shared, home: u.home }), GOPROXY: proxy });
  const dl = commandAsUser(a, 'go', ['mod', 'download']);
  await runCommand(dl.file, dl.args, { cwd: modA, env: base(a) });

  const clean = commandAsUser(b, 'go', ['clean', '-modcache']);
  const run = await traced([clean.file, ...clean.args], { cwd: b.home, env: base(b) });
  logOutcome('shared GOMODCACHE, go clean -modcache as another user', run);
  expect(run.exitCode).not.toBe(0);
  const c = expectSoleCause(run, 'fs.permission_denied', 'go clean');
  expect(c.attributes['gostall.cause.scope']).toBe('gomodcache');
  expect(c.evidence).toContain(`under GOMODCACHE (${shared})`);
  expect(c.evidence).toContain(`it ran as uid ${b.uid}`);
  expect(c.evidence).toContain(`owned by uid ${a.uid} (${a.name})`);
  expect(c.attributes['gostall.cause.owner_uid']).toBe(a.uid);
});
