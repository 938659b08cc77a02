/**
 * On-demand look-ups of Go's own files, for rules that already suspect the set-up: is a
 * GOROOT a Go tree and of which version, what Go version a module asks for (go.mod's go and
 * toolchain lines), where else a missing tool is installed. Small reads, never on a healthy
 * trace.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { GoModule, GoRootInfo } from './types.js';

/** go.mod is read up to this size (real ones are a few KiB; the directives come first). */
const MAX_GO_MOD_BYTES = 64 * 1024;
/** Directory levels walked up from the workspace to find go.mod. */
const MAX_LEVELS = 64;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** What a GOROOT is: missing, not a Go tree (no src/runtime), or a tree of a given version. */
export function inspectGoroot(goroot: string): GoRootInfo {
  if (!isAbsolute(goroot)) return { path: goroot, exists: false, isGoTree: false, version: undefined };
  const exists = isDirectory(goroot);
  const isGoTree = exists && isDirectory(join(goroot, 'src/runtime'));
  let version: string | undefined;
  try {
    const first = readFileSync(join(goroot, 'VERSION'), 'utf8').split('\n')[0]!.trim();
    if (/^go\d+(\.\d+){0,2}\S*$/.test(first)) version = first;
  } catch {
    /* a source checkout or not a Go tree */
  }
  return { path: goroot, exists, isGoTree, version };
}

/** The go.mod governing dir (nearest one up the tree) with its go and toolchain lines. */
export function findGoModule(dir: string): GoModule | undefined {
  let d = dir;
  for (let i = 0; i < MAX_LEVELS && isAbsolute(d); i++) {
    const file = join(d, 'go.mod');
    let text: string | undefined;
    try {
      text = readFileSync(file).subarray(0, MAX_GO_MOD_BYTES).toString('utf8');
    } catch {
      /* not here */
    }
    if (text !== undefined) return parseGoMod(file, text);
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
  return undefined;
}

/** The directives of go.mod that say which Go a module needs. */
export function parseGoMod(file: string, text: string): GoModule {
  const line = (re: RegExp): string | undefined => re.exec(text)?.[1];
  return {
    file,
    module: line(/^\s*module\s+"?([^\s"]+)"?/m),
    go: line(/^\s*go\s+(\d+(?:\.\d+){0,2}(?:rc\d+|beta\d+)?)\s*(?:\/\/.*)?$/m),
    toolchain: line(/^\s*toolchain\s+(go\d+\S*|default)\s*(?:\/\/.*)?$/m),
  };
}

/** The first of dirs holding an executable file name (how a PATH search would have found it). */
export function findExecutableIn(name: string, dirs: string[]): string | undefined {
  if (name.includes('/') || name === '' || name === '.' || name === '..') return undefined;
  for (const d of dirs) {
    if (!isAbsolute(d)) continue;
    const path = join(d, name);
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* not there */
    }
  }
  return undefined;
}

/**
 * Compare Go versions ("1.19.8", "go1.30", "1.21rc1"): negative when a is older. Release
 * candidates sort before their release, as Go sorts them.
 */
export function compareGoVersions(a: string, b: string): number {
  const parse = (v: string): number[] => {
    const m = /^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(rc|beta)?(\d+)?/.exec(v);
    if (!m) return [0, 0, 0, 0];
    const pre = m[4] ? -1000 + Number(m[5] ?? 0) : 0;
    return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), pre];
  };
  const x = parse(a), y = parse(b);
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}
