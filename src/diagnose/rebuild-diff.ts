/**
 * Why a build rebuilt: the inputs of the cache keys that changed between the last recorded
 * build of the same packages and this one (issue 13). Pure: it compares two records
 * (./build-record.ts). Build-wide inputs (Go build variables, go flags, Go version, the
 * module's directory…) change every package's key; a package's own compile flags and source
 * files change its key (and those of the packages importing it, whose own inputs did not change).
 */
import { redactUrlsInText } from '../model/redact.js';
import type { ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { configurationOf, type BuildRecord, type FileFingerprint, type PackageFingerprint } from './build-record.js';

export type ChangeKind = 'env' | 'path' | 'flags' | 'version' | 'file' | 'compile_flags';

export interface ChangedInput {
  /** `env:GOFLAGS`, `go.flags`, `go.version`, `goroot`, `module.dir`, `gomodcache`, `gocache`, `file:<package>/<name>`, `compile_flags:<package>` */
  id: string;
  kind: ChangeKind;
  /** the input's name for people: GOFLAGS, module directory, lib.go of example.org/app/lib */
  name: string;
  before: string;
  after: string;
  /** whether it can change cache keys (the module directory under -trimpath cannot; mtimes never do) */
  inKeys: boolean;
  /** "GOFLAGS changed: '' → '-tags=foo'" */
  text: string;
}

export interface RebuildFindings {
  /** the go command these findings are about */
  go: ProcessNode;
  label: string;
  /** when the build compared against ran; undefined when none of this build was recorded */
  previousAtMs: number | undefined;
  /** GOCACHE is another directory than last time: a cold cache, whatever else changed */
  cacheChanged: boolean;
  /** this build's settings (variables, flags, Go version) were built here before: their entries could have been in the cache */
  settingsSeenBefore: boolean;
  /** what changed, build-wide first, at most MAX_CHANGES */
  changed: ChangedInput[];
  /** changes left out of `changed` beyond the bound */
  moreChanges: number;
  /** per package compiled this time: why its key changed */
  packages: Map<string, string>;
}

export const MAX_CHANGES = 20;
const MAX_SHOWN_VALUE_CHARS = 120;

const NAMES: Record<string, string> = {
  'go.flags': 'go command flags', 'go.version': 'Go version', goroot: 'GOROOT', 'module.dir': 'module directory',
  gomodcache: 'GOMODCACHE', gocache: 'GOCACHE',
};

/** A value as shown: quoted, credentials in URLs removed, cut. */
export function shownValue(v: string): string {
  const r = redactUrlsInText(v);
  return `'${r.length > MAX_SHOWN_VALUE_CHARS ? `${r.slice(0, MAX_SHOWN_VALUE_CHARS)}…` : r}'`;
}

function changeOf(id: string, before: string, after: string, inKeys: boolean, name = NAMES[id] ?? id.replace(/^env:/, '')): ChangedInput {
  const kind: ChangeKind = id.startsWith('env:') ? 'env' : id === 'go.flags' ? 'flags' : id === 'go.version' ? 'version'
    : id.startsWith('file:') ? 'file' : id.startsWith('compile_flags:') ? 'compile_flags' : 'path';
  // measured: Go 1.19's module index entries (one per package directory) are keyed by the module root and the files' mtimes, -trimpath or not
  const note = id === 'gocache' ? ' (another cache: it starts cold)' : inKeys ? ''
    : id === 'module.dir' ? ' (not in the compile keys with -trimpath; only the module index is looked up anew)' : ' (not part of the cache keys)';
  return { id, kind, name, before, after, inKeys, text: `${name} changed: ${shownValue(before)} → ${shownValue(after)}${note}` };
}

/** Build-wide inputs that changed (GOCACHE included, marked as not a key input). */
function buildWideChanges(prev: BuildRecord, cur: BuildRecord): ChangedInput[] {
  const out: ChangedInput[] = [];
  const trimmed = prev.inputs.trimpath === 'true' || cur.inputs.trimpath === 'true';
  const versionChanged = (prev.inputs['go.version'] ?? '') !== (cur.inputs['go.version'] ?? '');
  const ids = [...new Set([...Object.keys(prev.inputs), ...Object.keys(cur.inputs)])].filter((id) => id !== 'trimpath');
  for (const id of ids) {
    const before = prev.inputs[id] ?? '';
    const after = cur.inputs[id] ?? '';
    if (before === after) continue;
    // An unknown side (not read this time) says nothing about a change.
    if ((id === 'go.version' || id === 'goroot' || id === 'gocache' || id === 'gomodcache' || id === 'module.dir') && (!before || !after)) continue;
    let inKeys = true;
    // measured (GODEBUG=gocachehash=1): a package's directory is in its key unless -trimpath
    if (id === 'module.dir' || id === 'gomodcache') inKeys = !trimmed;
    // measured: a copy of GOROOT at another path (same version) gave a module package the same key
    if (id === 'goroot') inKeys = versionChanged;
    if (id === 'gocache') inKeys = false;
    out.push(changeOf(id, before, after, inKeys));
  }
  return out;
}

/** How one source file changed, or undefined when it did not (an mtime alone never changes a key). */
function fileChange(before: FileFingerprint | undefined, after: FileFingerprint | undefined): { what: string; inKeys: boolean } | undefined {
  if (!before && !after) return undefined;
  if (!before) return { what: 'added', inKeys: true };
  if (!after) return { what: 'removed', inKeys: true };
  if (before.sha256 && after.sha256) {
    if (before.sha256 !== after.sha256) return { what: 'content', inKeys: true };
    return before.mtimeMs !== after.mtimeMs ? { what: 'mtime only', inKeys: false } : undefined;
  }
  if (before.size !== after.size) return { what: 'content', inKeys: true };
  // not hashed (too large, or the budget ran out): a new mtime may mean new content
  return before.mtimeMs !== after.mtimeMs ? { what: 'mtime (content not hashed)', inKeys: true } : undefined;
}

/** What changed in one package's own inputs. */
function packageChanges(pkg: string, prev: PackageFingerprint, cur: PackageFingerprint): ChangedInput[] {
  const out: ChangedInput[] = [];
  const prevFlags = prev.flags.join(' ');
  const curFlags = cur.flags.join(' ');
  // compiled last under other settings (-gcflags in GOFLAGS): its flags differ because of them, not of its own
  const sameSettings = prev.config === undefined || prev.config === cur.config;
  if (sameSettings && prevFlags !== curFlags) out.push(changeOf(`compile_flags:${pkg}`, prevFlags, curFlags, true, `compile flags of ${pkg}`));
  const names = [...new Set([...Object.keys(prev.files), ...Object.keys(cur.files)])].sort();
  for (const n of names) {
    const c = fileChange(prev.files[n], cur.files[n]);
    if (!c) continue;
    const name = `${n} of ${pkg}`;
    out.push({ id: `file:${pkg}/${n}`, kind: 'file', name, before: '', after: '', inKeys: c.inKeys, text: `${name} changed (${c.what})` });
  }
  return out;
}

/** The reason a compiled package's key changed, from what changed. */
function packageReason(own: ChangedInput[], buildWide: ChangedInput[], hadFingerprint: boolean): string {
  // its files first; then what changed for the whole build (which also shows in its compile flags)
  const files = own.filter((c) => c.inKeys && c.kind === 'file');
  const wide = buildWide.filter((c) => c.inKeys);
  const flags = wide.length > 0 ? [] : own.filter((c) => c.inKeys && c.kind === 'compile_flags');
  const reasons = [...files, ...wide, ...flags];
  if (reasons.length > 0) return reasons.map((c) => c.text).join('; ');
  if (!hadFingerprint) return 'not compiled in a recorded build before';
  return 'no input of its own changed (an import that was rebuilt changes its key, or the cache lost the entry)';
}

/** Compare this build with the last recorded one of the same key (prev undefined: nothing recorded). */
export function diffBuilds(go: ProcessNode, prev: BuildRecord | undefined, cur: BuildRecord): RebuildFindings {
  const findings: RebuildFindings = {
    go, label: cur.label, previousAtMs: prev?.atMs, cacheChanged: false, settingsSeenBefore: false, changed: [], moreChanges: 0, packages: new Map(),
  };
  if (!prev) return findings;
  findings.settingsSeenBefore = prev.configs.includes(configurationOf(cur.inputs));
  const wide = buildWideChanges(prev, cur);
  findings.cacheChanged = wide.some((c) => c.id === 'gocache');
  const all: ChangedInput[] = [...wide];
  const wideInKeys = wide.some((c) => c.inKeys);
  for (const [pkg, fp] of Object.entries(cur.packages)) {
    const before = prev.packages[pkg];
    const own = before ? packageChanges(pkg, before, fp) : [];
    findings.packages.set(pkg, packageReason(own, wide, before !== undefined));
    // a build-wide change (-gcflags in GOFLAGS) changes every package's flags: named once, not per package
    for (const c of own) if (c.inKeys && !(wideInKeys && c.kind === 'compile_flags')) all.push(c);
  }
  findings.changed = all.slice(0, MAX_CHANGES);
  findings.moreChanges = all.length - findings.changed.length;
  return findings;
}

/** Findings as a run capture carries them (the go command by pid and start), so a replay says what run said. */
export interface RecordedRebuild extends Omit<RebuildFindings, 'go' | 'packages'> { pid: number; startNs: number; packages: [string, string][] }

export function recordRebuilds(findings: RebuildFindings[]): RecordedRebuild[] {
  return findings.map(({ go, packages, ...rest }) => ({ ...rest, pid: go.pid, startNs: go.startNs, packages: [...packages] }));
}

/** The recorded findings of a tree's go commands (those whose process is in the tree). */
export function rebuildsFromRecording(recorded: RecordedRebuild[], root: ProcessNode): Map<ProcessNode, RebuildFindings> {
  const byKey = new Map(recorded.map((r) => [`${r.pid}:${r.startNs}`, r]));
  const out = new Map<ProcessNode, RebuildFindings>();
  for (const p of walk(root)) {
    const r = byKey.get(`${p.pid}:${p.startNs}`);
    if (!r) continue;
    const { pid: _pid, startNs: _start, packages, ...rest } = r;
    out.set(p, { ...rest, go: p, packages: new Map(packages) });
  }
  return out;
}
