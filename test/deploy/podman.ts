/**
 * podman for the container tests, as it works on these machines (runc; explicit ulimits) and
 * with gostall's capability list taken from the code, so a test runs exactly what the docs say.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { capabilityNames } from '../../src/probe-runner/capabilities.js';
import { PROJECT_ROOT } from './support.js';

const run = promisify(execFile);

/** nofile at this process's hard limit (at most 65536); nproc 32768 (podman here refuses more). */
export function ulimitFlags(): string[] {
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const nofile = hard === undefined || hard === 'unlimited' ? 65536 : Math.min(Number(hard), 65536);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', 'nproc=32768:32768'];
}

/** --cap-drop=ALL and one --cap-add per capability of the list: never --privileged. */
export function capabilityFlags(): string[] {
  return ['--cap-drop=ALL', ...capabilityNames().map((c) => `--cap-add=${c}`)];
}

/** The kernel interfaces the agent reads, bind-mounted read-only. */
export const KERNEL_MOUNTS = ['-v', '/sys/kernel/tracing:/sys/kernel/tracing:ro', '-v', '/sys/kernel/btf:/sys/kernel/btf:ro', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro'];

export async function podman(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('podman', ['--runtime', 'runc', ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout;
}

/** podman's stdout and stderr apart (an exec'd command's own streams). */
export async function podmanRun(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await run('podman', ['--runtime', 'runc', ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { stdout, stderr };
}

/** A container's output, stdout and stderr together (podman logs keeps them apart). */
export async function podmanLogs(name: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('podman', ['--runtime', 'runc', 'logs', name], { maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (e) {
    return (e as Error).message;
  }
}

/** podman that may fail (cleanup): resolves either way. */
export async function podmanQuiet(args: string[]): Promise<void> {
  await podman(args, 60_000).catch(() => undefined);
}

/** Builds gostall:<version> with scripts/image.sh --local-base (the base is reused when present). */
export function buildImage(): string {
  const out = execFileSync('bash', [join(PROJECT_ROOT, 'scripts/image.sh'), '--local-base'], { encoding: 'utf8', timeout: 20 * 60_000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return out.trim().split('\n').pop()!;
}

/** A container name of this test run: never another helper's or user's container. */
export function containerName(what: string): string {
  return `gostall-test-${what}-${process.pid}-${Date.now().toString(36)}`;
}

/** The debootstrap base the image and the dev-container tests start from (scripts/image.sh makes it). */
export const BASE_IMAGE = 'localhost/gostall-base:bookworm';

const GO_ROOT = dirname(dirname(execFileSync('readlink', ['-f', '/usr/bin/go'], { encoding: 'utf8' }).trim()));
// Debian's GOROOT links src/ and api/ into /usr/share/go-1.X: mount both trees.
const GO_SHARE = GO_ROOT.replace('/usr/lib/', '/usr/share/');
/** podman flags that lend the host's Go toolchain to a container, read-only, on its PATH. */
export const GO_MOUNT = ['-v', `${GO_ROOT}:${GO_ROOT}:ro`, ...(existsSync(GO_SHARE) ? ['-v', `${GO_SHARE}:${GO_SHARE}:ro`] : []), '-e', `PATH=${GO_ROOT}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`];

/** Undo steps a test file registers (containers, directories), run in reverse by `runAll`. */
export function createCleanups() {
  const steps: (() => Promise<void>)[] = [];
  return {
    add: (step: () => Promise<void>) => { steps.push(step); },
    /** A fresh host directory, removed with the rest; mounted into containers for traces. */
    async tempDir(what: string): Promise<string> {
      const d = await mkdtemp(join(tmpdir(), `gostall-${what}-`));
      steps.push(() => rm(d, { recursive: true, force: true }));
      return d;
    },
    async runAll(): Promise<void> {
      for (const step of steps.reverse()) await step();
    },
  };
}
