/**
 * Roles of paths (workspace, GOMODCACHE, GOCACHE, GOROOT, GOPATH, tmp, home) and the
 * on-demand filesystem look-ups rules make when they already suspect something: who owns a
 * directory, whether a path still loops, which non-Go trees sit in a workspace. None of
 * these run on a healthy trace.
 */
import { lstatSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { GoEnv, HeavyDirectory, PathOwner, PathRole } from './types.js';

interface RoleBase { role: PathRole; base: string }

/** The directories that give paths their roles; "/" never counts (it would claim everything). */
export function roleBases(x: { workspace: string | undefined; go: GoEnv | undefined; tmpdir?: string }): RoleBase[] {
  const out: RoleBase[] = [];
  const add = (role: PathRole, base: string | undefined, resolveLinks = false): void => {
    if (!base || !isAbsolute(base)) return;
    const clean = base.length > 1 ? base.replace(/\/+$/, '') : base;
    if (clean === '/' || clean === '') return;
    out.push({ role, base: clean });
    // cmd/go runs from GOROOT's real path (/usr/lib/go -> /usr/lib/go-1.19): match both. Only
    // for GOROOT: resolving a cache path on a hung network mount would hang the diagnosis.
    if (!resolveLinks) return;
    try {
      const real = realpathSync(clean);
      if (real !== clean && real !== '/') out.push({ role, base: real });
    } catch {
      /* does not exist (yet) */
    }
  };
  add('workspace', x.workspace);
  add('gomodcache', x.go?.GOMODCACHE);
  add('gocache', x.go?.GOCACHE);
  add('goroot', x.go?.GOROOT, true);
  for (const p of x.go?.GOPATH?.split(':') ?? []) add('gopath', p);
  add('tmp', '/tmp');
  add('tmp', '/var/tmp');
  add('tmp', x.tmpdir);
  add('home', x.go?.HOME);
  return out;
}

function isUnder(path: string, base: string): boolean {
  return path === base || path.startsWith(`${base}/`);
}

/** The role of an absolute path: the longest matching base wins; ties go to the earlier (more specific) role. */
export function roleOfPath(bases: RoleBase[], path: string): { role: PathRole; base: string | undefined } {
  let best: RoleBase | undefined;
  for (const b of bases) {
    if (isUnder(path, b.base) && (!best || b.base.length > best.base.length)) best = b;
  }
  return best ? { role: best.role, base: best.base } : { role: 'other', base: undefined };
}

/** An absolute form of a path from a record: relative ones are taken against the workspace. */
export function absolutePath(path: string, workspace: string | undefined): string | undefined {
  if (isAbsolute(path)) return path;
  if (!workspace) return undefined;
  return resolve(workspace, path);
}

/** Owner and mode of the path, or of its nearest existing ancestor. */
export function ownerOfPath(path: string): PathOwner | undefined {
  let p = path;
  for (let i = 0; i < 64; i++) {
    try {
      const st = lstatSync(p);
      return { path: p, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
    } catch {
      const up = dirname(p);
      if (up === p) return undefined;
      p = up;
    }
  }
  return undefined;
}

/** Whether following the path now fails with ELOOP (a loop, not a single O_NOFOLLOW link). */
export function pathStillLoops(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ELOOP';
  }
}

/**
 * Names of trees that hold no Go code but that `./...` and gopls walk anyway. cmd/go already
 * skips names starting with "." or "_" and "testdata", so those are not listed.
 */
const HEAVY_NAMES = [/^node_modules$/, /^bower_components$/, /^bazel-/, /^target$/, /^dist$/, /^build$/, /^out$/,
  /^venv$/, /^site-packages$/, /^__pycache__$/, /^Pods$/, /^DerivedData$/];
/** Directories counted at most per look (50,000 take ~0.5 s on a local disk). */
const MAX_DIRECTORIES_COUNTED = 50_000;
/** …and never longer than this: the workspace may be on a slow network or FUSE mount. */
const MAX_LOOK_MILLIS = 1000;

/** Known non-Go trees directly under dir (and one level down), with their directory counts (bounded). */
export function findHeavyDirectories(dir: string, maxCounted = MAX_DIRECTORIES_COUNTED, maxMillis = MAX_LOOK_MILLIS): HeavyDirectory[] {
  const found: HeavyDirectory[] = [];
  let budget = maxCounted;
  const deadline = Date.now() + maxMillis;
  const look = (parent: string, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(parent, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name.startsWith('_') || e.name === 'testdata') continue;
      const path = join(parent, e.name);
      if (HEAVY_NAMES.some((re) => re.test(e.name))) {
        const counted = countDirectories(path, budget, deadline);
        budget -= counted.directories;
        found.push({ path, directories: counted.directories, capped: counted.capped });
      } else if (depth < 1) {
        look(path, depth + 1);
      }
      if (budget <= 0 || Date.now() > deadline) return;
    }
  };
  look(dir, 0);
  return found.sort((a, b) => b.directories - a.directories);
}

/** Directories in a tree (itself included), counting at most max and stopping at the deadline. */
function countDirectories(root: string, max: number, deadline: number): { directories: number; capped: boolean } {
  const stack = [root];
  let n = 0;
  while (stack.length > 0) {
    if (n >= max || (n % 256 === 0 && Date.now() > deadline)) return { directories: n, capped: true };
    const d = stack.pop()!;
    n++;
    try {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) stack.push(join(d, e.name));
    } catch {
      /* unreadable: counted, not entered */
    }
  }
  return { directories: n, capped: false };
}
