/**
 * The Go environment a traced command ran with: the variables that decide where Go reads
 * and writes (caches, GOPATH, GOROOT) and how parallel it is, with Go's own defaults filled
 * in the way cmd/go computes them, so rules can say "GOMODCACHE (/home/u/go/pkg/mod) is on
 * a FUSE mount" even when nobody set GOMODCACHE.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { readProcBytes } from '../vocabulary/procfs.js';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { GoEnv } from './types.js';

/** Debian's golang-go; the last resort when GOROOT cannot be found from the executable. */
const FALLBACK_GOROOT = '/usr/lib/go';
/** `go env GOROOT` answers in ~20 ms; a hung toolchain must not hold up the diagnosis. */
const GO_ENV_TIMEOUT_MILLIS = 3000;

/** The environment of a live process, from /proc/PID/environ (what it was exec'd with). */
export function readProcessEnviron(pid: number, procRoot = '/proc'): NodeJS.ProcessEnv | undefined {
  const bytes = readProcBytes(`${procRoot}/${pid}/environ`);
  return bytes === undefined ? undefined : parseEnviron(bytes);
}

/**
 * NUL-separated NAME=value pairs (a later entry of a name wins; an entry without a name is
 * skipped), only those whose name `keep` takes when it is given. One pass over the text:
 * read at every exec of a traced tree while the build runs, where building the whole
 * environment and filtering it cost 5-6x (~35 against ~6 us on a 1.3 KB environ). The next
 * '=' is searched for again only once the entries have passed it, so entries without one (a
 * hostile process's 128K of them) cost no rescans of the rest.
 */
export function parseEnviron(bytes: Buffer, keep?: (name: string) => boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const text = bytes.toString('utf8');
  let eq = -1;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\0', start);
    if (end === -1) end = text.length;
    if (eq < start) { eq = text.indexOf('=', start); if (eq === -1) eq = Infinity; }
    if (eq > start && eq < end) {
      const name = text.slice(start, eq);
      if (!keep || keep(name)) env[name] = text.slice(eq + 1, end);
    }
    start = end + 1;
  }
  return env;
}

/** GOPROXY with credentials and query strings removed from every URL in the list. */
export function redactGoProxy(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  return raw.replace(/[^,|]+/g, (entry) => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) return entry;
    try {
      const u = new URL(entry);
      u.username = '';
      u.password = '';
      u.search = '';
      return u.toString().replace(/\/$/, entry.endsWith('/') ? '/' : '');
    } catch {
      return '<invalid URL>';
    }
  });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** GOROOT as cmd/go finds it: the executable's real path, two levels up, if it holds src/runtime. */
export function gorootOfExecutable(executable: string): string | undefined {
  try {
    const real = realpathSync(executable);
    const candidate = dirname(dirname(real));
    if (existsSync(join(candidate, 'src/runtime'))) return candidate;
  } catch {
    /* not there any more */
  }
  return undefined;
}

/** GOROOT from `go env GOROOT` of the given go executable. */
function gorootFromGoEnv(executable: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    const out = execFileSync(executable, ['env', 'GOROOT'], {
      env, timeout: GO_ENV_TIMEOUT_MILLIS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return isAbsolute(out) ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Go's view of env: explicit values first, else the defaults cmd/go uses
 * (GOPATH=$HOME/go, GOMODCACHE=$GOPATH[0]/pkg/mod, GOCACHE=$XDG_CACHE_HOME/go-build or
 * $HOME/.cache/go-build, GOMAXPROCS=CPU count). goExecutable: the go binary the run used,
 * to find GOROOT when the variable is unset.
 */
export function resolveGoEnv(env: NodeJS.ProcessEnv, opts: {
  source: GoEnv['source']; goExecutable?: string; cpus?: number; runGoEnv?: boolean;
}): GoEnv {
  const home = nonEmpty(env.HOME);
  const gopath = nonEmpty(env.GOPATH) ?? (home ? join(home, 'go') : undefined);
  const firstGopath = gopath?.split(':').find((p) => isAbsolute(p));
  const cacheHome = nonEmpty(env.XDG_CACHE_HOME) ?? (home ? join(home, '.cache') : undefined);
  const gocache = nonEmpty(env.GOCACHE) ?? (cacheHome ? join(cacheHome, 'go-build') : undefined);
  let goroot = nonEmpty(env.GOROOT);
  if (!goroot && opts.goExecutable) {
    goroot = gorootOfExecutable(opts.goExecutable);
    if (!goroot && opts.runGoEnv !== false) goroot = gorootFromGoEnv(opts.goExecutable, env);
  }
  const maxprocs = Number(env.GOMAXPROCS);
  const maxprocsSet = Number.isInteger(maxprocs) && maxprocs > 0;
  return {
    GOMODCACHE: nonEmpty(env.GOMODCACHE) ?? (firstGopath ? join(firstGopath, 'pkg/mod') : undefined),
    GOCACHE: gocache,
    GOPATH: gopath,
    GOROOT: goroot ?? FALLBACK_GOROOT,
    GOFLAGS: nonEmpty(env.GOFLAGS),
    GOMAXPROCS: maxprocsSet ? maxprocs : opts.cpus ?? availableParallelism(),
    GOMAXPROCS_SET: maxprocsSet,
    GOPROXY: redactGoProxy(nonEmpty(env.GOPROXY) ?? 'https://proxy.golang.org,direct'),
    GOPRIVATE: nonEmpty(env.GOPRIVATE),
    CGO_ENABLED: nonEmpty(env.CGO_ENABLED),
    GOTOOLCHAIN: nonEmpty(env.GOTOOLCHAIN),
    HOME: home,
    source: opts.source,
  };
}
