// Negative controls: a clean cold-cache `go build` and `go list ./...` on local disk are not
// blamed on anything, run after run. A false cause costs users more than a missed one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { cleanEnv, cpuSnapshot, ensureBuilt, expectNoCause, logOutcome, othersShare, traced, type TracedRun } from './harness.js';
import { writeMultiPackageModule } from './modules.js';

let workDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-healthy-'));
  await writeHelloModule(join(workDir, 'hello'), { withNetHttp: true });
  await writeMultiPackageModule(join(workDir, 'multi'), { packages: 30, filesPerPackage: 3 });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/**
 * Other people's work on this shared machine above this share of the CPUs makes the
 * machine not "healthy" for the duration of a run: cpu.contention is then a true answer.
 */
const BUSY_MACHINE_SHARE = 0.4;

/** Runs gostall and says whether other work kept the machine busy meanwhile (measured here, not by gostall). */
async function tracedOnThisMachine(name: string, command: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ run: TracedRun; busy: boolean }> {
  const before = cpuSnapshot();
  const run = await traced(command, { cwd, env });
  const share = othersShare(before, cpuSnapshot());
  logOutcome(`${name} (other work on the machine: ${Math.round(share * 100)}% of the CPUs)`, run);
  return { run, busy: share >= BUSY_MACHINE_SHARE };
}

/** A fresh, empty GOCACHE per run: every run is a cold-cache run. */
function coldEnv(run: number): NodeJS.ProcessEnv {
  return cleanEnv(goEnv({ gocache: join(workDir, `gocache-${run}`), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
}

describe('a healthy machine', () => {
  for (const run of [1, 2, 3]) {
    it(`a cold-cache go build on local disk has no cause (run ${run} of 3)`, async () => {
      const { run: result, busy } = await tracedOnThisMachine(`healthy go build #${run}`,
        ['go', 'build', '-o', join(workDir, `hello-${run}`), '.'], join(workDir, 'hello'), coldEnv(run));
      expect(result.exitCode).toBe(0);
      expectNoCause(result, { busyMachine: busy });
    });
  }

  for (const run of [1, 2, 3]) {
    it(`go list ./... of a 30-package module on local disk has no cause (run ${run} of 3)`, async () => {
      const { run: result, busy } = await tracedOnThisMachine(`healthy go list #${run}`,
        ['go', 'list', './...'], join(workDir, 'multi'), coldEnv(10 + run));
      expect(result.exitCode).toBe(0);
      expectNoCause(result, { busyMachine: busy });
    });
  }
});
