/**
 * go.cache_churn: most of a build's cache lookups missed although the same packages were
 * built before with the same GOCACHE, because an input of the cache keys changed in between:
 * a Go build variable (GOFLAGS, CGO_*, GOARCH, GOAMD64…), the go command's flags, the Go
 * version, or an absolute path that is part of the keys without -trimpath (the module's
 * directory: a checkout at a new path in every CI job; GOMODCACHE under a changing HOME).
 * Needs the local build history (run and agent; ../../pipeline/build-history.ts).
 *
 * Settings (variables, flags, Go version) count only when this build was made with the same
 * settings here before (recorded in the history): the first build with new settings (a first
 * -race build) could not have hit. Paths count always: nobody means to change them.
 *
 * Not this cause: an edited source file (a rebuild the user asked for), another GOCACHE
 * than last time (a cold cache, not churn), no earlier build recorded, or misses with
 * nothing recorded changed (the cache emptied or trimmed): the build section says which.
 */
import { walk } from '../../model/tree.js';
import { goActionOf } from '../../model/go-action.js';
import type { ProcessNode } from '../../model/process.js';
import type { ChangedInput, RebuildFindings } from '../rebuild-diff.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { formatPercent, listSome } from '../format.js';
import { wallNs } from '../evidence.js';

export const ID = 'go.cache_churn';

export const THRESHOLDS = {
  /**
   * Misses dominate from this share of the go command's lookups. Measured here (Go 1.19,
   * a 12-package library module, `go build ./...`): an unchanged warm rebuild misses 0–1 of
   * 24–36 lookups (once, right after the files were written, the 12 module-index entries:
   * 33%); GOFLAGS=-gcflags=-N misses all 12 compiles while the 12 module-index entries
   * (keyed by the module root and file mtimes, not by flags) hit: 50%; moving the module
   * misses both: 100%; editing one file: 1 of 34. A module importing the standard library
   * adds its hits (~50 for fmt), which a change of GOFLAGS alone does not miss.
   */
  minMissShare: 0.4,
  /** … and at least this many misses (a one-package build missing its one package is no churn worth a cause) */
  minMisses: 4,
} as const;

/** The fix for what changed: paths that should not be in the keys, settings whose entries the cache lost. */
function hintFor(paths: ChangedInput[], settings: ChangedInput[]): string {
  const ids = new Set(paths.map((c) => c.id));
  const parts: string[] = [];
  if (ids.has('module.dir') || ids.has('gomodcache')) {
    parts.push(`build with -trimpath (e.g. GOFLAGS=-trimpath) so ${ids.has('module.dir') ? 'the module\'s directory' : 'GOMODCACHE'} is not part of the cache keys, or build from the same path every time (CI: a fixed checkout directory and HOME)`);
  }
  const names = settings.filter((c) => c.kind !== 'version').map((c) => c.name);
  if (names.length > 0) {
    parts.push(`builds with other ${listSome(names)} replaced these entries: keep ${listSome(names)} the same for builds that share a cache, or give each setting its own cache (CI: make it part of the cache key)`);
  }
  if (settings.some((c) => c.kind === 'version') || ids.has('goroot')) parts.push('use one Go version per cache (CI: key the cache on `go version` as well as go.sum)');
  return parts.join('; ');
}

/** Time spent compiling under the go command (what the misses cost), at most its wall time. */
function compileNs(go: ProcessNode, ctx: DiagnosisContext): number {
  let sum = 0;
  for (const p of walk(go)) {
    if (p === go || goActionOf(p)?.kind !== 'compile') continue;
    sum += (p.endNs ?? ctx.endNs) - p.startNs;
  }
  return Math.min(sum, wallNs(go, ctx));
}

function judge(f: RebuildFindings, ctx: DiagnosisContext): Cause | undefined {
  if (f.previousAtMs === undefined || f.cacheChanged) return undefined;
  const l = f.go.gocache;
  if (!l) return undefined;
  const lookups = l.hits + l.misses;
  if (l.misses < THRESHOLDS.minMisses || lookups === 0 || l.misses / lookups < THRESHOLDS.minMissShare) return undefined;
  // build-wide inputs of the keys only: an edited file is a rebuild the user asked for
  const paths = f.changed.filter((c) => c.inKeys && c.kind === 'path');
  const settings = f.changed.filter((c) => c.inKeys && (c.kind === 'env' || c.kind === 'flags' || c.kind === 'version'));
  // new settings (a first -race build) could not have hit; settings built here before could have
  if (paths.length === 0 && !(settings.length > 0 && f.settingsSeenBefore)) return undefined;
  const changes = [...paths, ...settings];
  const since = new Date(f.previousAtMs).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    id: ID,
    process: f.go,
    evidence: `${l.misses} of ${lookups} build cache lookups missed (${formatPercent(l.misses / lookups)}) where the same build at ${since} ` +
      `used this cache: ${changes.map((c) => c.text).join('; ')}${settings.length > 0 && f.settingsSeenBefore ? ' (settings this build was made with here before)' : ''}`,
    hint: hintFor(paths, f.settingsSeenBefore ? settings : []),
    weightNs: compileNs(f.go, ctx),
    attributes: { 'gostall.cause.changed': changes.map((c) => c.name).join(', ') },
  };
}

export const rule: Rule = (root, ctx) => {
  if (!ctx.rebuildOf) return [];
  const out: Cause[] = [];
  for (const p of walk(root)) {
    const f = ctx.rebuildOf(p);
    const c = f && judge(f, ctx);
    if (c) out.push(c);
  }
  return out;
};
