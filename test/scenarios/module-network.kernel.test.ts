// Module downloads that fail, for real and without leaving the machine: name resolution that
// fails in a network namespace of the test's own (nothing answering, NXDOMAIN), GOPROXY=off
// with a module missing from the cache, a proxy answering 404, and GOPROXY=direct with git
// failing. Each is blamed on net.dns_failed or net.module_fetch_failed, and nothing else.
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeModuleNeedingDownload } from '../support/faults/goModule.js';
import { createDnsNamespace, type DnsNamespace } from '../support/faults/dnsNamespace.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, traced } from './harness.js';

let workDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-modnet-'));
  await writeModuleNeedingDownload(join(workDir, 'needsdep'));
  // a requirement on github.com: with GOPROXY=direct, go runs git ls-remote against it
  await mkdir(join(workDir, 'github'), { recursive: true });
  await writeFile(join(workDir, 'github/go.mod'), 'module example.com/gh\n\ngo 1.19\n\nrequire github.com/gostall-test/nosuch v0.1.0\n');
  await writeFile(join(workDir, 'github/main.go'), 'package main\n\nimport _ "github.com/gostall-test/nosuch"\n\nfunc main() {}\n');
  // a .git module path: go runs git directly; git's config sends every scheme to a missing local path
  await mkdir(join(workDir, 'vcs'), { recursive: true });
  await writeFile(join(workDir, 'vcs/go.mod'), 'module example.com/vcs\n\ngo 1.19\n\nrequire example.com/gostall/repo.git v1.0.0\n');
  await writeFile(join(workDir, 'vcs/main.go'), 'package main\n\nimport "example.com/gostall/repo.git"\n\nfunc main() { repo.Hello() }\n');
  await writeFile(join(workDir, 'gitconfig'), `[url "${join(workDir, 'no-such-repos')}/"]\n` +
    ['https://example.com/', 'git+ssh://example.com/', 'ssh://example.com/', 'git@example.com:'].map((u) => `\tinsteadOf = ${u}\n`).join(''));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return cleanEnv({
    ...goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }),
    GIT_CONFIG_GLOBAL: join(workDir, 'gitconfig'), GIT_TERMINAL_PROMPT: '0', ...extra,
  });
}

async function inNamespace<T>(mode: Parameters<typeof createDnsNamespace>[0], fn: (ns: DnsNamespace) => Promise<T>): Promise<T> {
  const ns = await createDnsNamespace(mode);
  try {
    return await fn(ns);
  } finally {
    await ns.restore();
  }
}

describe('name resolution', () => {
  it('GOPROXY=direct where no resolver answers: git cannot resolve github.com, blamed on net.dns_failed naming host and resolver', async () => {
    await inNamespace('refused', async (ns) => {
      const run = await traced([...ns.exec, 'go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'github'), env: env({ GOPROXY: 'direct' }) });
      logOutcome('DNS refused, GOPROXY=direct (git)', run);
      expect(run.exitCode).not.toBe(0);
      const c = expectSoleCause(run, 'net.dns_failed', 'git-remote-https');
      expect(c.evidence).toContain('github.com did not resolve with resolver 127.0.0.1');
      expect(c.evidence).toContain('Could not resolve host: github.com');
      expect(c.attributes['server.address']).toBe('github.com');
    });
  });

  it('a GOPROXY host answered NXDOMAIN is blamed on net.dns_failed on the go command', async () => {
    await inNamespace('nxdomain', async (ns) => {
      const run = await traced([...ns.exec, 'go', 'build', '-o', '/dev/null', '.'], {
        cwd: join(workDir, 'needsdep'), env: env({ GOPROXY: 'https://proxy.gostall-test.example' }),
      });
      logOutcome('DNS NXDOMAIN, GOPROXY host', run);
      expect(run.exitCode).not.toBe(0);
      const c = expectSoleCause(run, 'net.dns_failed', 'go build');
      expect(c.evidence).toContain('proxy.gostall-test.example did not resolve with resolver 127.0.0.1:53');
      expect(c.evidence).toContain('NXDOMAIN');
    });
  });
});

describe('name resolution: a resolver that never answers', () => {
  it('a GOPROXY host whose resolver times out is blamed on net.dns_failed', async () => {
    await inNamespace('silent', async (ns) => {
      const run = await traced([...ns.exec, 'go', 'build', '-o', '/dev/null', '.'], {
        cwd: join(workDir, 'needsdep'), env: env({ GOPROXY: 'https://proxy.gostall-test.example' }),
      });
      logOutcome('DNS timeout, GOPROXY host', run);
      expect(run.exitCode).not.toBe(0);
      const c = expectSoleCause(run, 'net.dns_failed', 'go build');
      expect(c.evidence).toContain('proxy.gostall-test.example did not resolve with resolver 127.0.0.1:53');
    });
  });
});

describe('module downloads', () => {
  it('GOPROXY=off with a module missing from the cache is blamed on net.module_fetch_failed, naming GOPROXY', async () => {
    const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'needsdep'), env: env({ GOPROXY: 'off' }) });
    logOutcome('GOPROXY=off', run);
    expect(run.exitCode).not.toBe(0);
    const c = expectSoleCause(run, 'net.module_fetch_failed', 'go build');
    expect(c.attributes['gostall.cause.variable']).toBe('GOPROXY');
    expect(c.evidence).toContain('module lookup disabled by GOPROXY=off');
  });

  it('a proxy answering 404 is blamed on net.module_fetch_failed, naming GOPRIVATE', async () => {
    const server: Server = createServer((_req, res) => { res.writeHead(404); res.end('not found'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const run = await traced(['go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'needsdep'), env: env({ GOPROXY: `http://127.0.0.1:${port}` }) });
      logOutcome('proxy 404', run);
      expect(run.exitCode).not.toBe(0);
      const c = expectSoleCause(run, 'net.module_fetch_failed', 'go build');
      expect(c.evidence).toContain('the module proxy answered HTTP 404');
      expect(c.attributes['gostall.cause.variable']).toBe('GOPRIVATE');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('GOPROXY=direct where git cannot read the repository is blamed on net.module_fetch_failed, naming the failed git', async () => {
    // in a namespace too: should git try a scheme the config does not rewrite, nothing leaves the machine
    await inNamespace('refused', async (ns) => {
      const run = await traced([...ns.exec, 'go', 'build', '-o', '/dev/null', '.'], { cwd: join(workDir, 'vcs'), env: env({ GOPROXY: 'direct' }) });
      logOutcome('GOPROXY=direct, git fails', run);
      expect(run.exitCode).not.toBe(0);
      const c = expectSoleCause(run, 'net.module_fetch_failed', 'go build');
      expect(c.evidence).toContain('GOPROXY=direct');
      expect(c.evidence).toMatch(/git \(pid \d+\) exited with code 128/);
    });
  });
});
