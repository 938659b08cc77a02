// Negative controls: a clean cold-cache `go build` and `go list ./...` on local disk are not
// blamed on anything, run after run. A false cause costs users more than a missed one. (This
// machine is shared: when other work measurably kept its CPUs busy during a run, the harness
// accepts cpu.contention, which is then the truth, and nothing else.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import { cleanEnv, ensureBuilt, expectNoCause, logOutcome, traced } from './harness.js';
import { writeMultiPackageModule } from './modules.js';

let workDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-healthy-'));
  // 30 packages: a cold build runs 30 compiles in parallel on the machine's CPUs.
  await writeMultiPackageModule(join(workDir, 'multi'), { packages: 30, filesPerPackage: 3 });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A fresh, empty GOCACHE per run: every run is a cold-cache run. */
function coldEnv(run: number): NodeJS.ProcessEnv {
  return cleanEnv(goEnv({ gocache: join(workDir, `gocache-${run}`), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
}

describe('a healthy machine', () => {
  for (const run of [1, 2, 3]) {
    it(`a cold-cache go build ./... of a 30-package module on local disk has no cause (run ${run} of 3)`, async () => {
      const result = await traced(['go', 'build', './...'], { cwd: join(workDir, 'multi'), env: coldEnv(run) });
      logOutcome(`healthy cold-cache go build #${run}`, result);
      expect(result.exitCode).toBe(0);
      expectNoCause(result);
    });
  }

  for (const run of [1, 2, 3]) {
    it(`go list ./... of a 30-package module on local disk has no cause (run ${run} of 3)`, async () => {
      const result = await traced(['go', 'list', './...'], { cwd: join(workDir, 'multi'), env: coldEnv(10 + run) });
      logOutcome(`healthy go list ./... #${run}`, result);
      expect(result.exitCode).toBe(0);
      expectNoCause(result);
    });
  }
});
