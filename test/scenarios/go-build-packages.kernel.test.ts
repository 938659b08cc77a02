// Per-package spans on a real traced build (Debian's Go 1.19): each compile, asm, link and vet
// span is named by the package it builds and carries go.package and go.action, while
// process.executable.name stays the tool's name. The packages are checked against what
// `go build -x` prints for the same build. Clean builds: no cause.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO_DIRECTIVE, goEnv } from '../support/faults/goModule.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { cleanEnv, ensureBuilt, expectNoCause, logOutcome, traced } from './harness.js';
import { writeAppModule } from './modules.js';

let workDir: string;
let runs = 0;

function coldEnv(): NodeJS.ProcessEnv {
  runs++;
  return cleanEnv(goEnv({ gocache: join(workDir, `gocache-${runs}`), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
}

const tool = (spans: DecodedSpan[], exe: string) => spans.filter((s) => s.attributes['process.executable.name'] === exe);

/** The -p packages of the compiles `go build -x` prints for the same cold build. */
function compiledPackagesPerGoX(): string[] {
  const r = execFileSync('sh', ['-c', `go build -x -o ${join(workDir, 'app-x')} ./cmd/app 2>&1`], { cwd: join(workDir, 'app'), env: coldEnv(), encoding: 'utf8' });
  return [...r.matchAll(/\/compile .*? -p (\S+)/g)].map((m) => m[1]!).sort();
}

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-packages-'));
  await writeAppModule(join(workDir, 'app'));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('per-package spans of a real go build', () => {
  it('names compile, asm and link spans by their package, as go build -x shows them', async () => {
    const run = await traced(['go', 'build', '-o', join(workDir, 'app-bin'), './cmd/app'], { cwd: join(workDir, 'app'), env: coldEnv() });
    logOutcome('per-package spans, cold go build', run);
    expect(run.exitCode).toBe(0);
    expectNoCause(run);

    // the plain compile spans are the go command asking the compiler's version (-V=full)
    const compiles = tool(run.spans, 'compile').filter((s) => s.attributes['go.action'] === 'compile');
    expect(compiles.map((s) => s.name).sort()).toEqual([
      'compile example.org/app/cmd/app', 'compile example.org/app/internal/fast', 'compile example.org/app/internal/greet',
    ]);
    // go build -x prints -p main for the main package: its import path comes from its directory
    const perGoX = compiledPackagesPerGoX().map((p) => (p === 'main' ? 'example.org/app/cmd/app' : p)).sort();
    expect(compiles.map((s) => s.attributes['go.package']).sort()).toEqual(perGoX);
    const main = compiles.find((s) => s.name === 'compile example.org/app/cmd/app')!;
    expect(main.attributes['go.package.dir']).toBe(join(workDir, 'app/cmd/app'));

    // two asm runs for the package with assembly: -gensymabis, then the object (asm -V=full is a version query)
    const asm = tool(run.spans, 'asm').filter((s) => s.attributes['go.action'] === 'asm');
    expect(asm.map((s) => s.name)).toEqual(['asm example.org/app/internal/fast', 'asm example.org/app/internal/fast']);

    const link = tool(run.spans, 'link').filter((s) => s.attributes['go.action'] === 'link');
    expect(link.map((s) => s.name)).toEqual(['link example.org/app/cmd/app']);
    expect(link[0]!.attributes).toMatchObject({ 'go.action': 'link', 'go.package': 'example.org/app/cmd/app' });

    // the summary's build section, and the root span's account of the build
    expect(run.stderr).toMatch(/^ {2}Go build actions: 6 actions, 3 compiles \(.* summed, at most [123] at once\)$/m);
    expect(run.stderr).toContain('  slowest packages:\n');
    expect(run.stderr).toMatch(/^ +\S+ (ms|s|µs) {2}link example\.org\/app\/cmd\/app$/m);
    const root = run.spans.find((s) => s.parentSpanId === undefined)!;
    expect(root.attributes).toMatchObject({ 'gostall.go.actions': 6, 'gostall.go.compiles': 3 });
    expect(root.attributes['gostall.go.slowest_packages']).toContain('link example.org/app/cmd/app');
    // no CPU quota: go build -p (GOMAXPROCS = the CPUs) never runs more compiles at once than there are CPUs
    expect(root.attributes).toMatchObject({ 'gostall.go.parallelism_verdict': 'within_cpus', 'gostall.go.cpus_source': 'cpus', 'gostall.go.cpus_available': availableParallelism() });
    const running = root.attributes['gostall.go.compiles_running_ns'] as number[];
    expect(running.length - 1).toBe(root.attributes['gostall.go.max_parallel_compiles']);
    expect(run.stderr).toMatch(new RegExp(`^ {2}parallelism: up to [12] compiles? at once \\(GOMAXPROCS ${availableParallelism()}\\) on ${availableParallelism()} CPUs · compiles waited \\S+ (ms|s|µs|ns) for a CPU$`, 'm'));
  });

  // vet names its package only in its $WORK config file: the span takes it from the compile of
  // the same action, and go vet compiles no main package (nothing imports it) — that vet stays `vet`.
  it('names the vet spans of go vet by the library packages it compiled', async () => {
    const run = await traced(['go', 'vet', './...'], { cwd: join(workDir, 'app'), env: coldEnv() });
    logOutcome('per-package spans, go vet', run);
    expect(run.exitCode).toBe(0);
    expectNoCause(run);
    const vetted = tool(run.spans, 'vet').filter((s) => s.attributes['go.package'] !== undefined).map((s) => s.name).sort();
    expect(vetted).toEqual(expect.arrayContaining(['vet example.org/app/internal/fast', 'vet example.org/app/internal/greet']));
    // vet -flags and vet -V=full are the go command asking about the tool, not actions
    expect(tool(run.spans, 'vet').filter((s) => s.attributes['go.action'] === 'vet').length).toBeGreaterThanOrEqual(3);
  });

  it('names both cgo runs of a cgo package, and its compile, by the package', async () => {
    const dir = join(workDir, 'cg');
    await mkdir(join(dir, 'c'), { recursive: true });
    await writeFile(join(dir, 'go.mod'), `module example.org/cg\n\ngo ${GO_DIRECTIVE}\n`);
    await writeFile(join(dir, 'c/c.go'), 'package c\n\n// int twice(int x) { return 2 * x; }\nimport "C"\n\nfunc Twice(x int) int { return int(C.twice(C.int(x))) }\n');
    runs++;
    const env = cleanEnv(goEnv({ gocache: join(workDir, `gocache-${runs}`), gomodcache: join(workDir, 'gomodcache'), home: workDir, cgo: true }));
    const run = await traced(['go', 'build', './c'], { cwd: dir, env });
    logOutcome('per-package spans, cgo', run);
    expect(run.exitCode).toBe(0);
    const cgo = tool(run.spans, 'cgo').filter((s) => s.attributes['go.action'] === 'cgo');
    expect(cgo.map((s) => s.name)).toEqual(['cgo example.org/cg/c', 'cgo example.org/cg/c']);
    expect(tool(run.spans, 'compile').filter((s) => s.attributes['go.action'] === 'compile').map((s) => s.name)).toEqual(['compile example.org/cg/c']);
  });
});
