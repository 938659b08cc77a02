// Build cache hits and misses from the kernel (issue 13) on real builds with Debian's Go 1.19:
// a cold build misses every action the go command's own -debug-actiongraph lists as built,
// and runs a compile for each missed package; the same build again with the same GOCACHE
// finds them all and compiles nothing. The root span and the summary carry the account.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO_DIRECTIVE, goEnv } from '../support/faults/goModule.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { cleanEnv, ensureBuilt, expectNoCause, logOutcome, traced, type TracedRun } from './harness.js';

let workDir: string;

interface GraphAction { Mode: string; Package: string }

/** Actions of -debug-actiongraph that look an action ID up in the cache: package builds and the link. */
function lookedUpActions(graphFile: string): GraphAction[] {
  const graph = JSON.parse(readFileSync(graphFile, 'utf8')) as GraphAction[];
  return graph.filter((a) => a.Mode === 'build' || a.Mode === 'link');
}

function build(graphFile: string, flags: string[]): Promise<TracedRun> {
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  return traced(['go', 'build', ...flags, `-debug-actiongraph=${graphFile}`, '-o', join(workDir, 'app-bin'), '.'], { cwd: join(workDir, 'app'), env });
}

const rootOf = (spans: DecodedSpan[]): DecodedSpan => spans.find((s) => s.parentSpanId === undefined)!;
const compiles = (spans: DecodedSpan[]): DecodedSpan[] => spans.filter((s) => s.attributes['go.action'] === 'compile');

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-gocache-'));
  // a small module importing a few std packages (no assembly of its own: see docs/attributes.md
  // for the few extra lookups the go command makes around its first tool runs then)
  await mkdir(join(workDir, 'app'));
  await writeFile(join(workDir, 'app/go.mod'), `module example.org/gocache\n\ngo ${GO_DIRECTIVE}\n`);
  await writeFile(join(workDir, 'app/main.go'), 'package main\n\nimport (\n\t"encoding/json"\n\t"fmt"\n\t"sort"\n\t"strings"\n)\n\n' +
    'func main() {\n\tb, _ := json.Marshal(sort.StringSlice{"a"})\n\tfmt.Println(strings.ToUpper(string(b)))\n}\n');
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('build cache hits and misses of a real go build', () => {
  it('a cold build misses every action it builds, and each missed package has a compile span', async () => {
    const graph = join(workDir, 'cold.json');
    const run = await build(graph, ['-a']);
    logOutcome('build cache, cold go build', run);
    expect(run.exitCode).toBe(0);
    expectNoCause(run);
    const actions = lookedUpActions(graph);
    const root = rootOf(run.spans).attributes;
    // every action of the graph misses (within two: the machine is shared and noisy); the go command also looks up a few entries that are
    // not actions of the graph (2 to 4 in this module's cold builds, around its first tool runs)
    const misses = root['gostall.gocache.misses'] as number;
    expect(misses).toBeGreaterThanOrEqual(actions.length - 2);
    expect(misses).toBeLessThanOrEqual(actions.length + 4);
    expect(root['gostall.gocache.hits']).toBe(0);
    expect(root['gostall.gocache.hit_ratio']).toBe(0);
    expect(root['gostall.gocache.writes'] as number).toBeGreaterThanOrEqual(actions.length);
    expect(root['gostall.gocache.miss_compile_ns'] as number).toBeGreaterThan(0);
    // every package compiled was a build action of the graph, and none of them hit
    const built = new Set(actions.map((a) => a.Package));
    const cs = compiles(run.spans);
    expect(cs.length).toBeGreaterThan(20);
    for (const c of cs) {
      expect(c.attributes['go.cache_hit'], c.name).toBe(false);
      const pkg = String(c.attributes['go.package'] ?? 'main');
      expect(built.has(pkg) || pkg === 'main', pkg).toBe(true); // a lone main package is named main (go-action.ts)
    }
    expect(run.stderr).toMatch(new RegExp(`^  Go build cache: 0 hits, ${misses} misses \\(0% hits\\) · \\d+ entries written$`, 'm'));
  });

  // -a rebuilds every package: the go command still opens the entries (found: hits) and then
  // compiles anyway, so the compiles run (docs/attributes.md). Without -a nothing compiles.
  it('the same build again with the same GOCACHE hits (within two lookups); without -a it compiles nothing', async () => {
    const graph = join(workDir, 'warm.json');
    const run = await build(graph, ['-a']);
    logOutcome('build cache, same go build -a again', run);
    expect(run.exitCode).toBe(0);
    expectNoCause(run);
    const actions = lookedUpActions(graph);
    const root = rootOf(run.spans).attributes;
    const hits = root['gostall.gocache.hits'] as number;
    expect(root['gostall.gocache.misses'] as number).toBeLessThanOrEqual(1);
    expect(hits).toBeGreaterThanOrEqual(actions.length - 1);
    expect(hits).toBeLessThanOrEqual(actions.length + 2);
    expect(root['gostall.gocache.hit_ratio'] as number).toBeGreaterThan(0.95);
    expect(run.stderr).toMatch(/^ {2}Go build cache: \d+ hits, [01] miss(es)? \((9\d|100)% hits\)/m);

    const plain = await build(join(workDir, 'plain.json'), []);
    logOutcome('build cache, same go build without -a', plain);
    expect(plain.exitCode).toBe(0);
    const p = rootOf(plain.spans).attributes;
    expect(p['gostall.gocache.misses'] as number).toBeLessThanOrEqual(1);
    expect(p['gostall.gocache.hits'] as number).toBeGreaterThanOrEqual(actions.length - 1);
    expect(compiles(plain.spans)).toEqual([]);
  });
});
