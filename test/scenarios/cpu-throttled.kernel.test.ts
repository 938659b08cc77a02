// A cold `go build` in a cgroup whose CPU quota (0.2 CPU) is far below GOMAXPROCS (the
// machine's CPUs): the kernel throttles it most of the time. gostall blames cpu.throttled on
// the go build, quoting the quota and GOMAXPROCS.
import { availableParallelism } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCpuQuotaCgroup, type CpuQuotaCgroup } from '../support/faults/cpuQuota.js';
import { goEnv } from '../support/faults/goModule.js';
import { cleanEnv, ensureBuilt, expectSoleCause, logOutcome, rootPid, traced } from './harness.js';
import { writeMultiPackageModule } from './modules.js';

let workDir: string;
let cgroup: CpuQuotaCgroup | undefined;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-quota-'));
  await writeMultiPackageModule(join(workDir, 'module'), { packages: 20, filesPerPackage: 2 });
});

afterAll(async () => {
  await cgroup?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it('a cold go build in a 0.2-CPU cgroup is blamed on cpu.throttled, with the quota and GOMAXPROCS', async () => {
  cgroup = await createCpuQuotaCgroup({ quotaUs: 20_000, periodUs: 100_000 });
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  // The traced command moves itself into the limited cgroup, then becomes go build.
  const run = await traced(['sh', '-c', 'echo $$ > "$1" && exec go build ./...', 'sh', cgroup.cgroupProcsPath], { cwd: join(workDir, 'module'), env });
  logOutcome('cold go build under a 0.2-CPU quota', run);
  expect(run.exitCode).toBe(0);
  const cause = expectSoleCause(run, 'cpu.throttled', 'go build');
  expect(cause.pid).toBe(rootPid(run));
  const cgroupPath = cgroup.cgroupDir.slice(cgroup.cgroupDir.lastIndexOf('/'));
  expect(cause.evidence).toContain(`cgroup ${cgroupPath} (v${cgroup.layout === 'v1' ? 1 : 2})`);
  expect(cause.evidence).toContain('0.2 CPUs');
  expect(cause.evidence).toContain(`GOMAXPROCS=${availableParallelism()}`);
  expect(cause.attributes['gostall.cause.cpu_quota']).toBeCloseTo(0.2);
  expect(cause.hint).toContain('GOMAXPROCS=1');
  // go build -p follows GOMAXPROCS: as many compiles ran at once as there are CPUs, not as the quota allows
  const parallel = cause.attributes['gostall.cause.max_parallel_compiles'];
  expect(parallel).toBe(availableParallelism());
  expect(cause.evidence).toContain(`up to ${parallel} compiles ran at once against the quota's 0.2 CPUs`);
  // the build's own account: its parallelism against the CPUs it may use, on the root span and in the summary
  const root = run.spans.find((s) => s.parentSpanId === undefined)!;
  expect(root.attributes).toMatchObject({
    'gostall.go.parallelism_verdict': 'above_cpus', 'gostall.go.cpus_source': 'cpu quota',
    'gostall.go.parallelism_limit': availableParallelism(), 'gostall.go.parallelism_limit_source': 'GOMAXPROCS',
  });
  expect(root.attributes['gostall.go.cpus_available']).toBeCloseTo(0.2);
  expect(Number(root.attributes['gostall.go.compile_runq_ns'])).toBeGreaterThan(0);
  expect(run.stderr).toContain(`  parallelism: up to ${parallel} compiles at once (GOMAXPROCS ${availableParallelism()}) on 0.2 CPUs (cpu quota): more than the CPUs can run · compiles waited `);
});
