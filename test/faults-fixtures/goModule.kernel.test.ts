// Proves the generated Go modules behave as promised with the Debian toolchain and no network.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/faults/common.js';
import {
  MISSING_DEPENDENCY,
  goEnv,
  writeHelloModule,
  writeModuleNeedingDownload,
  writeWalkTree,
} from '../support/faults/goModule.js';

let workDir: string;
let env: Record<string, string>;

/** Runs a go command and returns its combined output and exit status instead of throwing. */
async function go(args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await run('go', args, { cwd, env, timeoutMs: 90_000 });
    return { ok: true, output: r.stdout + r.stderr };
  } catch (err) {
    return { ok: false, output: (err as Error).message };
  }
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gostall-gomod-test-'));
  env = goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: join(workDir, 'home') });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('goEnv', () => {
  it('isolates caches and HOME and forbids downloads and toolchain switches', () => {
    const e = goEnv({ gocache: '/c', gomodcache: '/m', home: '/h' });
    expect(e).toMatchObject({
      GOCACHE: '/c',
      GOMODCACHE: '/m',
      HOME: '/h',
      GOPATH: '/h/go',
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      GO111MODULE: 'on',
      CGO_ENABLED: '0',
    });
    expect(e.PATH).toBeTruthy();
    expect(goEnv({ gocache: '/c', gomodcache: '/m', home: '/h', cgo: true })).not.toHaveProperty('CGO_ENABLED');
    expect(goEnv({ gocache: '/c', gomodcache: '/m', home: '/h', gopath: '/gp' }).GOPATH).toBe('/gp');
  });
});

describe('writeHelloModule', () => {
  it('builds and runs', async () => {
    const { dir } = await writeHelloModule(join(workDir, 'hello'));
    const build = await go(['build', '-o', join(dir, 'hello.bin'), '.'], dir);
    expect(build).toMatchObject({ ok: true });
    expect((await run(join(dir, 'hello.bin'), [])).stdout).toBe('hello\n');
  });

  it('withNetHttp pulls net/http into the build', async () => {
    const { dir } = await writeHelloModule(join(workDir, 'hello-http'), { withNetHttp: true });
    const deps = await go(['list', '-deps', '.'], dir);
    expect(deps.output.split('\n')).toContain('net/http');
    expect(await go(['build', '-o', '/dev/null', '.'], dir)).toMatchObject({ ok: true });
  });

  it('failing gives a compile error', async () => {
    const { dir } = await writeHelloModule(join(workDir, 'hello-broken'), { failing: true });
    const build = await go(['build', '-o', '/dev/null', '.'], dir);
    expect(build.ok).toBe(false);
    expect(build.output).toMatch(/main\.go:\d+:\d+: cannot use "not an int"/);
  });
});

describe('writeWalkTree', () => {
  it('writes nDirs non-Go directories that go list ./... walks but finds no packages in', async () => {
    const { dir } = await writeHelloModule(join(workDir, 'walk'));
    const tree = await writeWalkTree(dir, 1_000);
    expect(tree).toMatchObject({ leafDirs: 1_000, totalDirs: 1 + 10 + 1_000, files: 1_000 });
    const groups = await readdir(tree.root);
    expect(groups).toHaveLength(10);
    expect(await readdir(join(tree.root, 'group-003', 'pkg-00342'))).toEqual(['index.js']);

    const started = performance.now();
    const list = await go(['list', './...'], dir);
    console.log(`go list ./... over ${tree.totalDirs} extra directories: ${(performance.now() - started).toFixed(0)} ms`);
    expect(list).toEqual({ ok: true, output: 'example.com/hello\n' });
  });
});

describe('writeModuleNeedingDownload', () => {
  it('needs example.com/dep, which GOPROXY=off refuses to download', async () => {
    const { dir } = await writeModuleNeedingDownload(join(workDir, 'needsdep'));
    const build = await go(['build', '-o', '/dev/null', '.'], dir);
    expect(build.ok).toBe(false);
    expect(build.output).toContain(`downloading ${MISSING_DEPENDENCY.path} ${MISSING_DEPENDENCY.version}`);
    expect(build.output).toMatch(/GOPROXY=off/);
  });
});
