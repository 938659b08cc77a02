// Helpers that write small Go modules for fault tests. Nothing here needs the network:
// modules use the standard library only, except writeModuleNeedingDownload, which is meant to fail.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Go version written into generated go.mod files (the Debian toolchain is 1.19). */
export const GO_DIRECTIVE = '1.19';

export interface HelloModuleOptions {
  /** Import net/http too, so the build links a much larger dependency graph. */
  withNetHttp?: boolean;
  /** Put a type error in main.go, so `go build` / `go vet` fail to compile it. */
  failing?: boolean;
}

/** Writes module example.com/hello (go.mod + main.go) into `dir`; returns the written paths. */
export async function writeHelloModule(
  dir: string,
  { withNetHttp = false, failing = false }: HelloModuleOptions = {},
): Promise<{ dir: string; goModPath: string; mainPath: string }> {
  await mkdir(dir, { recursive: true });
  const imports = ['"fmt"', ...(withNetHttp ? ['"net/http"'] : [])];
  const body = [
    withNetHttp ? '\t_ = http.StatusOK' : '',
    failing ? '\tvar broken int = "not an int" // deliberate compile error\n\t_ = broken' : '',
    '\tfmt.Println("hello")',
  ].filter((l) => l !== '');
  const main = `package main

import (
${imports.map((i) => `\t${i}`).join('\n')}
)

func main() {
${body.join('\n')}
}
`;
  const goModPath = join(dir, 'go.mod');
  const mainPath = join(dir, 'main.go');
  await writeFile(goModPath, `module example.com/hello\n\ngo ${GO_DIRECTIVE}\n`);
  await writeFile(mainPath, main);
  return { dir, goModPath, mainPath };
}

/**
 * Writes a node_modules-like tree under the module in `dir`: `nDirs` leaf directories
 * (node_modules/group-NNN/pkg-NNNNN, 100 per group) holding one index.js each and no Go files.
 * `go list ./...` still walks (and stats) all of it. Returns counts for assertions.
 */
export async function writeWalkTree(
  dir: string,
  nDirs: number,
): Promise<{ root: string; leafDirs: number; totalDirs: number; files: number }> {
  const root = join(dir, 'node_modules');
  await mkdir(root, { recursive: true });
  const perGroup = 100;
  let groups = 0;
  // Created in small parallel batches: fast, without opening thousands of files at once.
  for (let start = 0; start < nDirs; start += perGroup) {
    const group = join(root, `group-${String(start / perGroup).padStart(3, '0')}`);
    groups++;
    const end = Math.min(start + perGroup, nDirs);
    const jobs: Promise<void>[] = [];
    for (let i = start; i < end; i++) {
      const leaf = join(group, `pkg-${String(i).padStart(5, '0')}`);
      jobs.push(
        mkdir(leaf, { recursive: true }).then(() =>
          writeFile(join(leaf, 'index.js'), `module.exports = ${i};\n`),
        ),
      );
    }
    await Promise.all(jobs);
  }
  return { root, leafDirs: nDirs, totalDirs: 1 + groups + nDirs, files: nDirs };
}

/** The module path and version writeModuleNeedingDownload requires. */
export const MISSING_DEPENDENCY = { path: 'example.com/dep', version: 'v1.0.0' } as const;

/**
 * Writes module example.com/needsdep requiring example.com/dep v1.0.0, which is in no cache.
 * With GOFLAGS=-mod=mod and GOPROXY=http://127.0.0.1:PORT, `go build` tries to download it
 * from that port (there is deliberately no go.sum).
 */
export async function writeModuleNeedingDownload(
  dir: string,
): Promise<{ dir: string; goModPath: string; mainPath: string }> {
  await mkdir(dir, { recursive: true });
  const goModPath = join(dir, 'go.mod');
  const mainPath = join(dir, 'main.go');
  await writeFile(
    goModPath,
    `module example.com/needsdep\n\ngo ${GO_DIRECTIVE}\n\nrequire ${MISSING_DEPENDENCY.path} ${MISSING_DEPENDENCY.version}\n`,
  );
  await writeFile(
    mainPath,
    `package main\n\nimport "${MISSING_DEPENDENCY.path}"\n\nfunc main() {\n\tdep.Hello()\n}\n`,
  );
  return { dir, goModPath, mainPath };
}

export interface GoEnvBase {
  gocache: string;
  gomodcache: string;
  home: string;
  /** Default: HOME/go. */
  gopath?: string;
  /**
   * Leave cgo on (CGO_ENABLED unset). Off by default: on a machine without gcc (golang-go
   * installed without its recommends) any build importing net or os/user fails with
   * 'cgo: C compiler "gcc" not found'. Off costs one rebuild of the std packages into GOCACHE
   * (about 4 s for net/http).
   */
  cgo?: boolean;
}

/**
 * Environment for running the go command hermetically in tests: private caches and HOME,
 * module mode, no proxy (override GOPROXY to point at a fault listener), no toolchain switching,
 * no checksum database, no cgo unless asked. Spread it over process.env or pass it alone (it carries PATH).
 */
export function goEnv(base: GoEnvBase): Record<string, string> {
  return {
    GOCACHE: base.gocache,
    GOMODCACHE: base.gomodcache,
    HOME: base.home,
    GOPATH: base.gopath ?? join(base.home, 'go'),
    GOFLAGS: '-mod=mod',
    GOPROXY: 'off',
    // No sum.golang.org lookups: there is no network, and a download test should fail at the proxy.
    GOSUMDB: 'off',
    GOTOOLCHAIN: 'local',
    GO111MODULE: 'on',
    ...(base.cgo ? {} : { CGO_ENABLED: '0' }),
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
}
