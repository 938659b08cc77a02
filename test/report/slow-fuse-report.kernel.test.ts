// A real trace: `gostall run --out --html` of `go build ./...` in a workspace on a slow FUSE
// mount. `gostall report` of that file prints what run printed, and both pages (run's --html,
// report's --html) show every process and the cause in headless chromium, with no request.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import { mountSlowFuse, type SlowFuseMount } from '../support/faults/slowFuse.js';
import { decodeOtlpJsonLines } from '../support/otlp-decode.js';
import { allRowPids, openFile } from '../support/browser.js';
import { cleanEnv, ensureBuilt, GOSTALL_BIN } from '../scenarios/harness.js';
import { writeMultiPackageModule } from '../scenarios/modules.js';

const run = promisify(execFile);
let workDir: string;
let fuse: SlowFuseMount | undefined;
let runStderr = '';
let out: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-report-fuse-'));
  await writeMultiPackageModule(join(workDir, 'backing'), { packages: 12, filesPerPackage: 3 });
  fuse = await mountSlowFuse({ backingDir: join(workDir, 'backing'), mountPoint: join(workDir, 'workspace'), getattrDelayMs: 2 });
  out = join(workDir, 'trace.otlp.jsonl');
  const env = cleanEnv(goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: workDir }));
  const child = spawn(process.execPath, [GOSTALL_BIN, 'run', '--out', out, '--html', join(workDir, 'run.html'), '--', 'go', 'build', './...'],
    { cwd: fuse.mountPoint, env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (runStderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code, runStderr).toBe(0);
});

afterAll(async () => {
  await fuse?.restore();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** run's summary: from its first line to the end, less the lines saying where the spans went. */
function summaryOf(stderr: string): string {
  const lines = stderr.slice(stderr.indexOf('gostall: ')).split('\n');
  return lines.filter((l) => !/^ {2}\d+ spans (written to|sent to)/.test(l)).join('\n');
}

describe('a real trace of go build on a slow FUSE workspace', () => {
  it('gostall report prints the summary gostall run printed for it', async () => {
    const report = await run(process.execPath, [GOSTALL_BIN, 'report', out]);
    expect(summaryOf(runStderr)).toContain('fs.slow_metadata');
    expect(report.stdout).toBe(summaryOf(runStderr));
  });

  for (const which of ['run.html', 'report.html']) {
    it(`${which} shows every process and the cause, highlights the cause's process on click, loads nothing`, async () => {
      const page = join(workDir, which);
      if (which === 'report.html') await run(process.execPath, [GOSTALL_BIN, 'report', out, '--html', page]);
      const spans = decodeOtlpJsonLines(await readFile(out, 'utf8'));
      const procs = spans.filter((s) => s.attributes['process.pid'] !== undefined);
      const causeSpan = procs.find((s) => s.attributes['gostall.cause'] === 'fs.slow_metadata')!;
      const opened = await openFile(page);
      try {
        await opened.page.waitForSelector('.row');
        const pids = await allRowPids(opened.page);
        expect([...pids].sort()).toEqual(procs.map((s) => Number(s.attributes['process.pid'])).sort());
        const button = opened.page.locator('button.cause[data-cause="fs.slow_metadata"]');
        expect(await button.textContent()).toContain(String(causeSpan.attributes['gostall.cause.evidence']));
        await button.click();
        await expect.poll(() => opened.page.locator('.row.hl').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.pid)))
          .toContain(String(causeSpan.attributes['process.pid']));
        await opened.page.fill('input.search', fuse!.mountPoint);
        await expect.poll(() => opened.page.locator('.row .mark.match').count()).toBeGreaterThan(0);
        await opened.page.fill('input.search', '');
        const shot = process.env.GOSTALL_REPORT_SCREENSHOT;
        if (shot && which === 'report.html') await opened.page.screenshot({ path: shot });
        expect(opened.errors).toEqual([]);
        expect(opened.requests).toEqual([]);
      } finally {
        await opened.close();
      }
    });
  }
});
