// Why a build rebuilt, on recorded builds: what the go command and its compiles say about the
// cache keys' inputs, what changed between two records of the same build, and when that is
// go.cache_churn (misses dominate and a build-wide input changed) and when it is not.
import { describe, expect, it } from 'vitest';
import { compileInputsOf, packageKeyOf, parseGoCommandLine, trimpathOn } from '../../src/model/go-build-inputs.js';
import { createProcess, type ProcessNode } from '../../src/model/process.js';
import { emptyGoCacheLookups } from '../../src/model/gocache.js';
import { diffBuilds, type RebuildFindings } from '../../src/diagnose/rebuild-diff.js';
import { configurationOf, type BuildRecord } from '../../src/diagnose/build-record.js';
import { rule, ID } from '../../src/diagnose/rules/go-cache-churn.js';
import { rebuildLines, rebuildSummaries } from '../../src/export/rebuild-summary.js';
import { context } from './fixtures.js';
import { TOOL, W, exec } from '../support/go-processes.js';


/** A go command that looked up hits+misses entries (the H records' counts). */
function goCommand(hits: number, misses: number, args = ['go', 'build', './...']): ProcessNode {
  const go = exec(createProcess(100, undefined, 0), '/usr/bin/go', args);
  go.endNs = 1e9;
  go.status = 0;
  go.gocache = { ...emptyGoCacheLookups(), hits, misses };
  return go;
}

const INPUTS = { 'env:GOFLAGS': '', 'env:CGO_ENABLED': '', 'go.flags': '', trimpath: 'false', goroot: '/usr/lib/go-1.19', 'go.version': 'go1.19.8',
  gocache: '/root/.cache/go-build', 'module.dir': '/src/a/mod' };
const file = (sha256: string, mtimeMs = 1000) => ({ size: 40, mtimeMs, sha256 });

/** A build record; configs: the settings built before (default: only its own). */
function record(over: { inputs?: Record<string, string>; packages?: BuildRecord['packages']; alsoBuiltWith?: Record<string, string>[] } = {}): BuildRecord {
  const inputs = { ...INPUTS, ...over.inputs };
  return {
    key: 'example.org/churn\nbuild\n./...', label: 'go build ./... (example.org/churn)', atMs: Date.UTC(2026, 11, 6, 5, 0, 0), hits: 20, misses: 0,
    inputs, configs: [inputs, ...(over.alsoBuiltWith ?? []).map((o) => ({ ...INPUTS, ...o }))].map(configurationOf),
    packages: over.packages ?? { 'example.org/churn/p1': { flags: ['-lang=go1.19', '-complete'], files: { 'p.go': file('a'.repeat(32)) }, atMs: 1 } },
  };
}

describe('what a go command and its compiles say about the cache keys', () => {
  it('reads the subcommand, the flags that change what is compiled, and the patterns', () => {
    expect(parseGoCommandLine(['go', 'build', '-o', 'out', '-x', '-tags', 'foo', '-trimpath', '-gcflags=all=-N', './...', './cmd/x'])).toEqual({
      subcommand: 'build', flags: ['-tags=foo', '-trimpath', '-gcflags=all=-N'], patterns: ['./...', './cmd/x'],
    });
    expect(trimpathOn([], '-mod=mod -trimpath')).toBe(true);
    expect(trimpathOn(['-gcflags=-N'], '')).toBe(false);
  });

  it('takes out of a compile\'s argv what differs on every run ($WORK, -buildid, -o, -c) and keeps the user\'s flags and sources', () => {
    const go = goCommand(0, 0);
    const c = exec(createProcess(101, go, 1), `${TOOL}/compile`, ['compile', '-o', `${W}/b002/_pkg_.a`, '-trimpath', `${W}/b002=>`, '-p', 'example.org/churn/p1',
      '-lang=go1.19', '-complete', '-buildid', 'AAA/AAA', '-goversion', 'go1.19.8', '-c=2', '-N', '-nolocalimports', '-importcfg', `${W}/b002/importcfg`,
      '-pack', './p1/p.go', `${W}/b002/_cgo_gotypes.go`]);
    expect(compileInputsOf(c)).toEqual({ packagePath: 'example.org/churn/p1', flags: ['-lang=go1.19', '-complete', '-N', '-nolocalimports'], files: ['./p1/p.go'], goVersion: 'go1.19.8' });
  });
});

describe('what changed between two builds of the same packages', () => {
  it('an unchanged rebuild names nothing', () => {
    const f = diffBuilds(goCommand(20, 0), record(), { ...record(), packages: {} });
    expect(f.changed).toEqual([]);
    expect(f.cacheChanged).toBe(false);
  });

  it('a changed GOFLAGS is named with both values, and is why every compiled package missed', () => {
    const cur = record({ inputs: { 'env:GOFLAGS': '-tags=foo' }, packages: { 'example.org/churn/p1': { flags: ['-lang=go1.19', '-complete'], files: { 'p.go': file('a'.repeat(32)) }, atMs: 2 } } });
    const f = diffBuilds(goCommand(0, 12), record(), cur);
    expect(f.changed.map((c) => c.text)).toEqual(["GOFLAGS changed: '' → '-tags=foo'"]);
    expect(f.packages.get('example.org/churn/p1')).toBe("GOFLAGS changed: '' → '-tags=foo'");
  });

  it('a moved module is in the keys without -trimpath, and not with it', () => {
    const moved = record({ inputs: { 'module.dir': '/src/b/mod' } });
    expect(diffBuilds(goCommand(0, 12), record(), moved).changed).toMatchObject([{ id: 'module.dir', inKeys: true, text: "module directory changed: '/src/a/mod' → '/src/b/mod'" }]);
    const trimmed = (r: BuildRecord): BuildRecord => ({ ...r, inputs: { ...r.inputs, trimpath: 'true', 'env:GOFLAGS': '-trimpath' } });
    expect(diffBuilds(goCommand(12, 0), trimmed(record()), trimmed(moved)).changed).toMatchObject([{ id: 'module.dir', inKeys: false }]);
  });

  it('an edited file is named by package; a touched file (mtime only) is not a reason', () => {
    const edited = record({ packages: { 'example.org/churn/p1': { flags: ['-lang=go1.19', '-complete'], files: { 'p.go': file('b'.repeat(32)) }, atMs: 2 } } });
    const f = diffBuilds(goCommand(19, 1), record(), edited);
    expect(f.changed.map((c) => c.text)).toEqual(['p.go of example.org/churn/p1 changed (content)']);
    const touched = record({ packages: { 'example.org/churn/p1': { flags: ['-lang=go1.19', '-complete'], files: { 'p.go': file('a'.repeat(32), 9999) }, atMs: 2 } } });
    const t = diffBuilds(goCommand(19, 1), record(), touched);
    expect(t.changed).toEqual([]);
    expect(t.packages.get('example.org/churn/p1')).toMatch(/no input of its own changed/);
  });

  it('a package last compiled under other settings is not said to have changed its own flags', () => {
    const fp = (flags: string[], config: string) => ({ flags, files: { 'p.go': file('a'.repeat(32)) }, atMs: 1, config });
    const prev = record({ packages: { 'example.org/churn/p1': fp(['-lang=go1.19', '-N'], 'b'.repeat(16)) } });
    const cur = record({ packages: { 'example.org/churn/p1': fp(['-lang=go1.19'], 'c'.repeat(16)) } });
    expect(diffBuilds(goCommand(0, 12), prev, cur).changed).toEqual([]);
    const same = record({ packages: { 'example.org/churn/p1': fp(['-lang=go1.19'], 'b'.repeat(16)) } });
    expect(diffBuilds(goCommand(0, 12), prev, same).changed.map((c) => c.id)).toEqual(['compile_flags:example.org/churn/p1']);
  });

  it('another GOCACHE is a cold cache, not a changed key input', () => {
    const f = diffBuilds(goCommand(0, 30), record(), record({ inputs: { gocache: '/tmp/ci-cache' } }));
    expect(f.cacheChanged).toBe(true);
    expect(f.changed).toMatchObject([{ id: 'gocache', inKeys: false }]);
  });

  it('nothing recorded before: no comparison at all', () => {
    expect(diffBuilds(goCommand(0, 30), undefined, record())).toMatchObject({ previousAtMs: undefined, changed: [] });
  });
});

/** The rule's view: the findings for the go command as the pipeline hands them to the context. */
function churn(f: RebuildFindings) {
  const ctx = { ...context({ endNs: 2e9 }), rebuildOf: (p: ProcessNode) => (p === f.go ? f : undefined) };
  return rule(f.go, ctx);
}

describe('go.cache_churn', () => {
  it('is blamed when most lookups missed after a change back to settings built here before, with the change and the fix', () => {
    const go = goCommand(12, 12);
    const before = record({ alsoBuiltWith: [{ 'env:GOFLAGS': '-gcflags=-N' }] });
    const causes = churn(diffBuilds(go, before, record({ inputs: { 'env:GOFLAGS': '-gcflags=-N' } })));
    expect(causes).toHaveLength(1);
    expect(causes[0]).toMatchObject({ id: ID, process: go });
    expect(causes[0]!.evidence).toBe("12 of 24 build cache lookups missed (50%) where the same build at 2026-12-06T05:00:00Z used this cache: " +
      "GOFLAGS changed: '' → '-gcflags=-N' (settings this build was made with here before)");
    expect(causes[0]!.hint).toMatch(/builds with other GOFLAGS replaced these entries: keep GOFLAGS the same/);
  });

  it('is not blamed for the first build with new settings (it could not have hit), which the summary says', () => {
    const f = diffBuilds(goCommand(0, 24), record(), record({ inputs: { 'env:GOFLAGS': '-race' } }));
    expect(churn(f)).toEqual([]);
    expect(rebuildLines(rebuildSummaries([f]))[0]).toMatch(/rebuilt because GOFLAGS changed: '' → '-race'; the first build with these settings here \(since/);
  });

  it('a moved module gets the -trimpath fix', () => {
    const causes = churn(diffBuilds(goCommand(0, 23), record(), record({ inputs: { 'module.dir': '/src/b/mod' } })));
    expect(causes[0]!.hint).toMatch(/-trimpath/);
  });

  it('is not blamed for an edited file, a small share of misses, another GOCACHE, or no history', () => {
    const edited = record({ packages: { 'example.org/churn/p1': { flags: [], files: { 'p.go': file('b'.repeat(32)) }, atMs: 2 } } });
    expect(churn(diffBuilds(goCommand(0, 12), record(), edited))).toEqual([]);
    expect(churn(diffBuilds(goCommand(40, 12), record({ alsoBuiltWith: [{ 'env:GOFLAGS': '-gcflags=-N' }] }), record({ inputs: { 'env:GOFLAGS': '-gcflags=-N' } })))).toEqual([]);
    expect(churn(diffBuilds(goCommand(0, 40), record(), record({ inputs: { gocache: '/tmp/other', 'env:GOFLAGS': '-x' } })))).toEqual([]);
    expect(churn(diffBuilds(goCommand(0, 40), undefined, record()))).toEqual([]);
  });

  it('the summary says what changed, or that nothing did although the cache missed, or that the cache was cold', () => {
    const changed = diffBuilds(goCommand(12, 12), record(), record({ inputs: { 'env:GOFLAGS': '-tags=foo' } }));
    const emptied = diffBuilds(goCommand(0, 20), record(), record());
    const cold = diffBuilds(goCommand(0, 20), undefined, record());
    expect(rebuildLines(rebuildSummaries([changed, emptied, cold]))).toEqual([
      "  go build ./... (example.org/churn) rebuilt because GOFLAGS changed: '' → '-tags=foo'; the first build with these settings here (since the build of 2026-12-06T05:00:00Z)",
      '  go build ./... (example.org/churn): no build input changed since the build of 2026-12-06T05:00:00Z, yet 20 of 20 lookups missed: the cache was emptied or trimmed since (go clean -cache, a restored CI cache)',
      '  go build ./... (example.org/churn): the cache was cold (no earlier build of it recorded to compare with)',
    ]);
  });
});

describe('packages as a build record names them', () => {
  it('go test\'s second compile of a package (with its _test.go files) is another package than the package itself', () => {
    expect(packageKeyOf({ packagePath: 'example.org/x', flags: [], files: ['./x.go'], goVersion: undefined })).toBe('example.org/x');
    expect(packageKeyOf({ packagePath: 'example.org/x', flags: [], files: ['./x.go', './x_test.go'], goVersion: undefined })).toBe('example.org/x [test]');
    expect(packageKeyOf({ packagePath: 'main', flags: [], files: ['./cmd/app/main.go'], goVersion: undefined })).toBe('main ./cmd/app');
  });
});
