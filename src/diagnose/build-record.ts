/**
 * A record of one go command's build, kept between runs so the next build of the same
 * packages can say why it rebuilt (issue 13): the build-wide inputs of the cache keys (the
 * Go build variables, the go command's flags, GOROOT and the Go version, the module's and
 * the module cache's directories) and, per package it compiled, the compile flags and the
 * size, mtime and content hash of each source file, read after the build (bounded). A
 * package that hit runs no compile, so its fingerprint is the one from the last build that
 * compiled it (the history merges them; see src/pipeline/build-history.ts).
 *
 * The build key names "the same build" across runs and machines' paths: the module path from
 * go.mod (not its directory, so a moved checkout is the same build), the subcommand and the
 * package patterns. Flags and variables are inputs, not part of the key.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readRegularFile } from '../vocabulary/regular-file.js';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { compileInputsOf, goCommandLineOf, packageKeyOf, trimpathOn } from '../model/go-build-inputs.js';
import { goCommandDir, isGoCommand } from './evidence.js';
import type { ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import type { DiagnosisContext } from './types.js';

/**
 * The Go build variables whose values are recorded and shown (all documented by `go help
 * environment` as affecting builds). Other variables are never recorded: they do not enter
 * the compile keys, and their values may be secrets.
 */
export const BUILD_VARIABLES = [
  'GOFLAGS', 'GOOS', 'GOARCH', 'GOAMD64', 'GO386', 'GOARM', 'GOMIPS', 'GOMIPS64', 'GOPPC64', 'GOWASM', 'GOEXPERIMENT',
  'CGO_ENABLED', 'CGO_CFLAGS', 'CGO_CPPFLAGS', 'CGO_CXXFLAGS', 'CGO_FFLAGS', 'CGO_LDFLAGS', 'CC', 'CXX',
] as const;

/** One source file as it was after the build. */
export interface FileFingerprint { size: number; mtimeMs: number; sha256?: string }

/** What a package's compile saw; config: the build's settings then (./configurationOf), so flags are compared only under the same settings. */
export interface PackageFingerprint { flags: string[]; files: Record<string, FileFingerprint>; atMs: number; config?: string }

/** Build-wide inputs by id: `env:GOFLAGS`, `go.flags`, `go.version`, `goroot`, `module.dir`, `gomodcache`, `gocache`, `trimpath`. */
export type BuildInputs = Record<string, string>;

export interface BuildRecord {
  key: string;
  /** `go build ./... (example.org/app)`: for people */
  label: string;
  atMs: number;
  inputs: BuildInputs;
  /** lookups of this build (the next one reads whether this one could warm the cache) */
  hits: number;
  misses: number;
  /**
   * the settings (./configurationOf) this build was made with here, most recent first: a
   * build whose settings were made before could have found their entries in the cache
   */
  configs: string[];
  packages: Record<string, PackageFingerprint>;
}

/** Settings of the build a user chooses (variables, flags, Go version), as opposed to where it happens to run (paths). */
export const isSettingInput = (id: string): boolean => id.startsWith('env:') || id === 'go.flags' || id === 'go.version';

/** A short fingerprint of a build's settings. */
export function configurationOf(inputs: BuildInputs): string {
  const settings = Object.entries(inputs).filter(([id]) => isSettingInput(id)).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

export const LIMITS = {
  /** files stat'ed per build (a big module has a few thousand; beyond, packages are recorded without files) */
  maxFilesPerBuild: 5000,
  /** files larger than this are fingerprinted by size and mtime only */
  maxHashedFileBytes: 1 << 20,
  /** bytes hashed per build: reading them is the only cost of the history that grows with the build (~20 ms per 16 MiB here) */
  maxHashedBytesPerBuild: 32 << 20,
  maxValueChars: 512,
} as const;

/** A go command that builds packages (and so looks them up in the cache). */
const BUILDING = new Set(['build', 'install', 'test', 'run', 'vet']);

/** The go processes of a tree that build, outermost first (a `go run` or `go generate` can start another go). */
export function buildingGoCommands(root: ProcessNode): ProcessNode[] {
  const out: ProcessNode[] = [];
  for (const p of walk(root)) if (isGoCommand(p) && BUILDING.has(goCommandLineOf(p).subcommand ?? '')) out.push(p);
  return out;
}

const clip = (v: string): string => (v.length > LIMITS.maxValueChars ? v.slice(0, LIMITS.maxValueChars) : v);

/** The sha256 of a regular file of at most maxBytes, read without following a final symlink; undefined when not readable. */
function hashFile(path: string, maxBytes: number): string | undefined {
  const data = readRegularFile(path, { maxBytes });
  return data && createHash('sha256').update(data).digest('hex').slice(0, 32);
}

/** Reads what the compiles of one go command saw, within a shared budget. */
function packageFingerprints(go: ProcessNode, cwd: string | undefined, budget: { files: number; bytes: number }, atMs: number, config: string): Record<string, PackageFingerprint> {
  const packages: Record<string, PackageFingerprint> = {};
  for (const p of go.children) {
    const c = compileInputsOf(p);
    if (!c) continue;
    const name = packageKeyOf(c);
    const files: Record<string, FileFingerprint> = {};
    for (const f of c.files) {
      if (budget.files <= 0) break;
      const abs = isAbsolute(f) ? f : cwd ? resolve(cwd, f) : undefined;
      if (!abs) continue;
      budget.files--;
      try {
        const st = statSync(abs);
        // the agent reads as root: only what the compiling user could read itself (its own, or world-readable)
        if (!readableBy(st, p.uid)) continue;
        const fp: FileFingerprint = { size: st.size, mtimeMs: Math.round(st.mtimeMs) };
        if (st.size <= LIMITS.maxHashedFileBytes && st.size <= budget.bytes) {
          const h = hashFile(abs, LIMITS.maxHashedFileBytes);
          if (h) { fp.sha256 = h; budget.bytes -= st.size; }
        }
        files[basename(f)] = fp;
      } catch {
        /* gone since (a generated file): not recorded */
      }
    }
    packages[name] = { flags: c.flags, files, atMs, config };
  }
  return packages;
}

/** Whether a file's owner and mode let uid read it (group membership is not looked up: not counted). */
function readableBy(st: { uid: number; mode: number }, uid: number | undefined): boolean {
  return uid === undefined || uid === 0 || st.uid === uid || (st.mode & 0o004) !== 0;
}

/** The record of one go command's build, read now (after it ended), or undefined when it names no build. */
export function recordBuild(go: ProcessNode, ctx: DiagnosisContext, budget: { files: number; bytes: number }, atMs = Date.now()): BuildRecord | undefined {
  const line = goCommandLineOf(go);
  if (!line.subcommand) return undefined;
  // its compiles' relative source paths are relative to it, and its go.mod names the build
  const cwd = goCommandDir(go, ctx);
  const env = ctx.envOf?.(go) ?? {};
  const goEnv = ctx.goEnvOf?.(go) ?? ctx.go;
  const module = cwd ? ctx.goModuleOf?.(cwd) : undefined;
  const inputs: BuildInputs = {};
  for (const v of BUILD_VARIABLES) inputs[`env:${v}`] = clip(env[v] ?? '');
  inputs['go.flags'] = clip(line.flags.join(' '));
  inputs.trimpath = String(trimpathOn(line.flags, env.GOFLAGS));
  if (goEnv?.GOROOT) inputs.goroot = goEnv.GOROOT;
  if (goEnv?.GOMODCACHE) inputs.gomodcache = goEnv.GOMODCACHE;
  if (goEnv?.GOCACHE) inputs.gocache = goEnv.GOCACHE;
  if (module) inputs['module.dir'] = dirname(module.file);
  // the Go version: the compiles' -goversion, else GOROOT's VERSION file (the same text)
  const goVersion = go.children.map(compileInputsOf).find((c) => c?.goVersion)?.goVersion;
  const version = goVersion ?? (goEnv?.GOROOT ? ctx.inspectGoroot?.(goEnv.GOROOT).version : undefined);
  if (version) inputs['go.version'] = version;
  const config = configurationOf(inputs);
  const packages = packageFingerprints(go, cwd, budget, atMs, config);
  // the module path, not its directory; outside a module, the directory is all there is
  const where = module?.module ?? `dir:${cwd ?? '?'}`;
  const key = [where, line.subcommand, ...line.patterns].join('\n');
  const label = `go ${[line.subcommand, ...line.patterns].join(' ')} (${module?.module ?? cwd ?? 'unknown directory'})`;
  const lookups = go.gocache;
  return { key, label: clip(label), atMs, inputs, hits: lookups?.hits ?? 0, misses: lookups?.misses ?? 0, configs: [config], packages };
}
