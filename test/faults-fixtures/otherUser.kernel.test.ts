// Proves the throwaway user exists, can run commands (and hits a root-owned GOCACHE), and is removed.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../support/faults/common.js';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { commandAsUser, createUser, groupExists, userExists, type TestUser } from '../support/faults/otherUser.js';

let user: TestUser | undefined;
let workDir: string | undefined;

afterEach(async () => {
  await user?.restore();
  user = undefined;
  if (workDir) await rm(workDir, { recursive: true, force: true });
  workDir = undefined;
});

describe('createUser', () => {
  it('creates a user with a home directory, runs commands as it, and restore removes it all', async () => {
    user = await createUser();
    const u = user;
    expect(u.name).toMatch(/^gostall-test-[0-9a-f]{8}$/);
    expect(await userExists(u.name)).toBe(true);
    expect(u.uid).toBeGreaterThan(0);
    expect((await stat(u.home)).uid).toBe(u.uid);

    for (const via of ['setpriv', 'runuser'] as const) {
      const argv = commandAsUser(u, 'id', ['-u'], via);
      expect((await run(argv.file, argv.args)).stdout.trim()).toBe(String(u.uid));
    }
    // setpriv keeps the caller's environment; runuser resets HOME to the user's.
    const viaRunuser = commandAsUser(u, 'sh', ['-c', 'echo $HOME'], 'runuser');
    expect((await run(viaRunuser.file, viaRunuser.args)).stdout.trim()).toBe(u.home);

    await u.restore();
    expect(await userExists(u.name)).toBe(false);
    expect(await groupExists(u.name)).toBe(false);
    expect(existsSync(u.home)).toBe(false);
    await u.restore(); // idempotent
  });

  it('reproduces the permission fault: go as the user cannot write a root-owned 0755 GOCACHE', async () => {
    user = await createUser();
    workDir = await mkdtemp(join(tmpdir(), 'gostall-user-test-'));
    await chmod(workDir, 0o755); // mkdtemp makes 0700; the user must be able to enter it
    const moduleDir = join(workDir, 'mod');
    await writeHelloModule(moduleDir);
    const gocache = join(workDir, 'gocache');
    await mkdir(gocache, { mode: 0o755 });
    const env = goEnv({ gocache, gomodcache: join(workDir, 'gomodcache'), home: user.home });

    const argv = commandAsUser(user, 'go', ['build', '-o', '/dev/null', '.']);
    const failure = await run(argv.file, argv.args, { cwd: moduleDir, env }).then(
      () => undefined,
      (err: Error) => err,
    );
    console.log(`go build as ${user.name}: ${failure?.message.split('\n').at(-1)}`);
    expect(failure?.message).toMatch(/permission denied/);
    // The same build as root works, so the cause is ownership alone.
    await run('go', ['build', '-o', '/dev/null', '.'], { cwd: moduleDir, env });
  });
});
