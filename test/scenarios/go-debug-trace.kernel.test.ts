// go build -debug-trace=FILE under gostall run (Debian's Go 1.19): the go command's own
// phases join the trace under its process span — package loading, the builder, one span per
// action — and each build action says whether the kernel saw it compile (cold: the module's
// packages were compiled; warm, same GOCACHE: nothing was). Without the flag, no phase spans.
// A trace file the go process's user does not own is not read (the agent runs as root).
import { chownSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { cleanEnv, ensureBuilt, expectNoCause, logOutcome, traced } from './harness.js';
import { writeAppModule } from './modules.js';

let workDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-debugtrace-'));
  await writeAppModule(join(workDir, 'app'));
  env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const goSpan = (spans: DecodedSpan[]) => spans.find((s) => s.attributes['process.executable.name'] === 'go' && s.name.startsWith('go build'))!;
const childrenOf = (spans: DecodedSpan[], parent: DecodedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId);
const buildActions = (spans: DecodedSpan[]) => spans.filter((s) => s.attributes['go.action.mode'] === 'build');
const build = (trace: string) => traced(['go', 'build', `-debug-trace=${trace}`, '-o', join(workDir, 'app-bin'), './cmd/app'], { cwd: join(workDir, 'app'), env });

describe('the go command\'s own phases (-debug-trace)', () => {
  it('join the trace under the go span, and say which actions compiled, cold then warm', async () => {
    const cold = await build('cold.json');
    logOutcome('go build -debug-trace, cold', cold);
    expect(cold.exitCode).toBe(0);
    expectNoCause(cold);
    const go = goSpan(cold.spans);
    const top = childrenOf(cold.spans, go).map((s) => s.name);
    expect(top).toContain('Running build command');
    const command = cold.spans.find((s) => s.name === 'Running build command')!;
    const builder = childrenOf(cold.spans, command).find((s) => s.name.startsWith('exec.Builder.Do ('))!;
    expect(childrenOf(cold.spans, command).map((s) => s.name)).toContain('load.PackagesAndErrors');
    // every action the go command executed, each under the builder, named by what it acted on
    const actions = childrenOf(cold.spans, builder);
    expect(actions.length).toBeGreaterThan(3);
    expect(actions.every((s) => s.name.startsWith('action '))).toBe(true);
    expect(actions.map((s) => s.name)).toContain('action build example.org/app/cmd/app');
    // the kernel saw the module's own packages compiled inside their actions
    const own = buildActions(cold.spans).filter((s) => String(s.attributes['go.package']).startsWith('example.org/app'));
    expect(own.map((s) => s.attributes['go.package']).sort()).toEqual(['example.org/app/cmd/app', 'example.org/app/internal/fast', 'example.org/app/internal/greet']);
    expect(own.every((s) => s.attributes['go.action.compiled'] === true)).toBe(true);
    expect(go.attributes['go.debug_trace.phases']).toBe(cold.spans.filter((s) => s.attributes['go.phase'] !== undefined).length);
    expect(go.attributes['go.debug_trace.unmatched']).toBe(0);
    // the link waited for its dependencies, then (maybe) for a free worker: the wait is measured from the last one done
    const link = actions.find((s) => s.attributes['go.action.mode'] === 'link')!;
    expect(link.attributes['go.action.slot_wait_ns']).toBeGreaterThanOrEqual(0);
    expect(Number(go.attributes['go.debug_trace.slot_wait_ns'])).toBeGreaterThanOrEqual(Number(link.attributes['go.action.slot_wait_ns']));
    // the trace file is the user's, untouched
    expect(JSON.parse(await readFile(join(workDir, 'app', 'cold.json'), 'utf8'))).toBeInstanceOf(Array);

    const warm = await build('warm.json');
    logOutcome('go build -debug-trace, warm', warm);
    const warmOwn = buildActions(warm.spans).filter((s) => String(s.attributes['go.package']).startsWith('example.org/app'));
    expect(warmOwn).toHaveLength(3);
    expect(warmOwn.every((s) => s.attributes['go.action.compiled'] === false)).toBe(true);
  });

  it('adds nothing without the flag, and does not read a trace file its go process\'s user does not own', async () => {
    const plain = await traced(['go', 'build', '-o', join(workDir, 'app-bin'), './cmd/app'], { cwd: join(workDir, 'app'), env });
    expect(plain.exitCode).toBe(0);
    expect(plain.spans.filter((s) => s.attributes['go.phase'] !== undefined)).toEqual([]);

    // root's go build names a file nobody owns: the go command writes into it (root may), gostall does not read it
    const foreign = join(workDir, 'foreign.json');
    await writeFile(foreign, '');
    chownSync(foreign, 65534, 65534);
    const run = await build(foreign);
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(await readFile(foreign, 'utf8'))).toBeInstanceOf(Array);
    expect(run.spans.filter((s) => s.attributes['go.phase'] !== undefined)).toEqual([]);
    expect(goSpan(run.spans).attributes['go.debug_trace.phases']).toBeUndefined();
  });
});
