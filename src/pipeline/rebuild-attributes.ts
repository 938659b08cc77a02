/**
 * "Why it rebuilt" on the spans (issue 13; docs/attributes.md): on each building go command
 * that was compared with an earlier build, what changed; on each package it compiled, why
 * that package's key changed; on the trace's root (when it is not that go command), all of
 * them. With no earlier build recorded, only the go command's go.rebuild.build.
 */
import type { Attributes } from '@opentelemetry/api';
import type { RebuildFindings } from '../diagnose/rebuild-diff.js';
import { compileInputsOf, packageKeyOf } from '../model/go-build-inputs.js';
import type { ProcessNode } from '../model/process.js';

/** The changes that matter to the keys (and another GOCACHE): what go.rebuild.changed lists. */
const named = (f: RebuildFindings) => f.changed.filter((c) => c.inKeys || c.id === 'gocache');

/** The go command span's attributes. */
function goAttributes(f: RebuildFindings): Attributes {
  // no earlier build: only which build this was (the report's summary says the cache was cold)
  if (f.previousAtMs === undefined) return { 'go.rebuild.build': f.label };
  const changes = named(f);
  const other = f.changed.filter((c) => !c.inKeys && c.id !== 'gocache');
  const a: Attributes = {
    'go.rebuild.build': f.label,
    'go.rebuild.previous_build': new Date(f.previousAtMs!).toISOString(),
    'go.rebuild.changed': changes.map((c) => c.name),
    'go.rebuild.changes': changes.map((c) => c.text),
  };
  if (other.length > 0) a['go.rebuild.other_changes'] = other.map((c) => c.text);
  if (f.moreChanges > 0) a['go.rebuild.more_changes'] = f.moreChanges;
  if (f.cacheChanged) a['go.rebuild.cache_changed'] = true;
  a['go.rebuild.settings_seen_before'] = f.settingsSeenBefore;
  return a;
}

/** Per process: the rebuild attributes its span gets, or undefined. */
export function rebuildAttributesOf(root: ProcessNode, findings: RebuildFindings[] | undefined): (p: ProcessNode) => Attributes | undefined {
  const all = findings ?? [];
  if (all.length === 0) return () => undefined;
  const compared = all.filter((f) => f.previousAtMs !== undefined);
  const byGo = new Map(all.map((f) => [f.go, f]));
  const rootHasOwn = byGo.has(root);
  return (p) => {
    const own = byGo.get(p);
    if (own) return goAttributes(own);
    if (p === root && !rootHasOwn && compared.length > 0) {
      const all = compared.flatMap(named);
      return { 'go.rebuild.changed': [...new Set(all.map((c) => c.name))], 'go.rebuild.changes': [...new Set(all.map((c) => c.text))] };
    }
    const parent = p.parent && byGo.get(p.parent);
    if (!parent) return undefined;
    const c = compileInputsOf(p);
    const reason = c && parent.packages.get(packageKeyOf(c));
    return reason === undefined ? undefined : { 'go.rebuild.reason': reason };
  };
}
