// gostall in a container with a PID namespace of its own: the kernel names processes by
// their pids in the initial namespace, gostall by the pids it sees in its /proc.
// - `gostall run` inside a container traces its `go build`: the spans carry the
//   container's pids and the process tree is right;
// - the sidecar agent sharing the dev container's PID namespace names the dev container's
//   processes by their pids there, reads their /proc (the container id from the process's
//   cgroup is the dev container's), and does not trace a `go` started on the host.
// Real podman (runc), the image scripts/image.sh builds, the documented capability list.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLines, type DecodedSpan } from '../support/otlp-decode.js';
import { BASE_IMAGE, buildImage, capabilityFlags, containerName, createCleanups, GO_MOUNT, KERNEL_MOUNTS, podman, podmanLogs, podmanQuiet, ulimitFlags } from './podman.js';

const cleanups = createCleanups();
const tempDir = cleanups.tempDir;
let image: string;

beforeAll(() => {
  image = buildImage();
}, 25 * 60_000);

afterAll(() => cleanups.runAll());

/**
 * Shell text that writes a module of its own under /tmp/UNIQUE, records the pid of the shell
 * that then execs `go build` (the go process keeps it) in PIDFILE, and builds.
 */
function goBuildScript(unique: string, pidFile: string): string {
  return `set -e; mkdir -p /tmp/${unique}; cd /tmp/${unique}; printf 'module example.com/${unique}\\n\\ngo 1.19\\n' > go.mod; `
    + `printf 'package main\\n\\nfunc main() {}\\n' > main.go; export GOCACHE=/tmp/${unique}/cache GOFLAGS=-mod=mod GOPROXY=off; `
    + `sh -c 'echo $$ > ${pidFile}; exec go build -o /tmp/${unique}/out .'`;
}

const uniqueName = (what: string): string => `${what}${process.pid}x${Date.now().toString(36)}`;

function goBuildSpan(spans: DecodedSpan[], unique: string): DecodedSpan | undefined {
  return spans.find((s) => s.name === 'go build' && String(s.attributes['process.command_args']).includes(`/tmp/${unique}/out`));
}

/** The go build's tree is right: its compile and link children name it as their parent, by its pid. */
function expectTreeUnder(spans: DecodedSpan[], go: DecodedSpan): void {
  const children = spans.filter((s) => s.parentSpanId === go.spanId && s.attributes['process.pid'] !== undefined);
  expect(children.map((s) => s.name)).toEqual(expect.arrayContaining(['compile', 'link']));
  for (const c of children) expect(c.attributes['process.parent_pid']).toBe(go.attributes['process.pid']);
}

async function waitForText(file: string, text: string, timeoutMs: number, log: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = await readFile(file, 'utf8').catch(() => '');
    if (content.includes(text)) return content;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} in ${file}:\n${await log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('gostall run in a container with its own PID namespace', () => {
  it('traces its go build, with the container\'s pids and the right tree', async () => {
    const traces = await tempDir('pidns-run');
    const unique = uniqueName('pidnsrun');
    const name = containerName('pidns-run');
    cleanups.add(() => podmanQuiet(['rm', '-f', '-t', '5', name]));
    await podman(['run', '--name', name, ...capabilityFlags(), ...ulimitFlags(), ...KERNEL_MOUNTS, ...GO_MOUNT, '-v', `${traces}:/traces`,
      '--entrypoint', 'gostall', image, 'run', '--out', '/traces/run.jsonl', '--', 'sh', '-c', goBuildScript(unique, '/traces/go.pid')], 300_000);
    const goPid = Number((await readFile(join(traces, 'go.pid'), 'utf8')).trim());
    const spans = decodeOtlpJsonLines(await readFile(join(traces, 'run.jsonl'), 'utf8'));
    const go = goBuildSpan(spans, unique);
    expect(go, `a go build span; got ${spans.map((s) => s.name).join(', ')}`).toBeDefined();
    expect(go!.attributes['process.pid']).toBe(goPid);
    expect(go!.attributes['process.exit.code']).toBe(0);
    expectTreeUnder(spans, go!);
  }, 10 * 60_000);
});

describe('the sidecar agent in the dev container\'s PID namespace', () => {
  it('names and reads the dev container\'s processes as they are there, and leaves the host\'s go alone', async () => {
    const shared = await tempDir('pidns-dev');
    const dev = containerName('pidns-dev');
    await podman(['run', '-d', '--name', dev, ...ulimitFlags(), ...GO_MOUNT, '-v', `${shared}:/shared`, BASE_IMAGE, 'sleep', 'infinity']);
    cleanups.add(() => podmanQuiet(['rm', '-f', '-t', '5', dev]));
    const devId = (await podman(['inspect', '--format', '{{.Id}}', dev])).trim();

    const traces = await tempDir('pidns-sidecar');
    const sidecar = containerName('pidns-sidecar');
    await podman(['run', '-d', '--name', sidecar, `--pid=container:${dev}`, '--read-only', ...capabilityFlags(), ...ulimitFlags(), ...KERNEL_MOUNTS,
      '-v', `${traces}:/traces`, image, 'agent', '--out', '/traces/agent.otlp.jsonl']);
    cleanups.add(() => podmanQuiet(['rm', '-f', '-t', '20', sidecar]));
    const logs = () => podmanLogs(sidecar);
    const deadline = Date.now() + 120_000;
    while (!(await logs()).includes('gostall agent: tracing go')) {
      if (Date.now() > deadline) throw new Error(`sidecar agent did not start:\n${await logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // A go on the host, outside the dev container's namespace, while the sidecar traces.
    const hostUnique = uniqueName('pidnshost');
    await promisify(execFile)('go', ['version', `/tmp/${hostUnique}`]).catch(() => undefined);

    const unique = uniqueName('pidnsdev');
    await podman(['exec', dev, 'sh', '-c', goBuildScript(unique, '/shared/go.pid')], 300_000);
    const goPid = Number((await readFile(join(shared, 'go.pid'), 'utf8')).trim());
    const text = await waitForText(join(traces, 'agent.otlp.jsonl'), `/tmp/${unique}/out`, 60_000, logs);
    // the rest of that trace (its spans go out together) and anything before it
    const spans = decodeOtlpJsonLines(text);
    const go = goBuildSpan(spans, unique)!;
    expect(go.attributes['process.pid'], 'the pid the dev container knows its go by').toBe(goPid);
    expect(go.attributes['process.exit.code']).toBe(0);
    // from the go process's /proc/PID/cgroup, read in the sidecar's /proc by that pid
    expect(go.resource['container.id']).toBe(devId);
    expectTreeUnder(spans.filter((s) => s.traceId === go.traceId), go);
    expect(text, 'the host\'s go is not traced').not.toContain(hostUnique);
  }, 10 * 60_000);
});
