/**
 * Under sudo, `gostall run`'s default trace file belongs to the user who ran sudo: it goes
 * to their ~/.local/state/gostall/traces, owned by them, mode 0600 (not root's home).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGostall } from '../integration/harness.js';

const user = `gs9sudo${process.pid % 100000}`;
let uid = 0;
let gid = 0;
let home = '';

beforeAll(() => {
  execFileSync('useradd', ['-m', user]);
  uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
  gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
  home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5]!;
});

afterAll(() => {
  execFileSync('userdel', ['-r', user], { stdio: 'ignore' });
});

describe('gostall run under sudo', () => {
  it('writes the default trace to the invoking user\'s state directory, owned by them, 0600', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, SUDO_USER: user, SUDO_UID: String(uid), SUDO_GID: String(gid), HOME: '/root', GOSTALL_AGENT_SOCKET: '/nonexistent/run.sock' };
    delete env.XDG_STATE_HOME;
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    const run = await runGostall(['run', '--', 'true'], { env });
    expect(run.code, run.stderr).toBe(0);
    const dir = join(home, '.local/state/gostall/traces');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(run.stderr).toContain(join(dir, files[0]!));
    for (const p of [join(home, '.local'), join(home, '.local/state'), dir, join(dir, files[0]!)]) {
      const st = statSync(p);
      expect([st.uid, st.gid], p).toEqual([uid, gid]);
    }
    expect(statSync(join(dir, files[0]!)).mode & 0o777).toBe(0o600);
  });
});
