// The local build history that lets a build say why it rebuilt: a real module on disk, a go
// command and its compiles as the probe records them, compared with the history and recorded
// in it; and a history directory that an attacker or a crash left in a bad state, which must
// cost the user nothing but a notice.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBuildHistory, type ClientHistory } from '../../src/pipeline/build-history.js';
import { buildHistoryDir } from '../../src/cli/trace-owner.js';
import { createProcess, type ProcessNode } from '../../src/model/process.js';
import { emptyGoCacheLookups } from '../../src/model/gocache.js';
import { findGoModule, inspectGoroot } from '../../src/diagnose/context-go-files.js';
import type { DiagnosisContext } from '../../src/diagnose/types.js';
import { devGoEnv } from '../diagnose/fixtures.js';
import { TOOL, W, exec } from '../support/go-processes.js';


let work: string;
beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'gostall-history-')); });
afterEach(() => { rmSync(work, { recursive: true, force: true }); });

/** A module with two packages at dir. */
function writeModule(dir: string): void {
  for (const p of ['p1', 'p2']) {
    mkdirSync(join(dir, p), { recursive: true });
    writeFileSync(join(dir, p, 'p.go'), `package ${p}\n`);
  }
  writeFileSync(join(dir, 'go.mod'), 'module example.org/churn\n\ngo 1.19\n');
}

/** `go build ./...` in dir that compiled the given packages and looked up hits+misses entries. */
function build(dir: string, x: { compiled: string[]; hits: number; misses: number; env?: NodeJS.ProcessEnv; uid?: number }): { root: ProcessNode; ctx: DiagnosisContext } {
  const go = exec(createProcess(100, undefined, 0), '/usr/bin/go', ['go', 'build', './...']);
  go.status = 0;
  go.endNs = 1e9;
  go.gocache = { ...emptyGoCacheLookups(), hits: x.hits, misses: x.misses };
  x.compiled.forEach((p, i) => {
    const c = exec(createProcess(101 + i, go, 1), `${TOOL}/compile`, ['compile', '-o', `${W}/b00${i}/_pkg_.a`, '-p', `example.org/churn/${p}`, '-lang=go1.19', '-pack', `./${p}/p.go`]);
    c.status = 0;
    c.endNs = 5e8;
    c.uid = x.uid;
  });
  const env = x.env ?? {};
  const ctx: DiagnosisContext = {
    endNs: 1e9, mountOf: () => undefined, facts: {}, workspace: dir, envOf: () => env, goEnvOf: () => devGoEnv({ GOCACHE: join(work, 'cache') }),
    goModuleOf: findGoModule, inspectGoroot,
  };
  return { root: go, ctx };
}

const historyDir = (): string => join(work, 'state/gostall/builds');

describe('the build history', () => {
  it('names what changed since the last build of the same module, wherever the module now is', async () => {
    const history = createBuildHistory({ dir: historyDir() });
    const a = join(work, 'a/mod');
    writeModule(a);
    const first = (await history.compare(...Object.values(build(a, { compiled: ['p1', 'p2'], hits: 0, misses: 2 })) as [ProcessNode, DiagnosisContext]));
    expect(first.findings[0]!.previousAtMs).toBeUndefined();
    first.commit();
    // unchanged: nothing named
    const same = (await history.compare(...Object.values(build(a, { compiled: [], hits: 2, misses: 0 })) as [ProcessNode, DiagnosisContext]));
    expect(same.findings[0]!.changed).toEqual([]);
    same.commit();
    // one file edited: the package's file, read from disk after the build
    writeFileSync(join(a, 'p2/p.go'), 'package p2\n\nconst X = 1\n');
    const edit = (await history.compare(...Object.values(build(a, { compiled: ['p2'], hits: 1, misses: 1 })) as [ProcessNode, DiagnosisContext]));
    expect(edit.findings[0]!.changed.map((c) => c.text)).toEqual(['p.go of example.org/churn/p2 changed (content)']);
    edit.commit();
    // GOFLAGS
    const flags = (await history.compare(...Object.values(build(a, { compiled: ['p1', 'p2'], hits: 0, misses: 2, env: { GOFLAGS: '-tags=foo' } })) as [ProcessNode, DiagnosisContext]));
    expect(flags.findings[0]!.changed.map((c) => c.text)).toEqual(["GOFLAGS changed: '' → '-tags=foo'"]);
    flags.commit();
    // the module moved: the same build (module path), another directory
    const b = join(work, 'b/mod');
    writeModule(b);
    writeFileSync(join(b, 'p2/p.go'), 'package p2\n\nconst X = 1\n');
    const moved = (await history.compare(...Object.values(build(b, { compiled: ['p1', 'p2'], hits: 0, misses: 2, env: { GOFLAGS: '-tags=foo' } })) as [ProcessNode, DiagnosisContext]));
    expect(moved.findings[0]!.changed.map((c) => c.id)).toEqual(['module.dir']);
    expect(history.takeNotices()).toEqual([]);
  });

  it('reads back what another writer left in the file, even at the same length, not what it wrote itself', async () => {
    const history = createBuildHistory({ dir: historyDir() });
    const a = join(work, 'a/mod');
    writeModule(a);
    const first = (await history.compare(...Object.values(build(a, { compiled: ['p1', 'p2'], hits: 0, misses: 2 })) as [ProcessNode, DiagnosisContext]));
    first.commit();
    const file = join(historyDir(), readdirSync(historyDir())[0]!);
    const written = JSON.parse(readFileSync(file, 'utf8')) as { atMs: number };
    // the same build seen again: the record as written
    const again = (await history.compare(...Object.values(build(a, { compiled: [], hits: 2, misses: 0 })) as [ProcessNode, DiagnosisContext]));
    expect(again.findings[0]!.previousAtMs).toBe(written.atMs);
    // rewritten in place (same file, same length, another time in it): that is what counts
    const other = written.atMs - 1000;
    writeFileSync(file, readFileSync(file, 'utf8').replace(`"atMs":${written.atMs},`, `"atMs":${other},`));
    expect(statSync(file).size).toBe(Buffer.byteLength(JSON.stringify({ v: 1, ...written })));
    const later = (await history.compare(...Object.values(build(a, { compiled: [], hits: 2, misses: 0 })) as [ProcessNode, DiagnosisContext]));
    expect(later.findings[0]!.previousAtMs).toBe(other);
    expect(history.takeNotices()).toEqual([]);
  });

  it('fingerprints only source files the compiling user could read itself (the agent reads as root)', async () => {
    const other = (process.getuid?.() ?? 0) + 4242;
    for (const mode of [0o600, 0o644]) {
      const history = createBuildHistory({ dir: join(work, `state-${mode.toString(8)}`) });
      const a = join(work, `m${mode.toString(8)}`);
      writeModule(a);
      chmodSync(join(a, 'p2/p.go'), mode);
      (await history.compare(...Object.values(build(a, { compiled: ['p1', 'p2'], hits: 0, misses: 2, uid: other })) as [ProcessNode, DiagnosisContext])).commit();
      writeFileSync(join(a, 'p2/p.go'), 'package p2\n\nconst X = 1\n');
      const edit = (await history.compare(...Object.values(build(a, { compiled: ['p2'], hits: 1, misses: 1, uid: other })) as [ProcessNode, DiagnosisContext]));
      const named = edit.findings[0]!.changed.map((c) => c.text);
      // the file is someone else's and not world-readable: neither read nor named
      if (mode === 0o600) expect(named).toEqual([]);
      else expect(named).toEqual(['p.go of example.org/churn/p2 changed (content)']);
    }
  });

  it('writes its files 0600 in a 0700 directory and keeps at most maxFiles of them', async () => {
    const history = createBuildHistory({ dir: historyDir(), maxFiles: 2 });
    for (const name of ['x', 'y', 'z']) {
      const dir = join(work, name);
      writeModule(dir);
      writeFileSync(join(dir, 'go.mod'), `module example.org/${name}\n`);
      (await history.compare(...Object.values(build(dir, { compiled: ['p1'], hits: 0, misses: 1 })) as [ProcessNode, DiagnosisContext])).commit();
    }
    const files = readdirSync(historyDir());
    expect(files).toHaveLength(2);
    expect(statSync(historyDir()).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(historyDir(), f)).mode & 0o777).toBe(0o600);
  });
});

describe('a history directory in a bad state costs a notice, never the build', () => {
  /** The one history file of the module's build after a first build, replaced by what the attacker wrote. */
  async function plant(write: (file: string) => void): Promise<{ notices: string[]; previous: number | undefined }> {
    const a = join(work, 'a/mod');
    writeModule(a);
    (await createBuildHistory({ dir: historyDir() }).compare(...Object.values(build(a, { compiled: ['p1'], hits: 0, misses: 1 })) as [ProcessNode, DiagnosisContext])).commit();
    const file = join(historyDir(), readdirSync(historyDir())[0]!);
    rmSync(file);
    write(file);
    const history = createBuildHistory({ dir: historyDir() });
    const c = (await history.compare(...Object.values(build(a, { compiled: [], hits: 1, misses: 0 })) as [ProcessNode, DiagnosisContext]));
    c.commit();
    return { notices: history.takeNotices(), previous: c.findings[0]!.previousAtMs };
  }

  it.each([
    ['garbage', (f: string) => writeFileSync(f, '\u0000\u00ff{{{', { mode: 0o600 }), /not JSON/],
    ['JSON of another shape', (f: string) => writeFileSync(f, JSON.stringify({ v: 1, key: 'x', packages: 'all' }), { mode: 0o600 }), /not a build record/],
    ['a huge record', (f: string) => writeFileSync(f, ' '.repeat(3 << 20), { mode: 0o600 }), /larger than/],
    ['a symbolic link to a file elsewhere', (f: string) => { writeFileSync(join(work, 'secret'), '{}'); symlinkSync(join(work, 'secret'), f); }, /symbolic link/],
  ])('%s is ignored, counted and replaced by the next record', async (_what, write, notice) => {
    const r = await plant(write);
    expect(r.previous).toBeUndefined();
    expect(r.notices).toHaveLength(1);
    expect(r.notices[0]).toMatch(notice);
  });

  it('a directory in a record\'s place is ignored, and the record that cannot replace it is a second notice', async () => {
    const r = await plant((f) => mkdirSync(f));
    expect(r.previous).toBeUndefined();
    expect(r.notices).toEqual([expect.stringMatching(/not a regular file/), expect.stringMatching(/could not write/)]);
  });

  it('run\'s history directory that is a link is not used (run as the user, XDG_STATE_HOME)', async () => {
    mkdirSync(join(work, 'elsewhere'));
    mkdirSync(join(work, 'xdg/gostall'), { recursive: true });
    symlinkSync(join(work, 'elsewhere'), join(work, 'xdg/gostall/builds'));
    const at = buildHistoryDir({ XDG_STATE_HOME: join(work, 'xdg') });
    expect(at).toEqual({ dir: join(work, 'xdg/gostall/builds') });
    const a = join(work, 'a/mod');
    writeModule(a);
    const history = createBuildHistory(at as { dir: string });
    (await history.compare(...Object.values(build(a, { compiled: ['p1'], hits: 0, misses: 1 })) as [ProcessNode, DiagnosisContext])).commit();
    expect(history.takeNotices()).toEqual([expect.stringMatching(/build history off: .*xdg\/gostall\/builds: not a directory/)]);
    expect(readdirSync(join(work, 'elsewhere'))).toEqual([]);
  });

  it('a directory other users can write to is not used', async () => {
    mkdirSync(historyDir(), { recursive: true });
    chmodSync(historyDir(), 0o777);
    const a = join(work, 'a/mod');
    writeModule(a);
    const history = createBuildHistory({ dir: historyDir() });
    const c = (await history.compare(...Object.values(build(a, { compiled: ['p1'], hits: 0, misses: 1 })) as [ProcessNode, DiagnosisContext]));
    c.commit();
    expect(c.findings).toEqual([]);
    expect(history.takeNotices()).toEqual([expect.stringMatching(/build history off: .*writable by other users/)]);
    expect(readdirSync(historyDir())).toEqual([]);
  });
});

/** A client's side of the history (bin/gostall's): the files it holds, what it was asked for, what it was sent. */
function clientHolding(files = new Map<string, string>(), answer = true): ClientHistory & { asked: string[][]; held: Map<string, string> } {
  const asked: string[][] = [];
  return {
    scope: 'uid-1000', asked, held: files,
    fetch: async (names) => {
      asked.push(names);
      if (!answer) return undefined;
      return new Map(names.filter((n) => files.has(n)).map((n) => [n, Buffer.from(files.get(n)!)]));
    },
    write: (file, text) => { files.set(file, text); },
  };
}

describe('the build history a client keeps (the agent building bin/gostall\'s trace)', () => {
  const compareOnce = async (client: ClientHistory, dir: string, x: Parameters<typeof build>[1]) => {
    const history = createBuildHistory({ client });
    const c = await history.compare(...Object.values(build(dir, x)) as [ProcessNode, DiagnosisContext]);
    c.commit();
    return { findings: c.findings, notices: history.takeNotices() };
  };

  it('compares with the record the client sends and gives the new one back to it, in the file a directory would hold', async () => {
    const a = join(work, 'a/mod');
    writeModule(a);
    // a record written by standalone run into the user's directory
    await (async () => { const h = createBuildHistory({ dir: historyDir() }); (await h.compare(...Object.values(build(a, { compiled: ['p1', 'p2'], hits: 0, misses: 2 })) as [ProcessNode, DiagnosisContext])).commit(); })();
    const [name] = readdirSync(historyDir());
    const client = clientHolding(new Map([[name!, readFileSync(join(historyDir(), name!), 'utf8')]]));
    writeFileSync(join(a, 'p2/p.go'), 'package p2\n\nconst X = 1\n');
    const edit = await compareOnce(client, a, { compiled: ['p2'], hits: 1, misses: 1 });
    expect(client.asked).toEqual([[name]]);
    expect(edit.findings[0]!.changed.map((c) => c.text)).toEqual(['p.go of example.org/churn/p2 changed (content)']);
    expect(edit.notices).toEqual([]);
    // what the client writes back is a record a directory history reads (standalone run, next time)
    writeFileSync(join(historyDir(), name!), client.held.get(name!)!);
    writeFileSync(join(a, 'p1/p.go'), 'package p1\n\nconst Y = 2\n');
    const h = createBuildHistory({ dir: historyDir() });
    const next = await h.compare(...Object.values(build(a, { compiled: ['p1'], hits: 1, misses: 1 })) as [ProcessNode, DiagnosisContext]);
    expect(next.findings[0]!.changed.map((c) => c.text)).toEqual(['p.go of example.org/churn/p1 changed (content)']);
    expect(h.takeNotices()).toEqual([]);
  });

  it('a client that has no record, sends garbage or does not answer costs a notice at most, never the trace', async () => {
    const a = join(work, 'a/mod');
    writeModule(a);
    const none = clientHolding();
    const first = await compareOnce(none, a, { compiled: ['p1', 'p2'], hits: 0, misses: 2 });
    expect(first.findings[0]!.previousAtMs).toBeUndefined();
    expect(first.notices).toEqual([]);
    expect(none.held.size).toBe(1); // the first record, for the client to write
    const [name] = [...none.held.keys()];
    const garbage = clientHolding(new Map([[name!, '{"v":1,"key":"another build"}']]));
    const bad = await compareOnce(garbage, a, { compiled: [], hits: 2, misses: 0 });
    expect(bad.findings[0]!.previousAtMs).toBeUndefined();
    expect(bad.notices).toEqual([expect.stringMatching(/ignored the client's [0-9a-f]{32}\.json: not a build record/)]);
    const silent = clientHolding(new Map(none.held), false);
    const unanswered = await compareOnce(silent, a, { compiled: [], hits: 2, misses: 0 });
    expect(unanswered.findings).toEqual([]);
    expect(unanswered.notices).toEqual([expect.stringMatching(/did not send its records in time/)]);
    expect(silent.held.get(name!)).toBe(none.held.get(name!)); // nothing written over the record it did not send
  });
});
