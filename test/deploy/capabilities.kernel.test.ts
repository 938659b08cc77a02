// Least privilege, as a user meets it: under exactly the documented capability list `run`
// and `agent` work; under any reduced set `doctor` names the missing capability (never a
// wrong cause such as "tracefs is not mounted") and `run` refuses with the same words.
// Sets are cut with setpriv --bounding-set (uid 0 gets exactly the bounding set at exec).
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITIES, capabilityNames, isEssentialHere } from '../../src/probe-runner/capabilities.js';
import { GOSTALL_BIN, readTraceFile, runGostall } from '../integration/harness.js';
import { freePort } from '../agent/support.js';

const LIST = capabilityNames().map((c) => c.toLowerCase());
/** setpriv arguments that leave exactly these capabilities (and, with `user`, switch uid). */
const only = (caps: string[]): string[] => ['--bounding-set', ['-all', ...caps.map((c) => `+${c}`)].join(',')];
const without = (cap: string): string[] => only(LIST.filter((c) => c !== cap));

let work: string;
beforeAll(async () => { work = await mkdtemp(join(tmpdir(), 'gostall-caps-')); });
afterAll(async () => { if (work) await rm(work, { recursive: true, force: true }); });

describe('doctor under reduced capability sets', () => {
  it('with exactly the list: everything ok, tracing will work', async () => {
    const r = await runGostall(['doctor'], { setpriv: only(LIST) });
    expect(r.stdout.toString()).toMatch(/will work here/);
    expect(r.stdout.toString()).not.toMatch(/WARN|FAIL/);
    expect(r.code).toBe(0);
  });

  for (const cap of CAPABILITIES.filter((c) => isEssentialHere(c))) {
    it(`without ${cap.name}: FAIL names CAP_${cap.name}, exit 2, and run refuses the same way`, async () => {
      const r = await runGostall(['doctor'], { setpriv: without(cap.name.toLowerCase()) });
      const out = r.stdout.toString();
      expect(out).toMatch(new RegExp(`FAIL  missing capability CAP_${cap.name}`));
      expect(out).not.toMatch(/tracefs|will work here/);
      expect(r.code).toBe(2);
      const run = await runGostall(['run', '--out', join(work, 'x.jsonl'), '--', 'true'], { setpriv: without(cap.name.toLowerCase()) });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^gostall: cannot trace: missing capability CAP_${cap.name}`));
    });
  }

  it('with only BPF and PERFMON (what the README used to promise): names CAP_SYS_ADMIN', async () => {
    const r = await runGostall(['doctor'], { setpriv: only(['bpf', 'perfmon']) });
    expect(r.stdout.toString()).toMatch(/FAIL  missing capability CAP_SYS_ADMIN, CAP_IPC_LOCK/);
    expect(r.code).toBe(2);
  });

  for (const cap of CAPABILITIES.filter((c) => !isEssentialHere(c))) {
    it(`without ${cap.name}: a warning naming CAP_${cap.name}; tracing still works`, async () => {
      const r = await runGostall(['doctor'], { setpriv: without(cap.name.toLowerCase()) });
      const out = r.stdout.toString();
      expect(out).toMatch(new RegExp(`WARN  missing capability CAP_${cap.name}`));
      expect(out).toMatch(/will work here/);
      expect(r.code).toBe(0);
    });
  }

  it('as a non-root user holding the whole list: names the uid and bpftrace 0.17, not tracefs', async () => {
    // capsh keeps the capabilities across the switch to nobody and raises them to ambient,
    // so node (and bpftrace) get them.
    const caps = capabilityNames('cap_').map((c) => c.toLowerCase()).join(',');
    const restore = await openAncestorsToOthers();
    const r = spawnSync('capsh', [`--caps=${caps},cap_setpcap,cap_setuid,cap_setgid+eip`, '--keep=1', '--user=nobody', `--addamb=${caps}`,
      '--', '-c', 'exec "$0" "$@"', process.execPath, GOSTALL_BIN, 'doctor'], { encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent' }, cwd: '/' });
    await restore();
    expect(r.stdout).toMatch(/ok    capabilities: CAP_SYS_ADMIN/);
    expect(r.stdout).toMatch(/FAIL  no privilege to load eBPF programs: gostall runs as uid 65534; it holds the capabilities, but bpftrace 0.17 runs only as root/);
    expect(r.stdout).not.toMatch(/tracefs/);
    expect(r.status).toBe(2);
  });
});

describe('run and agent under exactly the list', () => {
  it('run traces a command', async () => {
    const out = join(work, 'run.jsonl');
    const r = await runGostall(['run', '--out', out, '--', 'go', 'version'], { setpriv: only(LIST) });
    expect(r.code, r.stderr).toBe(0);
    expect((await readTraceFile(out)).map((s) => s.name)).toContain('go version');
  });

  it('agent traces a go build of another user', async () => {
    const port = await freePort();
    const out = join(work, 'agent.jsonl');
    const agent = spawn('setpriv', [...only(LIST), process.execPath, GOSTALL_BIN, 'agent', '--out', out, '--state-dir', join(work, 'state'),
      '--metrics-listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
    const exited = new Promise((r) => agent.once('exit', r));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((x) => x.status, () => 0)) === 200, 120_000, () => log);
      // A module owned by nobody, built by nobody: the agent's /proc reads of it need SYS_PTRACE and DAC_READ_SEARCH.
      const mod = join(work, 'mod');
      await mkdir(mod);
      const unique = `capstest${process.pid}x${Date.now().toString(36)}`;
      await writeFile(join(mod, 'go.mod'), `module example.com/${unique}\n\ngo 1.19\n`);
      await writeFile(join(mod, 'main.go'), 'package main\n\nfunc main() {}\n');
      await chmod(work, 0o755);
      await chown(mod, 65534, 65534);
      const built = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'go', 'build', '-o', `/tmp/${unique}`, '.'],
        { cwd: mod, env: { ...process.env, HOME: '/tmp', GOCACHE: join('/tmp', `${unique}-cache`), GOFLAGS: '-mod=mod', GOPROXY: 'off' }, encoding: 'utf8' });
      expect(built.status, built.stderr).toBe(0);
      await waitFor(async () => (await readFile(out, 'utf8').catch(() => '')).includes(unique), 60_000, () => log);
      const spans = await readTraceFile(out);
      const root = spans.find((s) => s.name === 'go build' && String(s.attributes['process.command_args']).includes(unique));
      expect(root?.attributes['process.exit.code']).toBe(0);
      await rm(`/tmp/${unique}`, { force: true });
      await rm(join('/tmp', `${unique}-cache`), { recursive: true, force: true });
    } finally {
      agent.kill('SIGTERM');
      await exited;
    }
  });
});

/**
 * A checkout made with mktemp -d is 0700: let nobody reach gostall's own files for one case,
 * and return how to put every mode back.
 */
async function openAncestorsToOthers(): Promise<() => Promise<void>> {
  const restored: [string, number][] = [];
  for (let dir = dirname(GOSTALL_BIN); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o005) !== 0o005) { restored.push([dir, mode]); await chmod(dir, mode | 0o005); }
  }
  return async () => { for (const [dir, mode] of restored) await chmod(dir, mode); };
}

/** Polls until check() is true; fails with the agent's log. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms:\n${log()}`);
}
