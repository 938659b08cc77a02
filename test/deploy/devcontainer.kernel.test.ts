// gostall where a Go developer works: a dev container. Two ways, both with the documented
// capability list and no --privileged:
// - the Dev Container Feature: its install.sh runs while an image is built from the same
//   Debian base (as the devcontainer CLI does), its entrypoint starts the agent with the
//   container, and a `go build` inside that container arrives as a trace in the Feature's
//   output directory;
// - the sidecar: the gostall image in a second container sharing the dev container's PID
//   namespace (--pid=container:NAME) traces a `go build` run in the dev container.
// Go is Debian's, bind-mounted read-only from the host; the node Feature the gostall Feature
// depends on is stood in for by this machine's node and npm.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLines } from '../support/otlp-decode.js';
import { BASE_IMAGE, buildImage, capabilityFlags, containerName, createCleanups, GO_MOUNT, KERNEL_MOUNTS, podman, podmanLogs, podmanQuiet, podmanRun, ulimitFlags } from './podman.js';
import { PROJECT_ROOT } from './support.js';

const cleanups = createCleanups();
const tempDir = cleanups.tempDir;
let gostallImage: string;

beforeAll(() => {
  // Also makes the debootstrap base both tests start from (reused when present).
  gostallImage = buildImage();
}, 25 * 60_000);

afterAll(() => cleanups.runAll());

/** Waits until a file on the host contains `text`; fails with `log()` when it does not. */
async function waitForText(file: string, text: string, timeoutMs: number, log: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = await readFile(file, 'utf8').catch(() => '');
    if (content.includes(text)) return content;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} in ${file}:\n${await log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs a go build of a module of its own inside `container`; returns the unique output name. */
async function goBuildIn(container: string): Promise<string> {
  const unique = `devtest${process.pid}x${Date.now().toString(36)}`;
  const script = `set -e; mkdir -p /tmp/${unique}; cd /tmp/${unique}; printf 'module example.com/${unique}\\n\\ngo 1.19\\n' > go.mod; `
    + `printf 'package main\\n\\nfunc main() {}\\n' > main.go; GOCACHE=/tmp/${unique}/cache GOFLAGS=-mod=mod GOPROXY=off go build -o /tmp/${unique}/${unique} .`;
  await podman(['exec', container, 'sh', '-c', script], 300_000);
  return unique;
}

function expectGoBuildTrace(jsonl: string, unique: string): void {
  const root = decodeOtlpJsonLines(jsonl).find((s) => s.name === 'go build' && String(s.attributes['process.command_args']).includes(unique));
  expect(root, 'a go build span for this build').toBeDefined();
  expect(root!.attributes['process.exit.code']).toBe(0);
}

describe('the Dev Container Feature', () => {
  it('installs gostall and bpftrace in an image; the agent starts with the container and traces a go build in it', async () => {
    const ctx = await tempDir('feature-ctx');
    await cp(join(PROJECT_ROOT, 'deploy/devcontainer/feature/gostall'), join(ctx, 'feature'), { recursive: true });
    execFileSync('npm', ['pack', '--silent', '--pack-destination', join(ctx, 'feature')], { cwd: PROJECT_ROOT, stdio: 'ignore', timeout: 300_000 });
    execFileSync('sh', ['-c', `mv ${join(ctx, 'feature')}/gostall-*.tgz ${join(ctx, 'feature', 'gostall.tgz')}`]);
    // The node Feature's part: node 20 and npm.
    await cp(process.execPath, join(ctx, 'node'));
    const npmRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
    await cp(join(npmRoot, 'npm'), join(ctx, 'npm'), { recursive: true });
    // This machine reaches the npm registry through TLS whose CA is only in the host's bundle
    // (node here is told with NODE_EXTRA_CA_CERTS): install.sh's npm gets the same bundle.
    await cp('/etc/ssl/certs/ca-certificates.crt', join(ctx, 'host-ca.crt'));
    await writeFile(join(ctx, 'Containerfile'), [
      `FROM ${BASE_IMAGE}`,
      'COPY node /usr/local/bin/node',
      'COPY npm /usr/local/lib/node_modules/npm',
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
      'COPY feature /tmp/gostall-feature',
      'COPY host-ca.crt /tmp/host-ca.crt',
      // The devcontainer CLI passes the options as environment variables.
      // the user who works in the container: not root (the devcontainer CLI names it in _REMOTE_USER)
      'RUN useradd -m dev',
      'RUN cd /tmp/gostall-feature && NODE_EXTRA_CA_CERTS=/tmp/host-ca.crt EXECUTABLES=go OUTPUTDIRECTORY=/traces PACKAGE=./gostall.tgz _REMOTE_USER=dev ./install.sh',
      'ENTRYPOINT ["/usr/local/share/gostall/entrypoint.sh"]',
      'CMD ["sleep", "infinity"]',
    ].join('\n'));
    const image = `localhost/gostall-feature-test:${process.pid}`;
    await podman(['build', '--network=host', ...ulimitFlags(), '-t', image, ctx], 15 * 60_000);
    cleanups.add(() => podmanQuiet(['rmi', '-f', image]));

    const traces = await tempDir('feature-traces');
    const name = containerName('feature');
    await podman(['run', '-d', '--name', name, ...capabilityFlags(), ...ulimitFlags(), ...KERNEL_MOUNTS, ...GO_MOUNT, '-v', `${traces}:/traces`, image]);
    cleanups.add(() => podmanQuiet(['rm', '-f', '-t', '20', name]));
    const log = () => readFile(join(traces, 'agent.log'), 'utf8').catch((e: Error) => e.message);
    // The agent says "tracing … host-wide" once its probes are attached.
    await waitForText(join(traces, 'agent.log'), 'gostall agent: tracing go', 120_000, log);

    const unique = await goBuildIn(name);
    expectGoBuildTrace(await waitForText(join(traces, 'agent.otlp.jsonl'), unique, 60_000, log), unique);

    // The container's user, not root: `gostall run` through the agent (bin/gostall, no Node),
    // which alone can trace for them (on its own, gostall would need root)
    const { stdout, stderr } = await podmanRun(['exec', '--user', 'dev', '--workdir', '/tmp', name, 'gostall', 'run', '--', 'go', 'version']);
    expect(stdout).toMatch(/^go version go\d/);
    expect(stderr).toMatch(/^gostall: go version exited 0 after .*\n(.*\n)*  1 spans written to \/home\/dev\/\.local\/state\/gostall\/traces\/\d{8}T\d{6}-go\.otlp\.jsonl\n$/);
    const metrics = await podman(['exec', name, 'node', '-e', 'fetch("http://127.0.0.1:9464/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))']);
    expect(metrics).toMatch(/^gostall_run_traces_built_total 1$/m);
  }, 20 * 60_000);
});

describe('the sidecar', () => {
  it('shares the dev container\'s PID namespace and traces a go build run there', async () => {
    const dev = containerName('dev');
    await podman(['run', '-d', '--name', dev, ...ulimitFlags(), ...GO_MOUNT, BASE_IMAGE, 'sleep', 'infinity']);
    cleanups.add(() => podmanQuiet(['rm', '-f', '-t', '5', dev]));

    const traces = await tempDir('sidecar-traces');
    const sidecar = containerName('sidecar');
    await podman(['run', '-d', '--name', sidecar, `--pid=container:${dev}`, '--read-only', ...capabilityFlags(), ...ulimitFlags(), ...KERNEL_MOUNTS,
      '-v', `${traces}:/traces`, gostallImage, 'agent', '--out', '/traces/agent.otlp.jsonl']);
    cleanups.add(() => podmanQuiet(['rm', '-f', '-t', '20', sidecar]));

    // One PID namespace: the dev container's first process is pid 1 in the sidecar too.
    expect((await podman(['exec', sidecar, 'cat', '/proc/1/cmdline'])).split('\0')[0]).toBe('sleep');
    const logs = () => podmanLogs(sidecar);
    const deadline = Date.now() + 120_000;
    while (!(await logs()).includes('gostall agent: tracing go')) {
      if (Date.now() > deadline) throw new Error(`sidecar agent did not start:\n${await logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const unique = await goBuildIn(dev);
    expectGoBuildTrace(await waitForText(join(traces, 'agent.otlp.jsonl'), unique, 60_000, logs), unique);
  }, 10 * 60_000);
});
