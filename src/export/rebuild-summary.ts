/**
 * The build section's "why it rebuilt" lines (issue 13): per building go command compared
 * with its last recorded build, what changed; when nothing recorded changed although most
 * lookups missed, that the cache itself was emptied or trimmed; with no earlier build, that
 * the cache was cold. From the findings (run) or from the spans' go.rebuild.* (report).
 */
import type { RebuildFindings } from '../diagnose/rebuild-diff.js';
import { THRESHOLDS } from '../diagnose/rules/go-cache-churn.js';

export interface RebuildSummary {
  /** `go build ./... (example.org/app)` */
  build: string;
  /** when the build compared with ran (ISO); undefined: none recorded */
  previousBuild: string | undefined;
  /** "GOFLAGS changed: '' → '-tags=foo'" … */
  changes: string[];
  moreChanges: number;
  /** settings (variables, flags, Go version) changed to ones not built here before: a first build of them */
  newSettings?: boolean;
  /** what changed without being part of the compile keys (the module's directory under -trimpath), when known */
  unkeyed?: string[];
  /** this go command's lookups, when known */
  lookups?: { hits: number; misses: number };
}

const MAX_SHOWN = 5;
/** Misses count as most of a build as for go.cache_churn. */
const MOSTLY_MISSED = { share: THRESHOLDS.minMissShare, min: THRESHOLDS.minMisses };

/** The summaries of a trace's findings (those compared, and those that missed mostly with nothing to compare). */
export function rebuildSummaries(findings: RebuildFindings[] | undefined): RebuildSummary[] {
  return (findings ?? []).map((f) => ({
    build: f.label,
    previousBuild: f.previousAtMs === undefined ? undefined : new Date(f.previousAtMs).toISOString(),
    changes: f.changed.filter((c) => c.inKeys || c.id === 'gocache').map((c) => c.text),
    moreChanges: f.moreChanges,
    newSettings: !f.settingsSeenBefore && f.changed.some((c) => c.inKeys && (c.kind === 'env' || c.kind === 'flags' || c.kind === 'version')),
    unkeyed: f.changed.filter((c) => !c.inKeys && c.id !== 'gocache').map((c) => c.text),
    lookups: f.go.gocache ? { hits: f.go.gocache.hits, misses: f.go.gocache.misses } : undefined,
  }));
}

const mostlyMissed = (l: RebuildSummary['lookups']): boolean =>
  l !== undefined && l.misses >= MOSTLY_MISSED.min && l.misses / Math.max(1, l.hits + l.misses) >= MOSTLY_MISSED.share;

/** "  go build ./... (example.org/app) rebuilt because GOFLAGS changed: '' → '-tags=foo' (vs the build of …)" */
export function rebuildLines(list: RebuildSummary[]): string[] {
  const out: string[] = [];
  for (const r of list) {
    if (r.previousBuild === undefined) {
      if (mostlyMissed(r.lookups)) out.push(`  ${r.build}: the cache was cold (no earlier build of it recorded to compare with)`);
      continue;
    }
    const since = `since the build of ${r.previousBuild.replace(/\.\d+Z$/, 'Z')}`;
    if (r.changes.length > 0) {
      const more = r.changes.length - MAX_SHOWN + r.moreChanges;
      const first = r.newSettings ? '; the first build with these settings here' : '';
      out.push(`  ${r.build} rebuilt because ${r.changes.slice(0, MAX_SHOWN).join('; ')}${more > 0 ? `; and ${more} more` : ''}${first} (${since})`);
    } else if (r.unkeyed && r.unkeyed.length > 0) {
      out.push(`  ${r.build}: no input of the compile keys changed ${since}; ${r.unkeyed.slice(0, MAX_SHOWN).join('; ')}`);
    } else if (mostlyMissed(r.lookups)) {
      out.push(`  ${r.build}: no build input changed ${since}, yet ${r.lookups!.misses} of ${r.lookups!.hits + r.lookups!.misses} lookups missed: the cache was emptied or trimmed since (go clean -cache, a restored CI cache)`);
    } else {
      out.push(`  ${r.build}: no build input changed ${since}`);
    }
  }
  return out;
}
