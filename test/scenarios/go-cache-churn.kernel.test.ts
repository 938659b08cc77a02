// Why it rebuilt (issue 13), on real builds with Debian's Go 1.19 through `gostall run`: a
// module of 12 library packages is built cold, again unchanged, with another GOFLAGS, back,
// after its cache was emptied (then with that other GOFLAGS again), from another directory, with
// one file edited, and moved again under -trimpath. Each rebuild names the input that changed
// (on the go span, each compiled package's span and in the summary); go.cache_churn is blamed
// only when most lookups missed because a path changed (the module's directory) or because
// settings this build was made with before were no longer in the cache; the rest stay cause-free.
// The build history lives in a state directory of the test's own (XDG_STATE_HOME).
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO_DIRECTIVE, goEnv } from '../support/faults/goModule.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { cleanEnv, ensureBuilt, expectNoCause, expectSoleCause, logOutcome, traced, type TracedRun } from './harness.js';
import { readTraceFile, runGostall } from '../integration/harness.js';

const PACKAGES = 12;
const DEBUG_FLAGS = '-mod=mod -gcflags=-N';
const TO_DEBUG = "GOFLAGS changed: '-mod=mod' → '-mod=mod -gcflags=-N'";
let workDir: string;

function buildEnv(goflags: string): NodeJS.ProcessEnv {
  return cleanEnv({
    ...goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }),
    GOFLAGS: goflags, XDG_STATE_HOME: join(workDir, 'state'),
    // run's own tracer: through an agent that may be running on the machine, the build cache
    // watched is the agent's own GOCACHE (docs/attributes.md), and misses would not be seen
    GOSTALL_AGENT_SOCKET: join(workDir, 'no-agent.sock'),
  });
}

function build(dir: string, goflags = '-mod=mod'): Promise<TracedRun> {
  return traced(['go', 'build', './...'], { cwd: dir, env: buildEnv(goflags) });
}

const goSpan = (run: TracedRun): DecodedSpan => run.spans.find((s) => s.parentSpanId === undefined)!;
const compiles = (run: TracedRun): DecodedSpan[] => run.spans.filter((s) => s.attributes['go.action'] === 'compile');

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-churn-'));
  const mod = join(workDir, 'a/mod');
  await mkdir(mod, { recursive: true });
  await writeFile(join(mod, 'go.mod'), `module example.org/churn\n\ngo ${GO_DIRECTIVE}\n`);
  for (let i = 1; i <= PACKAGES; i++) {
    await mkdir(join(mod, `p${i}`));
    await writeFile(join(mod, `p${i}/p.go`), `package p${i}\n\nfunc F(x int) int { return x + ${i} }\n`);
  }
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('why a real go build rebuilt', () => {
  it('a cold build has nothing to compare with; the same build again names no changed input; neither has a cause', async () => {
    const cold = await build(join(workDir, 'a/mod'));
    logOutcome('rebuild, cold', cold);
    expect(cold.exitCode).toBe(0);
    expectNoCause(cold);
    expect(goSpan(cold).attributes['go.rebuild.changed']).toBeUndefined();
    expect(cold.stderr).toContain('go build ./... (example.org/churn): the cache was cold (no earlier build of it recorded to compare with)');

    const again = await build(join(workDir, 'a/mod'));
    logOutcome('rebuild, unchanged', again);
    expectNoCause(again);
    expect(goSpan(again).attributes['go.rebuild.changed']).toEqual([]);
    expect(compiles(again)).toEqual([]);
    expect(again.stderr).toMatch(/go build \.\/\.\.\. \(example\.org\/churn\): no build input changed since the build of /);
    // the history is the user's own: 0700 directory, 0600 file
    const dir = join(workDir, 'state/gostall/builds');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const f of await readdir(dir)) expect((await stat(join(dir, f))).mode & 0o777).toBe(0o600);
  });

  it('another GOFLAGS that changes every package\'s key is named with both values, on the go span and each compile: the first build with it is no cause', async () => {
    const run = await build(join(workDir, 'a/mod'), DEBUG_FLAGS);
    logOutcome('rebuild, new GOFLAGS', run);
    expect(run.exitCode).toBe(0);
    expectNoCause(run);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual(['GOFLAGS']);
    expect(goSpan(run).attributes['go.rebuild.settings_seen_before']).toBe(false);
    expect(compiles(run)).toHaveLength(PACKAGES);
    for (const s of compiles(run)) expect(s.attributes['go.rebuild.reason'], s.name).toBe(TO_DEBUG);
    expect(run.stderr).toContain(`go build ./... (example.org/churn) rebuilt because ${TO_DEBUG}; the first build with these settings here`);
  });

  it('going back to the old GOFLAGS names the change, but the cache still had those entries: no cause', async () => {
    const run = await build(join(workDir, 'a/mod'));
    logOutcome('rebuild, GOFLAGS back', run);
    expectNoCause(run);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual(['GOFLAGS']);
    expect(compiles(run)).toEqual([]);
  });

  it('an emptied cache with nothing changed is said to be one, without a cause', async () => {
    // as a CI job that restores a cache saved by a job with other settings: here, the default ones only
    await rm(join(workDir, 'gocache'), { recursive: true, force: true });
    const run = await build(join(workDir, 'a/mod'));
    logOutcome('rebuild, cache emptied', run);
    expectNoCause(run);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual([]);
    expect(run.stderr).toMatch(/no build input changed since the build of \S+, yet \d+ of \d+ lookups missed: the cache was emptied or trimmed since/);
  });

  it('GOFLAGS this build was made with before, whose entries the cache no longer holds, is go.cache_churn naming GOFLAGS', async () => {
    const run = await build(join(workDir, 'a/mod'), DEBUG_FLAGS);
    logOutcome('rebuild, GOFLAGS built before, entries gone', run);
    const c = expectSoleCause(run, 'go.cache_churn', 'go build');
    expect(c.evidence).toContain(`${TO_DEBUG} (settings this build was made with here before)`);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual(['GOFLAGS']);
    expect(goSpan(run).attributes['gostall.cause.hint']).toMatch(/builds with other GOFLAGS replaced these entries/);
    expect(compiles(run)).toHaveLength(PACKAGES);
  });

  it('the module moved to another directory (no -trimpath) is go.cache_churn naming the directory, with -trimpath as the fix', async () => {
    await cp(join(workDir, 'a'), join(workDir, 'b'), { recursive: true, preserveTimestamps: true });
    const run = await build(join(workDir, 'b/mod'), DEBUG_FLAGS);
    logOutcome('rebuild, module moved', run);
    const c = expectSoleCause(run, 'go.cache_churn', 'go build');
    const change = `module directory changed: '${join(workDir, 'a/mod')}' → '${join(workDir, 'b/mod')}'`;
    expect(c.evidence).toContain(change);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual(['module directory']);
    expect(goSpan(run).attributes['gostall.cause.hint']).toMatch(/-trimpath/);
    expect(compiles(run)).toHaveLength(PACKAGES);
  });

  it('one edited file names that file of its package, and is no cause', async () => {
    await appendFile(join(workDir, 'b/mod/p3/p.go'), '\nconst Edited = true\n');
    const run = await build(join(workDir, 'b/mod'), DEBUG_FLAGS);
    logOutcome('rebuild, one file edited', run);
    expectNoCause(run);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual(['p.go of example.org/churn/p3']);
    expect(compiles(run).map((s) => [s.name, s.attributes['go.rebuild.reason']])).toEqual([
      ['compile example.org/churn/p3', 'p.go of example.org/churn/p3 changed (content)'],
    ]);
    expect(run.stderr).toContain('go build ./... (example.org/churn) rebuilt because p.go of example.org/churn/p3 changed (content)');
  });
});

describe('with -trimpath the module\'s directory is not part of the keys', () => {
  it('a module moved after a -trimpath build hits, and its directory is not named', async () => {
    const first = await build(join(workDir, 'b/mod'), '-mod=mod -trimpath');
    logOutcome('rebuild, -trimpath turned on', first);
    // turning -trimpath on changes every key (Go hashes "trimpath"), but these settings are new: no cause
    expectNoCause(first);
    expect(compiles(first)).toHaveLength(PACKAGES);
    await cp(join(workDir, 'b'), join(workDir, 'c'), { recursive: true, preserveTimestamps: true });
    const run = await build(join(workDir, 'c/mod'), '-mod=mod -trimpath');
    logOutcome('rebuild, moved with -trimpath', run);
    expectNoCause(run);
    expect(goSpan(run).attributes['go.rebuild.changed']).toEqual([]);
    expect(compiles(run)).toEqual([]);
    expect(run.stderr).toContain(`go build ./... (example.org/churn): no input of the compile keys changed since the build of `);
    expect(run.stderr).toContain(`module directory changed: '${join(workDir, 'b/mod')}' → '${join(workDir, 'c/mod')}' (not in the compile keys with -trimpath`);
  });
});

describe('gostall run --no-history', () => {
  it('neither compares the build with the history nor records it', async () => {
    const dir = join(workDir, 'state/gostall/builds');
    const before = await Promise.all((await readdir(dir)).map(async (f) => [f, (await stat(join(dir, f))).mtimeMs]));
    const out = join(workDir, 'no-history.jsonl');
    const run = await runGostall(['run', '--no-history', '--out', out, '--', 'go', 'build', './...'], { cwd: join(workDir, 'c/mod'), env: buildEnv('-mod=mod -gcflags=-l') });
    expect(run.code, run.stderr).toBe(0);
    const spans = await readTraceFile(out);
    expect(spans.filter((s) => Object.keys(s.attributes).some((k) => k.startsWith('go.rebuild.')))).toEqual([]);
    expect(run.stderr).not.toContain('rebuilt because');
    const after = await Promise.all((await readdir(dir)).map(async (f) => [f, (await stat(join(dir, f))).mtimeMs]));
    expect(after).toEqual(before);
  });
});
