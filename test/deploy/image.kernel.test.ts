// The container image a platform team runs: built here with podman by scripts/image.sh, the
// agent in it runs in the host's PID namespace with exactly the documented capability list
// and no --privileged, and a `go build` started on the host, outside the container, arrives
// as a trace at an OTLP receiver.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilityNames } from '../../src/probe-runner/capabilities.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { freePort, waitForValue } from '../agent/support.js';
import { hasOwnEventList } from '../support/tracer-mounts.js';
import { buildImage, capabilityFlags, containerName, KERNEL_MOUNTS, podman, podmanQuiet, ulimitFlags } from './podman.js';

let image: string;
let receiver: OtlpReceiver;
let work: string;
const name = containerName('image');
const logs = { stderr: (): string => { const r = spawnSync('podman', ['--runtime', 'runc', 'logs', name], { encoding: 'utf8' }); return r.stdout + r.stderr; } };

beforeAll(async () => {
  image = buildImage();
  receiver = await startOtlpReceiver();
  work = await mkdtemp(join(tmpdir(), 'gostall-image-'));
}, 25 * 60_000);

afterAll(async () => {
  await podmanQuiet(['rm', '-f', '-t', '20', name]);
  await receiver?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Polls /healthz until it answers 200 (the probes are attached); fails with the agent's log. */
async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = await fetch(url).then((r) => r.status, () => 0);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`agent not healthy after ${timeoutMs} ms:\n${logs.stderr()}`);
}

describe('the gostall container image', () => {
  it('prints its version through the gostall entrypoint', async () => {
    const version = (await podman(['run', '--rm', ...ulimitFlags(), image, '--version'])).trim();
    expect(version).toMatch(/^gostall \d+\.\d+\.\d+/);
    expect(image.endsWith(`:${version.split(' ')[1]}`)).toBe(true);
  });

  it('traces a go build on the host from an unprivileged container with the capability list', async () => {
    const port = await freePort();
    await podman(['run', '-d', '--name', name, '--read-only', '--network=host', '--pid=host', ...capabilityFlags(), ...ulimitFlags(), ...KERNEL_MOUNTS,
      image, 'agent', '--endpoint', receiver.url, '--metrics-listen', `127.0.0.1:${port}`]);
    const inspect = JSON.parse(await podman(['inspect', name])) as { HostConfig: { Privileged: boolean; CapAdd: string[] } }[];
    expect(inspect[0]!.HostConfig.Privileged).toBe(false);
    expect(inspect[0]!.HostConfig.CapAdd.map((c) => c.replace(/^CAP_/, '')).sort()).toEqual(capabilityNames().sort());

    await waitHealthy(`http://127.0.0.1:${port}/healthz`, 120_000);
    // In a container its bpftrace compiles behind the short tracepoint list (tracer.mountNamespace
    // "auto": a namespace of its own pins nothing the container does not pin already). The
    // container shares the host's PIDs: the agent's tracer pid is one this test can read.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const tracerPid = Number(/^gostall_tracer_pid (\d+)$/m.exec(metrics)?.[1]);
    expect(tracerPid).toBeGreaterThan(0);
    expect(hasOwnEventList(tracerPid)).toBe(true);

    // A module of this test's own: its output path singles out this build among the host's.
    const unique = `imagetest${process.pid}x${Date.now().toString(36)}`;
    await writeFile(join(work, 'go.mod'), `module example.com/${unique}\n\ngo 1.19\n`);
    await writeFile(join(work, 'main.go'), 'package main\n\nfunc main() {}\n');
    const out = join(work, unique);
    execFileSync('go', ['build', '-o', out, '.'], { cwd: work, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' }, stdio: 'ignore' });

    const root = await waitForValue('the go build span', () => receiver.spans.find((s) =>
      s.name === 'go build' && String(s.attributes['process.command_args'] ?? '').includes(out)), 60_000, { receiver, agent: logs });
    expect(root.attributes['process.exit.code']).toBe(0);
    expect(root.parentSpanId).toBeUndefined();
  });
});
