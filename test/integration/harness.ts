/**
 * Runs the built gostall CLI (bin/gostall.js → dist/) the way a user does, and reads back
 * what it wrote. Shared by the integration tests; nothing here is imported by src/.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeOtlpJsonLines, type DecodedSpan } from '../support/otlp-decode.js';

export const GOSTALL_BIN = fileURLToPath(new URL('../../bin/gostall.js', import.meta.url));
export const GOSTALL_FRONT = fileURLToPath(new URL('../../bin/gostall', import.meta.url));
export const MS_NS = 1_000_000n;

export interface GostallRun {
  /** exit code, or null when gostall itself was killed */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** Date.now() just before the spawn and just after the exit: the run lies within [startMs, endMs + 1) */
  startMs: number;
  endMs: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: Buffer | string;
  /** gostall is killed (SIGKILL) after this long; the test then fails on its exit status */
  timeoutMs?: number;
  /** run as another user: arguments for setpriv before node (e.g. --reuid=65534 …) */
  setpriv?: string[];
  /** turns gostall's argv (node, gostall, args) into the one started: e.g. to join a cgroup first */
  wrap?: (argv: string[]) => string[];
  /** start bin/gostall (the Perl front, which serves run through an agent without Node) instead of node bin/gostall.js */
  front?: boolean;
  /** called with gostall's pid once it runs (to signal it) */
  onSpawn?: (pid: number) => void;
  /** start gostall in a new process group (so a test can signal the group like a terminal) */
  detached?: boolean;
}

/**
 * Runs `fn` while other users can reach gostall's own files: a checkout made with mktemp -d (as
 * CI's is) is 0700, and a test that runs gostall as nobody must not fail on that instead of on
 * what it checks. Every mode is put back afterwards, even when `fn` throws.
 */
export async function withCheckoutReachableByOthers<T>(fn: () => Promise<T>): Promise<T> {
  const restored: [string, number][] = [];
  for (let dir = fileURLToPath(new URL('../..', import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o005) !== 0o005) { restored.push([dir, mode]); await chmod(dir, mode | 0o005); }
  }
  try {
    return await fn();
  } finally {
    for (const [dir, mode] of restored) await chmod(dir, mode);
  }
}

/** Runs `gostall ARGS…` to its exit. Resolves on exit, not on pipe close: a background child of the
 *  traced command may hold stdout open (the tests kill such children themselves). */
export function runGostall(args: string[], opts: RunOptions = {}): Promise<GostallRun> {
  const node = opts.front ? [GOSTALL_FRONT, ...args] : [process.execPath, GOSTALL_BIN, ...args];
  const full = opts.setpriv ? ['setpriv', ...opts.setpriv, ...node] : node;
  const [file, ...argv] = opts.wrap ? opts.wrap(full) : full;
  const startMs = Date.now();
  const child = spawn(file!, argv, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  opts.onSpawn?.(child.pid!);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const endMs = Date.now();
      clearTimeout(timer);
      // Whatever is still buffered in the pipes arrives before 'close'; do not wait for
      // descendants that keep them open.
      const finish = () => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), startMs, endMs });
      const grace = setTimeout(finish, 2_000);
      child.once('close', () => { clearTimeout(grace); finish(); });
    });
  });
}

/** Runs a command without gostall; resolves with its exit code (null when killed). */
export function runUntraced(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer | string } = {}): Promise<number | null> {
  return runUntracedOutput(file, args, opts).then((r) => r.code);
}

/** Runs a command without gostall; resolves with its exit code and stdout bytes. */
export function runUntracedOutput(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer | string } = {}): Promise<{ code: number | null; stdout: Buffer }> {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'ignore'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out) }));
  });
}

/** Spans of an --out file (OTLP JSON lines), decoded with the independent decoder. */
export async function readTraceFile(path: string): Promise<DecodedSpan[]> {
  return decodeOtlpJsonLines(await readFile(path, 'utf8'));
}

/** Process spans of a trace: the spans that carry process.pid. */
export function processSpans(spans: DecodedSpan[]): DecodedSpan[] {
  return spans.filter((s) => s.attributes['process.pid'] !== undefined);
}

/** The root span (no parent) of the trace; fails when there is not exactly one. */
export function rootSpan(spans: DecodedSpan[]): DecodedSpan {
  const roots = spans.filter((s) => s.parentSpanId === undefined);
  if (roots.length !== 1) throw new Error(`expected one root span, got ${roots.map((s) => s.name).join(', ') || 'none'}`);
  return roots[0]!;
}

/** Children of a span. */
export function childrenOf(spans: DecodedSpan[], parent: DecodedSpan): DecodedSpan[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId);
}

/** The span's command line as the trace says. */
export function argsOf(s: DecodedSpan): string[] {
  const a = s.attributes['process.command_args'];
  return Array.isArray(a) ? a.map(String) : [];
}

/** Unix ns of a millisecond reading. */
export const msToNs = (ms: number): bigint => BigInt(ms) * MS_NS;

/** The lines of a text, without the empty one after the last newline. */
export const linesOf = (text: string): string[] => text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

/** A port on 127.0.0.1 with nothing listening (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
