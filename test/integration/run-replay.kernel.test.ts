// `gostall run --raw FILE` saves the probe stream it read; `gostall replay FILE` turns it into
// the same spans and causes run produced (new ids, and absolute times aside): run, agent and
// replay share one pipeline from lines to spans. Both traces are read with the independent
// decoder. Two real runs on this kernel: `go list ./...` in a workspace on a FUSE mount with
// 2 ms getattr (a cause, fs.slow_metadata, that needs the run's context: the mount table and
// the workspace), a cold go build (a process tree), and a go build through runuser as a user
// whose HOME is not writable (fs.permission_denied, judged with that process's own
// environment, read at its exec and carried in the capture).
import { chmod, chown, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { mountSlowFuse, type SlowFuseMount } from '../support/faults/slowFuse.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { writeMultiPackageModule } from '../scenarios/modules.js';
import { commandAsUser, createUser, type TestUser } from '../support/faults/otherUser.js';
import { readTraceFile, rootSpan, runGostall } from './harness.js';

interface RunAndReplay { runSpans: DecodedSpan[]; replaySpans: DecodedSpan[]; raw: string; runCode: number | null; replayCode: number | null; replayStderr: string }

let work: string;
let fuse: SlowFuseMount | undefined;
let onFuse: RunAndReplay;
let goBuild: RunAndReplay;
let user: TestUser | undefined;

/** run CMD with --raw, then replay the capture; both traces decoded. */
async function runThenReplay(name: string, command: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunAndReplay> {
  const runOut = join(work, `${name}.run.jsonl`);
  const raw = join(work, `${name}.raw`);
  const replayOut = join(work, `${name}.replay.jsonl`);
  const run = await runGostall(['run', '--out', runOut, '--raw', raw, '--', ...command], opts);
  const replay = await runGostall(['replay', raw, '--out', replayOut], { env: opts.env });
  return {
    runSpans: await readTraceFile(runOut), replaySpans: await readTraceFile(replayOut), raw,
    runCode: run.code, replayCode: replay.code, replayStderr: replay.stderr,
  };
}

/** A span as the user reads it, without its ids and absolute times: where it sits in the tree, what it says, how long it took. */
function comparable(spans: DecodedSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const root = rootSpan(spans);
  const pathOf = (s: DecodedSpan): string => {
    const names: string[] = [];
    for (let p: DecodedSpan | undefined = s; p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) names.unshift(p.name);
    return names.join(' > ');
  };
  // The resource's container.id is the traced process's container, read live: a replay does not know it.
  const resource = (s: DecodedSpan) => Object.fromEntries(Object.entries(s.resource).filter(([k]) => k !== 'container.id'));
  return spans.map((s) => JSON.stringify({
    path: pathOf(s), kind: s.kind, status: s.status, attributes: s.attributes, resource: resource(s), scope: s.scope,
    // relative to the root span, in µs: the two clocks are the same offset taken two ways
    startUs: Math.round(Number(s.startNs - root.startNs) / 1e3), durationUs: Math.round(Number(s.endNs - s.startNs) / 1e3),
  })).sort();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-run-replay-'));
  const env = { ...process.env, ...goEnv({ gocache: join(work, 'gocache'), gomodcache: join(work, 'gomodcache'), home: join(work, 'home') }) };
  await writeMultiPackageModule(join(work, 'backing'), { packages: 12, filesPerPackage: 3 });
  fuse = await mountSlowFuse({ backingDir: join(work, 'backing'), mountPoint: join(work, 'workspace'), getattrDelayMs: 2 });
  onFuse = await runThenReplay('fuse', ['go', 'list', './...'], { cwd: fuse.mountPoint, env });

  const mod = join(work, 'mod');
  await writeHelloModule(mod);
  goBuild = await runThenReplay('gobuild', ['go', 'build', '-o', join(work, 'hello'), '.'], { cwd: mod, env });
}, 300_000);

afterAll(async () => {
  await user?.restore();
  await fuse?.restore();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a run capture replayed', () => {
  it('is saved privately, in the format replay reads, with the clock offset and the run context', async () => {
    expect(onFuse.runCode).toBe(0);
    expect((await stat(onFuse.raw)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(onFuse.raw, 'latin1')).split('\n');
    expect(lines[0]).toMatch(/^#gostall clock_offset_ns=\d+$/);
    expect(lines.some((l) => l.startsWith('R\t'))).toBe(true);
    expect(lines.some((l) => l.startsWith('#gostall context {'))).toBe(true);
    expect(onFuse.replayCode).toBe(0);
  });

  it('gives the spans run gave: go list on a slow FUSE workspace, blamed on fs.slow_metadata in both', () => {
    const root = rootSpan(onFuse.runSpans);
    expect(root.attributes['gostall.causes']).toContain('fs.slow_metadata');
    expect(rootSpan(onFuse.replaySpans).attributes['gostall.causes']).toEqual(root.attributes['gostall.causes']);
    expect(comparable(onFuse.replaySpans)).toEqual(comparable(onFuse.runSpans));
  });

  it('gives the spans run gave for a whole go build: every process, parented alike, with the same attributes and causes', () => {
    expect(goBuild.runCode).toBe(0);
    expect(goBuild.runSpans.filter((s) => s.attributes['process.executable.name'] === 'compile').length).toBeGreaterThan(0);
    expect(comparable(goBuild.replaySpans)).toEqual(comparable(goBuild.runSpans));
    expect(goBuild.replayStderr).not.toMatch(/malformed/);
  });

  it('gives the spans run gave when a cause is judged by a process\'s own environment (HOME after runuser)', async () => {
    user = await createUser();
    const u = user;
    await chmod(work, 0o755); // the user reads the module; only its HOME is not writable
    await chown(u.home, 0, 0);
    await chmod(u.home, 0o755);
    try {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of ['GOCACHE', 'GOMODCACHE', 'GOPATH', 'XDG_CACHE_HOME']) delete env[k];
      const cmd = commandAsUser(u, 'go', ['build', '-o', '/dev/null', '.'], 'runuser');
      const r = await runThenReplay('home', [cmd.file, ...cmd.args], { cwd: join(work, 'mod'), env });
      const root = rootSpan(r.runSpans);
      expect(root.attributes['gostall.causes']).toEqual(['fs.permission_denied']);
      const blamed = r.runSpans.find((s) => s.attributes['gostall.cause'] === 'fs.permission_denied')!;
      expect(blamed.attributes['gostall.cause.scope']).toBe('gocache');
      expect(comparable(r.replaySpans)).toEqual(comparable(r.runSpans));
    } finally {
      await chown(u.home, u.uid, u.gid); // userdel -r removes only a home the user owns
    }
  });
});
