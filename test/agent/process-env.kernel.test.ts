// The agent judges a failing process by its own environment, as run does: a build script
// (the root the agent starts a trace at) runs `go build` through runuser as a user whose
// HOME is not writable and who never set GOCACHE. Go fails creating ~/.cache under that
// user's HOME; the root kept root's HOME. The cause must be fs.permission_denied with scope
// gocache (the failing go's own default cache), not the root's home directory. And a build
// script that cds into a module asking for go 1.30 before `go build`: judged by that module's
// go.mod and by what go said on stderr, which the agent captures as run does (tracer.stderr).
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../support/faults/otherUser.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startAgentProcess, waitForValue, type RunningAgent } from './support.js';

const run = promisify(execFile);
// Unique per run: the agent is host-wide and traces every process of this name.
const NAME = `envbuild-${randomBytes(3).toString('hex')}`;
/** a build script in the parent directory of a module that asks for go 1.30 */
const NEWER = `tcbuild-${randomBytes(3).toString('hex')}`;

let receiver: OtlpReceiver;
let agent: RunningAgent;
let dir: string;
let user: TestUser;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-agent-env-'));
  await chmod(dir, 0o755); // the user reads the module; only its HOME is not writable
  await writeFile(join(dir, 'go.mod'), `module example.com/${NAME.replace('-', '')}\n\ngo 1.19\n`);
  await writeFile(join(dir, 'main.go'), 'package main\n\nfunc main() {}\n');
  user = await createUser();
  await chown(user.home, 0, 0);
  await chmod(user.home, 0o755);
  await writeFile(join(dir, NAME), `#!/bin/sh\ncd ${dir}\nrunuser -u ${user.name} -- go build -o /dev/null .\n`, { mode: 0o755 });
  await mkdir(join(dir, 'newer'));
  await writeFile(join(dir, 'newer/go.mod'), 'module example.com/newer\n\ngo 1.30\n');
  await writeFile(join(dir, 'newer/main.go'), 'package main\n\nimport "slices"\n\nfunc main() { _ = slices.Contains([]int{1}, 1) }\n');
  await writeFile(join(dir, NEWER), `#!/bin/sh\ncd ${dir}/newer && go build -o /dev/null .\n`, { mode: 0o755 });
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({ executables: [NAME, NEWER], tracer: { stderr: true }, export: { endpoint: receiver.url, batch: { delay: '100ms' } } });
  await agent.waitHealthy();
}, 120_000);

afterAll(async () => {
  await agent?.cleanup();
  await receiver?.close();
  if (user) {
    await chown(user.home, user.uid, user.gid).catch(() => undefined); // userdel -r removes only a home the user owns
    await user.restore();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('the agent and a process with another environment than its root', () => {
  it('blames the failing go\'s own GOCACHE, not the root\'s home directory', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: '/root' };
    for (const k of ['GOCACHE', 'GOMODCACHE', 'GOPATH', 'XDG_CACHE_HOME']) delete env[k];
    const r = await run(join(dir, NAME), [], { env }).then(() => ({ code: 0 }), (e: { code?: number }) => ({ code: e.code }));
    expect(r.code, 'go build fails: the user cannot create its cache').not.toBe(0);
    const root = await waitForValue('the build script\'s root span', () => receiver.spans.find((s) => s.name === NAME && s.parentSpanId === undefined), 60_000, { receiver, agent });
    expect(root.attributes['gostall.causes']).toEqual(['fs.permission_denied']);
    const blamed = receiver.spans.find((s) => s.traceId === root.traceId && s.attributes['gostall.cause'] === 'fs.permission_denied');
    expect(blamed?.attributes['gostall.cause.scope']).toBe('gocache');
  }, 180_000);

  it('blames a go build that failed over its module\'s go line on go.toolchain_mismatch, from what go said on stderr', async () => {
    const r = await run(join(dir, NEWER), []).then(() => ({ code: 0 }), (e: { code?: number }) => ({ code: e.code }));
    expect(r.code, 'Go 1.19 cannot build a module that imports slices').not.toBe(0);
    const root = await waitForValue('the build script\'s root span', () => receiver.spans.find((s) => s.name === NEWER && s.parentSpanId === undefined), 60_000, { receiver, agent });
    expect(root.attributes['gostall.causes']).toEqual(['go.toolchain_mismatch']);
    const go = receiver.spans.find((s) => s.traceId === root.traceId && s.attributes['gostall.cause'] === 'go.toolchain_mismatch');
    expect(go?.attributes['gostall.stderr']).toMatch(/package slices is not in GOROOT/);
    expect(go?.attributes['gostall.cause.evidence']).toContain(`${join(dir, 'newer/go.mod')} asks for go 1.30`);
  }, 180_000);
});
