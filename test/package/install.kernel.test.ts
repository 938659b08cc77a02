// What a new user gets from the npm package: `npm pack` of this checkout (prepack builds it),
// `npm install -g` into an empty prefix, then gostall from that prefix alone: --version,
// doctor, and a traced `go version`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTraceFile } from '../integration/harness.js';
import { PROJECT_ROOT } from '../deploy/support.js';

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let dir: string;
let tarball: string;
let gostall: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gostall-package-'));
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 300_000 });
  tarball = join(dir, packed.trim().split('\n').pop()!);
  execFileSync('npm', ['install', '-g', '--prefix', join(dir, 'prefix'), tarball, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, timeout: 300_000, stdio: 'ignore' });
  gostall = join(dir, 'prefix/bin/gostall');
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the installed gostall from a directory outside the checkout. */
function installed(args: string[]) {
  return spawnSync(gostall, args, { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: `${join(dir, 'prefix/bin')}:${process.env.PATH}` } });
}

describe('the npm package', () => {
  it('ships the built CLI, the probes and the licence, not the sources or tests', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const f of ['package/dist/src/cli/main.js', 'package/dist/bundle/main.js', 'package/bin/gostall.js', 'package/bin/gostall', 'package/probes/linux/gostall.bt', 'package/LICENSE', 'package/deploy/systemd/gostall-agent.service']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/') || f.endsWith('.map'))).toEqual([]);
  });

  it('gostall --version prints the package version', () => {
    const r = installed(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`gostall ${VERSION}\n`);
  });

  it('gostall doctor says tracing will work here', () => {
    const r = installed(['doctor']);
    expect(r.stdout).toMatch(/gostall run and gostall agent will work here/);
    expect(r.status).toBe(0);
  });

  it('gostall run traces go version and passes its output through', async () => {
    const out = join(dir, 'go-version.otlp.jsonl');
    const r = installed(['run', '--out', out, '--', 'go', 'version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^go version go\d/);
    const spans = await readTraceFile(out);
    expect(spans.map((s) => s.name), JSON.stringify(spans.map((s) => [s.name, s.attributes['file.path'], s.attributes['error.type'], s.attributes['process.command_args']]))).toContain('go version');
  });
});
