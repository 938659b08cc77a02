// Go set-up failures, for real (seed documents 001–003): a wrong GOROOT, a module that needs a
// newer Go, a Go tool missing from PATH, and a user whose HOME is not writable. Each fails in
// milliseconds; the evidence is in a few syscalls, the process's own environment and Go's own
// words on stderr, and each run is blamed on exactly one cause.
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { commandAsUser, createUser, type TestUser } from '../support/faults/otherUser.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, traced } from './harness.js';

let workDir: string;
let user: TestUser | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-gosetup-'));
  await chmod(workDir, 0o755);
  await writeHelloModule(join(workDir, 'hello'));
  // go 1.30 and an import Go 1.19 lacks
  await mkdir(join(workDir, 'newer'), { recursive: true });
  await writeFile(join(workDir, 'newer/go.mod'), 'module example.com/newer\n\ngo 1.30\n');
  await writeFile(join(workDir, 'newer/main.go'), 'package main\n\nimport "slices"\n\nfunc main() { _ = slices.Contains([]int{1}, 1) }\n');
  await mkdir(join(workDir, 'not-a-goroot/bin'), { recursive: true });
  // a tree that claims another Go version (left behind by an upgrade, or another toolchain's)
  await mkdir(join(workDir, 'other-goroot/src/runtime'), { recursive: true });
  await writeFile(join(workDir, 'other-goroot/VERSION'), 'go1.22.0\ntime 2024-02-06T17:00:00Z\n');
  // dlv "installed" with go install into GOPATH/bin, which is not on PATH
  await mkdir(join(workDir, 'gopath/bin'), { recursive: true });
  await copyFile('/bin/true', join(workDir, 'gopath/bin/dlv'));
  await chmod(join(workDir, 'gopath/bin/dlv'), 0o755);
});

afterAll(async () => {
  await user?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ ...goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }), ...extra });
}

describe('GOROOT', () => {
  it('GOROOT=/some/missing/dir go build is blamed on go.goroot_invalid, quoting Go', async () => {
    const missing = join(workDir, 'some/missing/dir');
    const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'hello'), env: env({ GOROOT: missing }) });
    logOutcome('GOROOT missing', run);
    expect(run.exitCode).not.toBe(0);
    const c = expectSoleCause(run, 'go.goroot_invalid', 'go build');
    expect(c.evidence).toContain(`GOROOT ${missing} does not exist`);
    expect(c.evidence).toContain('cannot find GOROOT directory');
    const span = run.spans.find((s) => s.attributes['process.pid'] === c.pid)!;
    expect(span.attributes['gostall.stderr']).toContain(`go: cannot find GOROOT directory: ${missing}`);
    // the capture reads the write, it does not take it: the user still sees Go's message
    expect(run.stderr).toContain(`go: cannot find GOROOT directory: ${missing}\n`);
  });

  it('GOROOT at a directory that is not a Go installation is blamed on go.goroot_invalid', async () => {
    const fake = join(workDir, 'not-a-goroot');
    const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'hello'), env: env({ GOROOT: fake }) });
    logOutcome('GOROOT not a Go tree', run);
    expect(run.exitCode).not.toBe(0);
    const c = expectSoleCause(run, 'go.goroot_invalid', 'go build');
    expect(c.evidence).toContain(`${fake} is not a Go installation`);
    expect(c.evidence).toContain('is not in GOROOT');
  });

  it('GOROOT at a Go tree of another version than the go binary is blamed on go.goroot_invalid', async () => {
    const other = join(workDir, 'other-goroot');
    const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'hello'), env: env({ GOROOT: other }) });
    logOutcome('GOROOT of another version', run);
    expect(run.exitCode).not.toBe(0);
    const c = expectSoleCause(run, 'go.goroot_invalid', 'go build');
    expect(c.evidence).toMatch(new RegExp(`GOROOT ${other} is go1\\.22\\.0 but the go binary is go1\\.19`));
  });
});

it('go 1.30 in go.mod with an import Go 1.19 lacks is blamed on go.toolchain_mismatch', async () => {
  const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'newer'), env: env() });
  logOutcome('toolchain too old', run);
  expect(run.exitCode).not.toBe(0);
  const c = expectSoleCause(run, 'go.toolchain_mismatch', 'go build');
  expect(c.evidence).toContain(`${join(workDir, 'newer/go.mod')} asks for go 1.30 but go1.19`);
  expect(c.evidence).toContain('package slices is not in GOROOT');
});

it('a go build started in the module from a shell in its parent directory reads that module\'s go.mod, every time', async () => {
  // This go lives ~10 ms: its directory is read from /proc as its exec record arrives, and
  // once in ~15 runs that was too late when the records ahead of it were processed first.
  // `exec go`: the root itself, whose directory no other reading stands in for.
  for (const [i, script] of ['cd newer && go build -o /dev/null .', 'cd newer && exec go build -o /dev/null .'].flatMap((s) => [s, s, s]).entries()) {
    const run = await traced(['sh', '-c', script], { cwd: workDir, env: env() });
    logOutcome(`toolchain too old, from the parent directory #${i + 1}`, run);
    expect(run.exitCode).not.toBe(0);
    const c = expectSoleCause(run, 'go.toolchain_mismatch', 'go build');
    expect(c.evidence).toContain(`${join(workDir, 'newer/go.mod')} asks for go 1.30 but go1.19`);
  }
});

describe('a Go tool missing from PATH', () => {
  it('a shell that cannot find dlv is blamed on go.tool_not_found, naming GOPATH/bin where it is', async () => {
    const run = await traced(['sh', '-c', 'dlv version'], { cwd: workDir, env: env({ GOPATH: join(workDir, 'gopath') }) });
    logOutcome('dlv not on PATH', run);
    expect(run.exitCode).toBe(127);
    const c = expectSoleCause(run, 'go.tool_not_found', 'sh');
    expect(c.evidence).toContain('dlv was not found on PATH');
    expect(c.evidence).toContain(`installed at ${join(workDir, 'gopath/bin/dlv')}`);
    expect(c.attributes['gostall.cause.tool']).toBe('dlv');
  });

  it('env with a PATH that has no go is blamed on go.tool_not_found, not exec.failed', async () => {
    const run = await traced(['env', `PATH=${join(workDir, 'empty-bin')}`, 'go', 'version'], { cwd: workDir, env: env() });
    logOutcome('go not on PATH', run);
    expect(run.exitCode).toBe(127);
    const c = expectSoleCause(run, 'go.tool_not_found', 'env');
    expect(c.evidence).toContain(`go was not found on PATH (execve failed with ENOENT in: ${join(workDir, 'empty-bin')})`);
  });
});

// Regression (issue 11): run as root, `runuser -u U -- go build` for a user whose HOME is not
// writable and who never set GOCACHE. Go fails "mkdir /home/U/.cache: permission denied".
// gostall used to blame EACCES stats of gccgo in PATH entries under /root, scope home, judged
// with root's HOME.
it('a user whose HOME is not writable: the mkdir of ~/.cache is blamed (scope gocache), not PATH lookups under /root', async () => {
  user = await createUser();
  const u = user;
  await chown(u.home, 0, 0);
  await chmod(u.home, 0o755);
  try {
    await homeNotWritable(u);
  } finally {
    await chown(u.home, u.uid, u.gid); // userdel -r removes only a home the user owns
  }
});

async function homeNotWritable(u: TestUser): Promise<void> {
  const e = env({ PATH: `/root/go/bin:${process.env.PATH ?? '/usr/bin:/bin'}` });
  for (const k of ['GOCACHE', 'GOMODCACHE', 'GOPATH', 'XDG_CACHE_HOME']) delete e[k];
  const cmd = commandAsUser(u, 'go', ['build', '-o', '/dev/null', '.'], 'runuser');
  const run = await traced([cmd.file, ...cmd.args], { cwd: join(workDir, 'hello'), env: e });
  logOutcome('HOME not writable (runuser)', run);
  expect(run.exitCode).not.toBe(0);
  const c = expectSoleCause(run, 'fs.permission_denied', 'go build');
  expect(c.attributes['gostall.cause.scope']).toBe('gocache');
  expect(c.attributes['gostall.cause.path']).toBe(`${u.home}/.cache`);
  expect(c.evidence).toContain(`mkdirat ${u.home}/.cache`);
  expect(c.evidence).toContain(`HOME=${u.home}`);
  expect(c.evidence).toContain(`${u.home} is owned by uid 0 (root)`);
  expect(c.evidence).not.toContain('/root');
}
