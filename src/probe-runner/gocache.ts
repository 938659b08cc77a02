/**
 * Which Go build cache the probe watches (issue 13): the probe prints the go command's opens
 * of paths under one directory, passed as two positional parameters after the syscall
 * numbers (the directory with a trailing '/', and its length; '' and 0 = off). The directory
 * is worked out from gostall's own environment the way the go command does it (GOCACHE, then
 * $XDG_CACHE_HOME/go-build, then $HOME/.cache/go-build): `gostall run` passes its environment
 * to the command it runs, so both see the same cache; the agent watches its own user's cache.
 * A GOCACHE set with `go env -w` (the go env file) is not read.
 */
import { isAbsolute, join } from 'node:path';

/** Longest prefix the probe compares (bytes): the entry's 69-byte tail must fit in its 128-byte path read. */
export const MAX_GOCACHE_PREFIX_BYTES = 58;

/** Characters a watched directory may have; anything else turns the watch off (the value is a probe argument). */
const SAFE_DIR = /^\/[A-Za-z0-9._+\/-]*$/;

/** The go command's cache directory for an environment, or undefined when it has none (GOCACHE=off) or cannot be known. */
export function goCacheDirFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const set = env.GOCACHE;
  if (set !== undefined && set !== '') {
    if (set === 'off') return undefined;
    return isAbsolute(set) ? set : undefined;
  }
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'go-build');
  const home = env.HOME;
  if (home && isAbsolute(home)) return join(home, '.cache', 'go-build');
  return undefined;
}

/** The probe's two parameters for a directory: its prefix with one trailing '/' and the prefix's length, or off. */
export function goCacheProbeArgs(dir: string | undefined): [string, string] {
  if (dir === undefined || !SAFE_DIR.test(dir)) return ['', '0'];
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  if (prefix.length === 1 || prefix.length > MAX_GOCACHE_PREFIX_BYTES) return ['', '0'];
  return [prefix, String(prefix.length)];
}
