// Fixture: a throwaway unprivileged user, for permission faults (e.g. go run as a user who cannot
// write the root-owned GOCACHE/GOMODCACHE).
import { buildWithRollback, randomTag, run } from './common.js';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** Home directory (created by useradd, removed by userdel -r). */
  home: string;
  /** userdel -r (and groupdel if the group survived); safe to call twice. */
  restore: () => Promise<void>;
}

/** True if `getent DB KEY` finds an entry. */
async function getentHas(db: 'passwd' | 'group', key: string): Promise<boolean> {
  try {
    await run('getent', [db, key]);
    return true;
  } catch {
    return false; // getent exits 2 when the key is not found
  }
}

/** True if a user named `name` exists. */
export function userExists(name: string): Promise<boolean> {
  return getentHas('passwd', name);
}

/** True if a group named `name` exists. */
export function groupExists(name: string): Promise<boolean> {
  return getentHas('group', name);
}

/** Creates a system user gostall-test-<random> with its own group and a home directory. */
export async function createUser(): Promise<TestUser> {
  const name = `gostall-test-${randomTag()}`;
  const home = `/home/${name}`;
  return buildWithRollback(async (stack) => {
    // Registered first: useradd may have written passwd/group before failing half-way.
    stack.push(`remove user ${name}`, async () => {
      if (await userExists(name)) await run('userdel', ['-r', name]);
      // USERGROUPS_ENAB normally removes the group with the user; make sure of it.
      if (await groupExists(name)) await run('groupdel', [name]);
    });
    await run('useradd', ['--system', '--create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', name]);
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot read uid/gid of ${name}`);
    return { name, uid, gid, home, restore: () => stack.restore() };
  });
}

/**
 * argv that runs `cmd args…` as `user`.
 * - 'setpriv' (default) only switches uid/gid/groups and keeps the caller's environment untouched,
 *   so pass the env you want (e.g. goEnv(…)) to spawn/execFile.
 * - 'runuser' behaves like su: it resets HOME, SHELL, USER and LOGNAME to the user's own.
 */
export function commandAsUser(
  user: Pick<TestUser, 'name' | 'uid' | 'gid'>,
  cmd: string,
  args: readonly string[] = [],
  via: 'setpriv' | 'runuser' = 'setpriv',
): { file: string; args: string[] } {
  if (via === 'runuser') return { file: 'runuser', args: ['-u', user.name, '--', cmd, ...args] };
  return {
    file: 'setpriv',
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', cmd, ...args],
  };
}
