// Headless Debian chromium driven by playwright-core, as FAULTS.md describes: a fresh profile per
// launch, no background networking, every request and console error the page causes recorded.
// A missing chromium fails the test (CI must have it: scripts/setup.sh installs it).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-quic', '--disable-sync'];

export interface OpenedPage {
  page: Page;
  /** URLs requested other than the page itself */
  requests: string[];
  /** console errors and uncaught exceptions */
  errors: string[];
  close(): Promise<void>;
}

/** Opens a local HTML file from file:// in a fresh headless chromium. */
export async function openFile(path: string, viewport = { width: 1400, height: 900 }): Promise<OpenedPage> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  const profile = await mkdtemp(join(tmpdir(), 'gostall-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
    const page = context.pages()[0] ?? await context.newPage();
    const url = pathToFileURL(path).href;
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url, { waitUntil: 'load' });
    const ctx = context;
    return { page, requests, errors, close: async () => { await ctx.close(); await rm(profile, { recursive: true, force: true }); } };
  } catch (err) {
    await context?.close().catch(() => undefined);
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}

/** The pids of every waterfall row, scrolling the virtual list from top to bottom. */
export async function allRowPids(page: Page): Promise<Set<number>> {
  const pids = await page.evaluate(async () => {
    const wf = document.querySelector('.wf') as HTMLElement;
    const seen = new Set<string>();
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    for (let top = 0; ; top += wf.clientHeight) {
      wf.scrollTop = top;
      wf.dispatchEvent(new Event('scroll'));
      await frame();
      for (const row of document.querySelectorAll<HTMLElement>('.row')) seen.add(row.dataset.pid ?? '');
      if (top >= wf.scrollHeight) break;
    }
    wf.scrollTop = 0;
    return [...seen];
  });
  return new Set(pids.map(Number));
}
