// Each process's own environment: read at exec from /proc/PID/environ (only Go's variables,
// HOME, PATH and proxies kept), inherited from the nearest ancestor when it could not be read,
// with HOME following a su/runuser/sudo user switch. A fake /proc in a temp directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExecReadingCache, createProcessEnvs, keptEnviron, keptVariables, parseNameservers, passwdHomes, recordedProcessEnvs } from '../../src/diagnose/context-process-env.js';
import { parseEnviron } from '../../src/diagnose/context-go-env.js';
import { walk } from '../../src/model/tree.js';
import { proc } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'gostall-procenv-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeProc(pid: number, env: Record<string, string>, extra: { limits?: string; resolv?: string } = {}): void {
  const dir = join(root, 'proc', String(pid));
  mkdirSync(join(dir, 'root/etc'), { recursive: true });
  writeFileSync(join(dir, 'environ'), Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join(''));
  if (extra.limits) writeFileSync(join(dir, 'limits'), extra.limits);
  if (extra.resolv) writeFileSync(join(dir, 'root/etc/resolv.conf'), extra.resolv);
}

const passwd = join(root, 'passwd');
writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nu:x:1001:1001::/home/u:/bin/sh\n');

describe('a process\'s own environment', () => {
  it('keeps only what Go and its tools read', () => {
    const p = proc({ args: ['go', 'build'] });
    fakeProc(p.pid, { HOME: '/home/u', GOCACHE: '/c', PATH: '/usr/bin', AWS_SECRET_ACCESS_KEY: 'nope', GITHUB_TOKEN: 'nope' });
    const envs = createProcessEnvs(join(root, 'proc'), { passwdPath: passwd });
    envs.noteExec(p);
    expect(envs.envOf(p)).toEqual({ HOME: '/home/u', GOCACHE: '/c', PATH: '/usr/bin' });
  });

  it('reads a raw environ as a full parse would keep it: the last of a repeated name, no nameless or unterminated surprises', () => {
    const raw = (s: string) => Buffer.from(s, 'latin1');
    const cases = [
      'GOPATH=/a\0GOPATH=/b\0',
      '=GOCACHE\0GOCACHE==x=y\0',
      'NOEQUALS\0GOFLAGS=-mod=mod\0HOME=/h',
      'PATHX=/no\0XPATH=/no\0PATH=\0',
      'GOPROXY=https://u:p@proxy\0https_proxy=http://p\0\0\0',
      'GOENV=\xff\xfe\0CC=gcc\0',
      '',
    ];
    for (const text of cases) {
      const bytes = raw(text);
      expect(keptEnviron(bytes), JSON.stringify(text)).toEqual(keptVariables(parseEnviron(bytes)));
    }
    expect(keptEnviron(raw('GOPATH=/a\0GOPATH=/b\0=GOROOT\0NOEQ\0HOME=/h'))).toEqual({ GOPATH: '/b', HOME: '/h' });
  });

  it('is inherited from the nearest ancestor read, or the launch environment, with HOME following runuser', () => {
    const runuser = proc({ name: 'runuser', args: ['runuser', '-u', 'u', '--', 'go', 'build'] });
    const go = proc({ parent: runuser, args: ['go', 'build'], uid: 1001 });
    const envs = createProcessEnvs(join(root, 'proc'), { passwdPath: passwd, launchEnv: { HOME: '/root', PATH: '/root/bin:/usr/bin', SECRET: 'x' } });
    // neither could be read (gone before their exec record arrived): the launch env, HOME from passwd
    expect(envs.envOf(go)).toEqual({ HOME: '/home/u', PATH: '/root/bin:/usr/bin' });
    expect(envs.envOf(runuser)).toEqual({ HOME: '/root', PATH: '/root/bin:/usr/bin' });
    const setpriv = proc({ name: 'setpriv', args: ['setpriv', '--reuid=1001', 'go'] });
    const go2 = proc({ parent: setpriv, args: ['go', 'build'], uid: 1001 });
    expect(envs.envOf(go2)?.HOME).toBe('/root'); // setpriv keeps HOME, and so does Go
  });

  it('reads the open-file limit and the nameservers a process saw', () => {
    const p = proc({ args: ['go', 'mod', 'download'] });
    fakeProc(p.pid, { HOME: '/h' }, {
      limits: 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            16                   32                   files     \n',
      resolv: '# netns\nnameserver 127.0.0.1\nnameserver ::1\noptions timeout:1\n',
    });
    const envs = createProcessEnvs(join(root, 'proc'), { passwdPath: passwd });
    envs.noteExec(p);
    const child = proc({ parent: p, name: 'compile', args: ['compile'] });
    expect(envs.nofileOf(child)).toEqual({ soft: 16, hard: 32 });
    expect(envs.resolversOf(child)).toEqual(['127.0.0.1', '::1']);
  });

  it('travels in a run capture and reads back the same in a replay, on a machine without those processes', () => {
    const sh = proc({ name: 'sh', args: ['sh', '-c', 'runuser -u u -- go mod download'] });
    fakeProc(sh.pid, { HOME: '/root', GOFLAGS: '-mod=mod', PATH: '/usr/bin' }, {
      limits: 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            64                   128                  files     \n',
    });
    const runuser = proc({ name: 'runuser', parent: sh, args: ['runuser', '-u', 'u', '--', 'go', 'mod', 'download'] });
    const go = proc({ parent: runuser, args: ['go', 'mod', 'download'], uid: 1001 });
    fakeProc(go.pid, { HOME: '/home/u', GOPROXY: 'https://proxy.example', TOKEN: 'never kept' }, { resolv: 'nameserver 10.1.2.3\n' });
    const git = proc({ name: 'git', parent: go, args: ['git', 'ls-remote'], uid: 1001 }); // gone before its exec was read
    const live = createProcessEnvs(join(root, 'proc'), { passwdPath: passwd, launchEnv: { HOME: '/root', PATH: '/usr/bin' } });
    for (const p of walk(sh)) live.noteExec(p);

    const capture = JSON.parse(JSON.stringify(live.recorded(sh)));
    expect(JSON.stringify(capture)).not.toContain('never kept');
    const replayed = recordedProcessEnvs(capture, { passwdPath: passwd });
    for (const p of walk(sh)) replayed.noteExec(p);
    for (const p of [sh, runuser, go, git]) {
      expect(replayed.envOf(p), `env of ${p.pid}`).toEqual(live.envOf(p));
      expect(replayed.nofileOf(p)).toEqual(live.nofileOf(p));
      expect(replayed.resolversOf(p)).toEqual(live.resolversOf(p));
    }
    expect(replayed.envOf(git)?.HOME).toBe('/home/u');
    expect(replayed.resolversOf(git)).toEqual(['10.1.2.3']);
  });

  it('taken as exec records arrive, is what a pipeline built after the processes are gone sees (run through an agent)', () => {
    const go = proc({ args: ['go', 'build'] });
    const git = proc({ name: 'git', parent: go, args: ['git', 'status'] });
    fakeProc(go.pid, { HOME: '/home/u', GOFLAGS: '-mod=mod' }, { resolv: 'nameserver 10.9.9.9\n' });
    fakeProc(git.pid, { HOME: '/home/g' });
    const procRoot = join(root, 'proc');
    const taken = createExecReadingCache(procRoot);
    taken.take(go.pid, go.exec!.ts, go.exec!.filename);
    // a live pipeline would have read these now
    const live = createProcessEnvs(procRoot, { passwdPath: passwd });
    for (const p of walk(go)) live.noteExec(p);
    // both exit; the pipeline is built afterwards: git's exec was never taken, go's was
    rmSync(join(procRoot, String(go.pid)), { recursive: true });
    rmSync(join(procRoot, String(git.pid)), { recursive: true });
    const later = createProcessEnvs(procRoot, { passwdPath: passwd, read: (p) => taken.read(p) });
    for (const p of walk(go)) later.noteExec(p);
    expect(later.envOf(go)).toEqual(live.envOf(go));
    expect(later.resolversOf(go)).toEqual(['10.9.9.9']);
    expect(later.envOf(git)).toEqual({ HOME: '/home/u', GOFLAGS: '-mod=mod' }); // gone before it was read: its parent's
    // a second exec of the same pid is another reading
    expect(taken.read({ ...go, exec: { ...go.exec!, ts: go.exec!.ts + 1 } })).toEqual({});
    // each reading is handed out once (a long run's cache does not keep every exec's)
    expect(taken.read(go)).toEqual({});
  });

  it('parses passwd and resolv.conf defensively', () => {
    expect(passwdHomes('bad\nx:x:12:12::relative:/bin/sh\ny:x:13:13::/home/y:/bin/sh\n')).toEqual(new Map([[13, '/home/y']]));
    expect(parseNameservers('nameserver 10.0.0.2 # comment\nnameserver\tfe80::1%eth0\nnameserver $(evil)\n')).toEqual(['fe80::1%eth0']);
  });
});
