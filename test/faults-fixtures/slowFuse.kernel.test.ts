// Proves the slow FUSE fixture really delays syscalls, works for Go tooling, and unmounts cleanly.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readlink,
  readdir,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, run, sampleProcStates } from '../support/faults/common.js';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { isFuseMountedAt, mountSlowFuse, type SlowFuseMount } from '../support/faults/slowFuse.js';

let workDir: string;
let backingDir: string;
let env: Record<string, string>;
const mounts: SlowFuseMount[] = [];

/** Wall time of one command, in ms. */
async function timed(file: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<number> {
  const started = performance.now();
  await run(file, args, opts);
  return performance.now() - started;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gostall-fuse-test-'));
  backingDir = join(workDir, 'backing');
  await writeHelloModule(backingDir);
  env = goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: join(workDir, 'home') });
});

afterEach(async () => {
  // Even if an assertion failed, no mount may survive the test.
  for (const m of mounts.splice(0)) await m.restore();
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('mountSlowFuse', () => {
  it('makes stat through the mount take at least getattrDelayMs, and restore unmounts', async () => {
    const mountPoint = join(workDir, 'mnt-stat');
    const fuse = await mountSlowFuse({ backingDir, mountPoint, getattrDelayMs: 200 });
    mounts.push(fuse);

    expect(fuse.fsType).toBe('fuse.slowfs');
    expect(await isFuseMountedAt(fuse.mountPoint)).toBe(true);

    const viaFuse = await timed('stat', [join(fuse.mountPoint, 'main.go')]);
    const direct = await timed('stat', [join(backingDir, 'main.go')]);

    // While waiting for the FUSE server the caller sleeps interruptibly (S), not in D.
    const statter = spawn('stat', [join(fuse.mountPoint, 'main.go')], { stdio: 'ignore' });
    const states = await sampleProcStates(statter.pid!, { intervalMs: 10 });
    console.log(
      `stat through FUSE: ${viaFuse.toFixed(0)} ms, direct: ${direct.toFixed(0)} ms; ` +
        `states of a stat through FUSE, sampled every 10 ms: ${JSON.stringify(states)}`,
    );
    expect(states.S ?? 0).toBeGreaterThan(20);
    expect(states.D ?? 0).toBe(0);
    expect(viaFuse).toBeGreaterThanOrEqual(200);
    expect(direct).toBeLessThan(150);

    await fuse.restore();
    expect(await isFuseMountedAt(fuse.mountPoint)).toBe(false);
    expect(isPidAlive(fuse.serverPid)).toBe(false);
    expect(existsSync(mountPoint)).toBe(false); // we created it, so we removed it
    await fuse.restore(); // idempotent
  });

  it('applies readdir, open and read delays to their own operations', async () => {
    const fuse = await mountSlowFuse({
      backingDir,
      mountPoint: join(workDir, 'mnt-ops'),
      getattrDelayMs: 0,
      readdirDelayMs: 150,
      openDelayMs: 250,
      readDelayMs: 350,
    });
    mounts.push(fuse);
    const since = (t: number): number => performance.now() - t;

    let t = performance.now();
    await readdir(fuse.mountPoint);
    const readdirMs = since(t);
    t = performance.now();
    const handle = await open(join(fuse.mountPoint, 'go.mod'), 'r');
    const openMs = since(t);
    t = performance.now();
    const { bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    const readMs = since(t);
    await handle.close();
    console.log(`per-op delays: readdir ${readdirMs.toFixed(0)} ms, open ${openMs.toFixed(0)} ms, read ${readMs.toFixed(0)} ms`);

    expect(bytesRead).toBeGreaterThan(0);
    expect(readdirMs).toBeGreaterThanOrEqual(150);
    expect(readdirMs).toBeLessThan(250);
    expect(openMs).toBeGreaterThanOrEqual(250);
    expect(openMs).toBeLessThan(350);
    expect(readMs).toBeGreaterThanOrEqual(350);
  });

  it('is a full passthrough: writes, renames, links and deletes reach the backing directory', async () => {
    const fuse = await mountSlowFuse({ backingDir, mountPoint: join(workDir, 'mnt-rw'), getattrDelayMs: 1 });
    mounts.push(fuse);
    const m = (p: string): string => join(fuse.mountPoint, p);
    const b = (p: string): string => join(backingDir, p);

    await mkdir(m('sub'));
    await writeFile(m('sub/a.txt'), 'hello world');
    expect(await readFile(b('sub/a.txt'), 'utf8')).toBe('hello world');
    await truncate(m('sub/a.txt'), 5);
    expect(await readFile(m('sub/a.txt'), 'utf8')).toBe('hello');
    await chmod(m('sub/a.txt'), 0o600);
    expect((await stat(b('sub/a.txt'))).mode & 0o777).toBe(0o600);
    await rename(m('sub/a.txt'), m('sub/b.txt'));
    await symlink('b.txt', m('sub/link'));
    expect(await readlink(m('sub/link'))).toBe('b.txt');
    expect(await readFile(m('sub/link'), 'utf8')).toBe('hello');
    expect((await readdir(m('sub'))).sort()).toEqual(['b.txt', 'link']);
    await run('touch', ['-d', '2001-02-03T04:05:06Z', m('sub/b.txt')]);
    expect((await stat(b('sub/b.txt'))).mtime.toISOString()).toBe('2001-02-03T04:05:06.000Z');
    await run('chown', ['1:1', m('sub/b.txt')]);
    expect((await stat(b('sub/b.txt'))).uid).toBe(1);
    await run('sync', ['-f', m('sub/b.txt')]); // fsync + statfs path
    await run('df', [fuse.mountPoint]);
    await unlink(m('sub/link'));
    await unlink(m('sub/b.txt'));
    await rm(m('sub'), { recursive: true });
    expect(existsSync(b('sub'))).toBe(false);
  });

  it('lets go list, go build and gopls work on a module inside the mount', async () => {
    const fuse = await mountSlowFuse({
      backingDir,
      mountPoint: join(workDir, 'mnt-go'),
      getattrDelayMs: 2,
      readDelayMs: 1,
      readdirDelayMs: 2,
      openDelayMs: 1,
    });
    mounts.push(fuse);
    const cwd = fuse.mountPoint;

    const list = await run('go', ['list', './...'], { cwd, env });
    expect(list.stdout.trim()).toBe('example.com/hello');

    const buildMs = await timed('go', ['build', '-o', join(cwd, 'hello.bin'), '.'], { cwd, env });
    const out = await run(join(cwd, 'hello.bin'), []);
    expect(out.stdout.trim()).toBe('hello');
    expect(existsSync(join(backingDir, 'hello.bin'))).toBe(true);
    await unlink(join(cwd, 'hello.bin'));

    // gopls loads the module through go list and type-checks it; a clean file prints nothing.
    const goplsMs = await timed('gopls', ['check', join(cwd, 'main.go')], { cwd, env, timeoutMs: 60_000 });
    console.log(`through slow FUSE: go build ${buildMs.toFixed(0)} ms, gopls check ${goplsMs.toFixed(0)} ms`);
  });

  it('rolls back a half-done mount when setup times out', async () => {
    const mountPoint = join(workDir, 'mnt-timeout');
    // 0 ms cannot be met: setup must throw, and must leave no mount, server or directory behind.
    await expect(
      mountSlowFuse({ backingDir, mountPoint, getattrDelayMs: 0, mountTimeoutMs: 0 }),
    ).rejects.toThrow(/did not mount|exited/);
    expect(await isFuseMountedAt(mountPoint)).toBe(false);
    expect(existsSync(mountPoint)).toBe(false);
    const servers = await new Promise<string>((resolve) =>
      execFile('pgrep', ['-f', `slowfs.py ${backingDir} ${mountPoint}`], (_e, stdout) => resolve(stdout)),
    );
    expect(servers.trim()).toBe('');
  });

  it('refuses a mount point that already has a FUSE mount, without touching it', async () => {
    const fuse = await mountSlowFuse({ backingDir, mountPoint: join(workDir, 'mnt-twice'), getattrDelayMs: 0 });
    mounts.push(fuse);
    await expect(mountSlowFuse({ backingDir, mountPoint: fuse.mountPoint, getattrDelayMs: 0 })).rejects.toThrow(
      /already has a FUSE mount/,
    );
    expect(await isFuseMountedAt(fuse.mountPoint)).toBe(true);
  });
});
