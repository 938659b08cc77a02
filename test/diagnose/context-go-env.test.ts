// The Go environment a command ran with, with cmd/go's defaults.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDiagnosisContext } from '../../src/diagnose/context.js';
import { parseEnviron, redactGoProxy, resolveGoEnv } from '../../src/diagnose/context-go-env.js';
import { createMountTable } from '../../src/diagnose/mounts.js';
import type { ProcessNode } from '../../src/model/process.js';
import { devGoEnv, MOUNTS, proc, S, T0 } from './fixtures.js';

describe('resolveGoEnv', () => {
  it('fills in Go\'s defaults from HOME and the CPU count', () => {
    const go = resolveGoEnv({ HOME: '/home/dev' }, { source: 'launch', cpus: 4, runGoEnv: false });
    expect(go).toMatchObject({
      GOPATH: '/home/dev/go', GOMODCACHE: '/home/dev/go/pkg/mod', GOCACHE: '/home/dev/.cache/go-build', GOROOT: '/usr/lib/go',
      GOMAXPROCS: 4, GOMAXPROCS_SET: false, GOPROXY: 'https://proxy.golang.org,direct', source: 'launch',
    });
  });

  it('follows XDG_CACHE_HOME and the first GOPATH entry', () => {
    const go = resolveGoEnv({ HOME: '/h', XDG_CACHE_HOME: '/cache', GOPATH: '/a:/b' }, { source: 'environ', runGoEnv: false });
    expect(go.GOCACHE).toBe('/cache/go-build');
    expect(go.GOMODCACHE).toBe('/a/pkg/mod');
  });

  it('takes explicit values as they are', () => {
    const go = resolveGoEnv({ HOME: '/h', GOCACHE: '/c', GOMODCACHE: '/m', GOROOT: '/r', GOMAXPROCS: '2', GOFLAGS: '-mod=mod',
      GOPRIVATE: 'corp.example', CGO_ENABLED: '0', GOTOOLCHAIN: 'local' }, { source: 'launch', cpus: 8, runGoEnv: false });
    expect(go).toMatchObject({ GOCACHE: '/c', GOMODCACHE: '/m', GOROOT: '/r', GOMAXPROCS: 2, GOMAXPROCS_SET: true, GOFLAGS: '-mod=mod',
      GOPRIVATE: 'corp.example', CGO_ENABLED: '0', GOTOOLCHAIN: 'local' });
  });

  it('finds GOROOT from the go executable the way cmd/go does (its real path, two levels up)', () => {
    const go = resolveGoEnv({ HOME: '/h' }, { source: 'launch', goExecutable: '/usr/bin/go', runGoEnv: false });
    expect(go.GOROOT).toMatch(/^\/usr\/lib\/go/);
  });
});

describe('redactGoProxy', () => {
  it('removes credentials and query strings from every URL, keeping the list structure', () => {
    expect(redactGoProxy('https://user:s3cret@proxy.corp/go?token=abc,https://proxy.golang.org|direct'))
      .toBe('https://proxy.corp/go,https://proxy.golang.org|direct');
    expect(redactGoProxy('off')).toBe('off');
    expect(redactGoProxy(undefined)).toBeUndefined();
  });
});

describe('parseEnviron', () => {
  it('reads NUL-separated pairs, values with = included', () => {
    expect(parseEnviron(Buffer.from('A=1\0GOFLAGS=-ldflags=-s\0\0'))).toEqual({ A: '1', GOFLAGS: '-ldflags=-s' });
  });
});

describe('each process\'s Go environment in a diagnosis', () => {
  it('is worked out per process: equal environments agree, another executable or another variable does not', () => {
    // a GOROOT whose bin/go the go process ran: found from its binary, as cmd/go does
    const goroot = mkdtempSync(join(tmpdir(), 'gostall-goroot-'));
    try {
      mkdirSync(join(goroot, 'src/runtime'), { recursive: true });
      mkdirSync(join(goroot, 'bin'));
      writeFileSync(join(goroot, 'bin/go'), '');
      const go = proc({ args: ['go', 'build'] });
      go.exec!.filename = join(goroot, 'bin/go');
      const compile = proc({ name: 'compile', parent: go });
      const asm = proc({ name: 'asm', parent: go });
      const vet = proc({ name: 'vet', parent: go });
      // each read at its own exec: objects of their own, three with the same variables
      const envs = new Map<ProcessNode, NodeJS.ProcessEnv>([
        [go, { HOME: '/home/dev' }], [compile, { HOME: '/home/dev' }], [asm, { HOME: '/home/dev' }], [vet, { HOME: '/home/dev', GOCACHE: '/elsewhere' }],
      ]);
      const ctx = createDiagnosisContext({
        endNs: T0 + S, mounts: createMountTable(MOUNTS), workspace: '/workspace', go: devGoEnv(), processEnvs: { envOf: (p) => envs.get(p) },
      });
      expect(ctx.goEnvOf!(go)!.GOROOT).toBe(goroot);
      // no GOROOT of their own and no go binary: the launch environment's
      expect(ctx.goEnvOf!(compile)!.GOROOT).toBe('/usr/local/go');
      expect(ctx.goEnvOf!(asm)).toEqual(ctx.goEnvOf!(compile));
      expect(ctx.goEnvOf!(compile)!.GOCACHE).toBe('/home/dev/.cache/go-build');
      expect(ctx.goEnvOf!(vet)!.GOCACHE).toBe('/elsewhere');
    } finally {
      rmSync(goroot, { recursive: true, force: true });
    }
  });
});
