// A Go build's parallelism against the CPUs it may use (issue 13, item 5): the verdict on the
// root span and the summary's line, from the process tree and the diagnosis context.
import { describe, expect, it } from 'vitest';
import { buildParallelism as verdictOn, buildParallelismAttributes } from '../../src/diagnose/build-parallelism.js';
import { timeByOverlap, buildActionsOf, summarizeBuild } from '../../src/model/build-insight.js';
import { createProcess, type ProcessNode } from '../../src/model/process.js';
import { renderSummary } from '../../src/export/summary.js';
import { context, devGoEnv } from './fixtures.js';
import type { DiagnosisContext } from '../../src/diagnose/types.js';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Readable } from 'node:stream';
import { clockFromOffset } from '../../src/model/clock.js';
import { createIdRegistry } from '../../src/pipeline/span-ids.js';
import { buildTreeSpans } from '../../src/pipeline/tree-spans.js';
import { loadReport, reportText } from '../../src/report/report.js';

const MS = 1e6;
const TOOL = '/usr/lib/go-1.19/pkg/tool/linux_amd64';

function exec(p: ProcessNode, filename: string, args: string[]): void {
  const bytes = Buffer.from(`${args.join('\0')}\0`);
  p.exec = { ts: p.startNs, filename, filenameTruncated: false, comm: 'x', argvLen: bytes.length, argvParts: [bytes], argvBytes: bytes.length };
}

/** go build with `goArgs`: four compiles, [0,100) [0,100) [50,150) [50,150) ms, each 20 ms in the run queue. */
function build(goArgs: string[]): ProcessNode {
  const go = createProcess(100, undefined, 0);
  exec(go, '/usr/bin/go', ['go', 'build', ...goArgs, './...']);
  go.endNs = 200 * MS;
  go.status = 0;
  [[0, 100], [0, 100], [50, 150], [50, 150]].forEach(([s, e], i) => {
    const c = createProcess(101 + i, go, s! * MS);
    exec(c, `${TOOL}/compile`, ['compile', '-o', `/w/b00${i}/_pkg_.a`, '-p', `example.org/p${i}`, `/src/p${i}/a.go`]);
    c.endNs = e! * MS;
    c.status = 0;
    c.sched.runqNs = 20 * MS;
  });
  return go;
}

/** The verdict on a tree, from its build account as the pipeline makes it. */
const buildParallelism = (root: ProcessNode, ctx: DiagnosisContext) => verdictOn(root, summarizeBuild(buildActionsOf(root, ctx.endNs)), ctx);

const cgroup = (quotaCpus: number | undefined) => ({
  version: 2 as const, path: '/build', quotaCpus, quotaUs: quotaCpus && quotaCpus * 100_000, periodUs: quotaCpus && 100_000,
  periods: 10, throttledPeriods: 5, throttledNs: 1e9, movedDuringRun: false,
});
const cpuTimes = (cpus: number) => ({ cpus, spanNs: 1e9, busyNs: 1e9, stealNs: 0 });

describe('build parallelism', () => {
  it('time by number of compiles running: the shape a peak alone hides', () => {
    const b = summarizeBuild(buildActionsOf(build([]), 200 * MS))!;
    expect(b.maxParallelCompiles).toBe(4);
    expect(b.compilesRunningNs).toEqual([0, 0, 100 * MS, 0, 50 * MS]);
    expect(b.compileRunqNs).toBe(80 * MS);
    expect(timeByOverlap([{ startNs: 0, endNs: 10 }, { startNs: 20, endNs: 30 }])).toEqual([10, 20]);
    expect(timeByOverlap([])).toEqual([]);
  });

  it('more compiles at once than the CPU quota gives: above_cpus, with the quota and GOMAXPROCS', () => {
    const root = build([]);
    const v = buildParallelism(root, context({ cgroupCpu: cgroup(0.5), cpuTimes: cpuTimes(8), go: devGoEnv({ GOMAXPROCS: 8 }) }))!;
    expect(v).toMatchObject({ verdict: 'above_cpus', cpusAvailable: 0.5, cpusSource: 'cpu quota', limit: 8, limitSource: 'GOMAXPROCS', maxParallelCompiles: 4 });
    expect(buildParallelismAttributes(v)).toEqual({
      'gostall.go.parallelism_verdict': 'above_cpus', 'gostall.go.cpus_available': 0.5, 'gostall.go.cpus_source': 'cpu quota',
      'gostall.go.parallelism_limit': 8, 'gostall.go.parallelism_limit_source': 'GOMAXPROCS',
    });
    const text = renderSummary({ root, traceId: 'a'.repeat(32), endNs: 200 * MS, causes: [], lostEvents: 0, malformedRecords: 0, spanCount: 5, destinations: [], exportProblems: [], parallelism: v });
    expect(text).toContain('  parallelism: up to 4 compiles at once (GOMAXPROCS 8) on 0.5 CPUs (cpu quota): more than the CPUs can run · compiles waited 80 ms for a CPU\n');
  });

  it('go build -p names the limit; as many CPUs as compiles at once is within_cpus', () => {
    for (const args of [['-p', '4'], ['-p=4']]) {
      const v = buildParallelism(build(args), context({ cpuTimes: cpuTimes(4), go: devGoEnv({ GOMAXPROCS: 4 }) }))!;
      expect(v).toMatchObject({ verdict: 'within_cpus', cpusAvailable: 4, cpusSource: 'cpus', limit: 4, limitSource: '-p' });
    }
    // a quota above the CPU count limits nothing: the CPUs do
    expect(buildParallelism(build([]), context({ cgroupCpu: cgroup(16), cpuTimes: cpuTimes(2) }))).toMatchObject({ cpusAvailable: 2, cpusSource: 'cpus', verdict: 'above_cpus' });
  });

  it('gostall report prints the line run printed, from the root span', async () => {
    const root = build(['-p', '6']);
    const v = buildParallelism(root, context({ cgroupCpu: cgroup(1.5), cpuTimes: cpuTimes(2) }))!;
    const clock = clockFromOffset({ wallMs: 1_795_000_000_000, monoNs: 0 }, () => ({ wallMs: 1_795_000_000_000, monoNs: 0 }));
    const spans = await buildTreeSpans({
      node: root, ids: createIdRegistry(), clock, thresholdNs: 50 * MS, endNs: 200 * MS, causes: [],
      resource: resourceFromAttributes({ 'service.name': 'go' }), rootAttributes: buildParallelismAttributes(v),
    });
    const line = '  parallelism: up to 4 compiles at once (-p 6) on 1.5 CPUs (cpu quota): more than the CPUs can run · compiles waited 80 ms for a CPU\n';
    expect(renderSummary({ root, traceId: 'a'.repeat(32), endNs: 200 * MS, causes: [], lostEvents: 0, malformedRecords: 0, spanCount: 5, destinations: [], exportProblems: [], parallelism: v })).toContain(line);
    const text = `${Buffer.from(JsonTraceSerializer.serializeRequest(spans)!).toString('utf8')}\n`;
    const report = await loadReport([{ name: 'trace.jsonl', stream: Readable.from([Buffer.from(text)]) }]);
    expect(reportText(report)).toContain(line);
  });

  it('no verdict without compiles or without knowing the CPUs', () => {
    const go = createProcess(100, undefined, 0);
    exec(go, '/usr/bin/go', ['go', 'env']);
    go.endNs = 10 * MS;
    expect(buildParallelism(go, context({ cpuTimes: cpuTimes(2) }))).toBeUndefined();
    expect(buildParallelism(build([]), context({}))).toBeUndefined();
    expect(buildParallelismAttributes(undefined)).toEqual({});
  });
});
