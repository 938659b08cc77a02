/**
 * `--html`: one self-contained page (inline CSS and JS, no network, works from file://). The
 * trace data is embedded as an inert JSON block with `<`, `>`, `&`, U+2028 and U+2029 escaped;
 * a strict Content-Security-Policy allows only this page's own script and style (by hash), so
 * even a trace that got markup past the escaping could not run code or load anything.
 */
import { createHash } from 'node:crypto';
import { CLIENT_JS } from './html-client.js';
import { PAGE_CSS } from './html-style.js';
import type { PageData } from './page-data.js';
import { writePrivateFile } from '../export/private-file.js';

/** JSON that is safe inside a <script type="application/json"> element. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const sha256 = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** Escape text for the few places the server side writes it into markup (the title). */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderHtml(data: PageData): string {
  const csp = [
    "default-src 'none'", `script-src ${sha256(CLIENT_JS)}`, `style-src ${sha256(PAGE_CSS)}`,
    "img-src 'none'", "connect-src 'none'", "base-uri 'none'", "form-action 'none'",
  ].join('; ');
  const title = data.traces.length === 1 ? `gostall: ${data.traces[0]!.title}` : `gostall report (${data.traces.length} traces)`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${PAGE_CSS}</style>`,
    '</head><body>',
    '<noscript>This report draws its waterfall with JavaScript; the terminal summary is in `gostall report FILE`.</noscript>',
    `<script type="application/json" id="gostall-data">${embedJson(data)}</script>`,
    `<script>${CLIENT_JS}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** Write the page with mode 0600 (it holds command lines and paths, like the trace). */
export async function writeHtml(target: string, data: PageData): Promise<void> {
  await writePrivateFile(target, renderHtml(data));
}
