// The --html page in a real headless chromium, opened from file:// as a user would: a gopls trace
// of ~5,000 spans shows every process and both causes, clicking a cause highlights its process,
// search finds a path; a hostile trace runs none of its markup and loads nothing.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadReport, pageData } from '../../src/report/report.js';
import { writeHtml } from '../../src/report/html.js';
import { allRowPids, openFile, type OpenedPage } from '../support/browser.js';
import { goplsWorkload, otlpLines } from './traces.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'gostall-html-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function pageFor(lines: Buffer | string, name: string): Promise<string> {
  const report = await loadReport([{ name, stream: Readable.from([Buffer.from(lines)]) }]);
  const path = join(dir, `${name}.html`);
  await writeHtml(path, pageData(report));
  return path;
}

describe('a gopls trace of about 5,000 spans', () => {
  let opened: OpenedPage;
  const processes = 1000;
  beforeAll(async () => {
    const path = await pageFor(await otlpLines(goplsWorkload(processes, 4)), 'gopls');
    const t0 = performance.now();
    opened = await openFile(path);
    await opened.page.waitForSelector('.row');
    console.log(`gopls page (${(await stat(path)).size} bytes): first rows after ${Math.round(performance.now() - t0)} ms`);
  });
  afterAll(async () => { await opened?.close(); });

  it('renders every process as a row, the causes on top, with no console error and no request', async () => {
    const { page } = opened;
    expect(await page.locator('.sub').textContent()).toMatch(/gopls · trace [0-9a-f]{32} .* 1001 processes · 40\d\d evidence spans/);
    const pids = await allRowPids(page);
    expect(pids.size).toBe(processes + 1);
    for (let pid = 1000; pid <= 1000 + processes; pid++) expect(pids.has(pid)).toBe(true);
    const causes = await page.locator('button.cause').allTextContents();
    expect(causes[0]).toContain('1. fs.slow_metadata — go env (pid 1006)');
    expect(causes[0]).toContain('move the module off the slow filesystem');
    expect(causes[1]).toContain('net.slow_connect');
    expect(await page.locator('.row[data-pid="1003"] .mark').count()).toBeGreaterThan(0);
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([]);
  });

  it('highlights the process of a cause when the cause is clicked, and un-highlights on a second click', async () => {
    const { page } = opened;
    const cause = page.locator('button.cause[data-cause="fs.slow_metadata"]');
    await cause.click();
    await expect.poll(() => page.locator('.row.hl').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.pid))).toEqual(['1006']);
    expect(await cause.getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('.panel h2').textContent()).toContain('go env (pid 1006)');
    await cause.click();
    await expect.poll(() => page.locator('.row.hl').count()).toBe(0);
  });

  it('finds a process by a path it touched and by its pid', async () => {
    const { page } = opened;
    await page.fill('input.search', '/workspace/mod417/');
    await expect.poll(() => page.locator('.count').textContent()).toBe('1 of 1001 processes match');
    // the count and the rows are painted in separate frames: wait for the rows too
    await expect.poll(() => page.locator('.row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.pid))).toEqual(['1418']);
    await expect.poll(() => page.locator('.row .mark.match').count()).toBeGreaterThan(0);
    await page.fill('input.search', '1999');
    await expect.poll(() => page.locator('.row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.pid))).toEqual(['1999']);
    await page.fill('input.search', '');
    expect(opened.errors).toEqual([]);
  });
});

describe('a hostile trace', () => {
  it('runs none of the markup in its paths, names and command lines, loads nothing, and stays small', async () => {
    const w = goplsWorkload(3, 3);
    const payloads = ['</script><script>window.__pwned=1</script>', '"><img src=x onerror="window.__pwned=2">', '<svg onload="window.__pwned=3">', '\u2028\u2029'];
    const argv = Buffer.from(`go\0list\0${payloads.join('\0')}\0`);
    for (const e of w.events) {
      if (e.kind === 'syscall') e.path = `/ws/${payloads.join('')}/a.go`;
      if (e.kind === 'exec') e.argvLen = argv.length;
      if (e.kind === 'argv') e.bytes = argv;
    }
    for (const c of w.causes) { c.evidence = payloads[1]!; c.hint = payloads[0]!; }
    const line = await otlpLines(w);
    const req = JSON.parse(line);
    const spans = req.resourceSpans[0].scopeSpans[0].spans;
    spans[1].name = payloads[2];
    spans[1].attributes.push({ key: 'huge', value: { stringValue: 'x'.repeat(20_000_000) } });
    // invalid UTF-8 in a path, a truncated line and garbage around the good line
    const good = Buffer.from(`${JSON.stringify(req)}\n`);
    const marker = Buffer.from('/ws/');
    const at = good.indexOf(marker);
    const withBadBytes = Buffer.concat([good.subarray(0, at + marker.length), Buffer.from([0xff, 0xfe, 0xc3]), good.subarray(at + marker.length)]);
    const input = Buffer.concat([Buffer.from(line.slice(0, 300)), Buffer.from('\n<script>window.__pwned=4</script>\n'), withBadBytes]);
    const path = await pageFor(input, 'hostile');
    expect((await stat(path)).size).toBeLessThan(1_000_000);

    const opened = await openFile(path);
    try {
      const { page } = opened;
      await page.waitForSelector('.row');
      expect(await page.locator('.problems').textContent()).toMatch(/^2 malformed line\(s\) skipped/);
      expect(await page.locator('button.cause').first().textContent()).toContain(payloads[1]);
      for (const row of await page.locator('.row').all()) await row.click();
      await page.fill('input.search', 'script');
      await page.locator('details.summary summary').click();
      await page.fill('input.search', '');
      await page.locator('.row').first().click();
      expect(await page.locator('.panel').textContent()).toContain(payloads[0]);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator('img, svg, iframe').count()).toBe(0);
      expect(opened.requests).toEqual([]);
      expect(opened.errors).toEqual([]);
    } finally {
      await opened.close();
    }
  });
});
