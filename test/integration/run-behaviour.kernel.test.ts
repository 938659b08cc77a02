// What a user of `gostall run` relies on besides the trace: the command's stdin, stdout and
// stderr are untouched; its exit status (128+signal when killed) is gostall's; a background
// child does not keep gostall waiting; Ctrl-C reaches the command and the trace is still
// written; tracing starts before the command's first system call; lost events are reported.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_CODE, type DecodedSpan } from '../support/otlp-decode.js';
import { isPidAlive, waitUntil } from '../support/faults/common.js';
import { buildGoHelper } from './go-helper.js';
import {
  argsOf, childrenOf, processSpans, readTraceFile, rootSpan, runGostall, runUntracedOutput,
} from './harness.js';

let work: string;
let helper: string;
const leftovers: number[] = [];

/** Environment for the traced commands: no OTEL_* from the caller, the C locale (fewer syscalls to wade through). */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && !k.startsWith('LC_') && k !== 'LANG') e[k] = v;
  return { ...e, LC_ALL: 'C', ...extra };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-run-'));
  helper = await buildGoHelper(work);
});

afterAll(async () => {
  // Background children the tests started through the traced command.
  for (const pid of leftovers) if (isPidAlive(pid)) process.kill(pid, 'SIGKILL');
  if (work) await rm(work, { recursive: true, force: true });
});

describe('stdin, stdout and stderr pass through untouched', () => {
  const input = randomBytes(1 << 20);
  // cat copies stdin; the Go helper then writes 3 MB covering every byte value; a marker goes to stderr.
  const script = `cat; echo to-stderr >&2; exec "$0" bytes 3000000`;
  let traced: Awaited<ReturnType<typeof runGostall>>;
  let untraced: { code: number | null; stdout: Buffer };

  beforeAll(async () => {
    untraced = await runUntracedOutput('sh', ['-c', script, helper], { input, env: env() });
    traced = await runGostall(['run', '--out', join(work, 'io.jsonl'), '--', 'sh', '-c', script, helper], { input, env: env() });
  });

  it('stdout is byte for byte what the untraced command writes', () => {
    expect(traced.code, traced.stderr).toBe(0);
    expect(untraced.stdout.length).toBe(input.length + 3_000_000);
    expect(traced.stdout.equals(untraced.stdout)).toBe(true);
  });

  it('stdin reaches the command', () => {
    expect(traced.stdout.subarray(0, input.length).equals(input)).toBe(true);
  });

  it("the command's stderr comes first, then gostall's summary", () => {
    expect(traced.stderr.startsWith('to-stderr\n')).toBe(true);
    // The shell exec'd the helper: the root process ends as helper.
    expect(traced.stderr).toMatch(/\ngostall: helper exited 0 after/);
  });
});

describe('exit status', () => {
  it('is 128+signal when the command is killed by a signal, and the root span says so', async () => {
    const out = join(work, 'signal.jsonl');
    const run = await runGostall(['run', '--out', out, '--', 'sh', '-c', 'kill -TERM $$'], { env: env() });
    expect(run.code, run.stderr).toBe(128 + 15);
    const root = rootSpan(await readTraceFile(out));
    expect(root.status).toEqual({ code: STATUS_CODE.ERROR, message: 'killed by signal 15' });
    expect(root.attributes).toMatchObject({ 'process.exit.code': 143, 'gostall.process.signal': 15 });
    expect(run.stderr).toMatch(/gostall: sh was killed by signal 15/);
  });

});

describe('a command that leaves a long-running child behind', () => {
  it('does not keep gostall waiting: the trace ends and shows the child still running', async () => {
    const out = join(work, 'background.jsonl');
    const run = await runGostall(['run', '--out', out, '--', 'sh', '-c', 'sleep 300 > /dev/null 2>&1 & echo $!'], { env: env() });
    const sleepPid = Number(run.stdout.toString().trim());
    leftovers.push(sleepPid);
    expect(run.code, run.stderr).toBe(0);
    // gostall is gone while the child still lives: it did not wait for it.
    expect(isPidAlive(sleepPid)).toBe(true);
    const spans = await readTraceFile(out);
    const sleep = processSpans(spans).find((s) => s.attributes['process.pid'] === sleepPid);
    expect(sleep, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(sleep!.name).toBe('sleep');
    expect(sleep!.parentSpanId).toBe(rootSpan(spans).spanId);
    expect(sleep!.attributes['gostall.process.still_running']).toBe(true);
    expect(run.stderr).toMatch(/2 processes \(1 still running when tracing stopped\)/);
    process.kill(sleepPid, 'SIGKILL');
  });
});

describe('Ctrl-C in the terminal', () => {
  it('reaches the command, and gostall still writes the trace with its exit', async () => {
    const out = join(work, 'ctrlc.jsonl');
    const ready = join(work, 'ctrlc.ready');
    const bgPidFile = join(work, 'ctrlc.bg');
    let gostallPid = 0;
    const script = `trap 'echo caught; exit 3' INT; sleep 300 & echo $! > ${bgPidFile}; touch ${ready}; wait`;
    const running = runGostall(['run', '--out', out, '--', 'sh', '-c', script], {
      env: env(), detached: true, onSpawn: (pid) => { gostallPid = pid; },
    });
    await waitUntil(() => existsSync(ready), 'the traced command to start', { timeoutMs: 60_000 });
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    process.kill(-gostallPid, 'SIGINT');
    const run = await running;
    leftovers.push(Number((await readFile(bgPidFile, 'utf8')).trim()));
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout.toString()).toBe('caught\n');
    const root = rootSpan(await readTraceFile(out));
    expect(root.attributes['process.exit.code']).toBe(3);
    expect(root.attributes['gostall.process.still_running']).toBeUndefined();
  });
});

describe('tracing starts before the command runs', () => {
  // File names a build tree can hold: spaces, quotes, a TAB, a newline, bytes that are not UTF-8.
  const names: Buffer[] = [
    Buffer.from('with space.txt'),
    Buffer.from(`quotes "double" 'single'.txt`),
    Buffer.from('tab\there.txt'),
    Buffer.from('new\nline.txt'),
    Buffer.concat([Buffer.from('latin1-'), Buffer.from([0xe9, 0xff]), Buffer.from('.txt')]),
  ];
  const shown = (dir: string, name: Buffer) => `${dir}/${name.toString('latin1').replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`)}`;
  let dir: string;
  let cat: DecodedSpan;
  let spans: DecodedSpan[];

  beforeAll(async () => {
    dir = join(work, 'names');
    await rm(dir, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    for (const n of names) await writeFile(Buffer.concat([Buffer.from(`${dir}/`), n]), 'x');
    const out = join(work, 'first.jsonl');
    // Threshold 0: every traced call of the command becomes a span.
    const run = await runGostall(['run', '--threshold', '0ns', '--out', out, '--', 'sh', '-c', `exec cat "${dir}"/*`], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    spans = await readTraceFile(out);
    cat = rootSpan(spans);
  });

  it('the first file the command opens is the dynamic loader cache, before main', () => {
    expect(cat.name).toBe('cat');
    const opens = childrenOf(spans, cat).filter((s) => s.name === 'openat').sort((a, b) => Number(a.startNs - b.startNs));
    expect(opens[0]?.attributes['file.path']).toBe('/etc/ld.so.cache');
  });

  it('names every file exactly, however odd its name', () => {
    const opened = childrenOf(spans, cat).filter((s) => s.name === 'openat').map((s) => s.attributes['file.path']);
    for (const n of names) expect(opened).toContain(shown(dir, n));
  });

  it('names the file a read was on, not whatever reused its fd later', () => {
    const reads = childrenOf(spans, cat).filter((s) => s.name === 'read' && String(s.attributes['file.path'] ?? '').startsWith(dir));
    const readPaths = new Set(reads.map((s) => s.attributes['file.path']));
    // cat reads each file through the same fd number, closing it in between.
    expect(new Set(reads.map((s) => s.attributes['gostall.syscall.fd'])).size).toBe(1);
    for (const n of names) expect(readPaths).toContain(shown(dir, n));
  });

  it('keeps the command line with its odd arguments', () => {
    const args = argsOf(cat);
    expect(args[0]).toBe('cat');
    expect(args).toContain(shown(dir, names[2]!));
  });
});

describe('events the kernel could not deliver', () => {
  it('are counted on the root span and in the summary', async () => {
    const out = join(work, 'lost.jsonl');
    // One page of perf buffer per CPU and every syscall printed: bound to overflow.
    const run = await runGostall(['run', '--threshold', '0ns', '--out', out, '--', 'find', '/usr/share', '-name', 'nothing-matches-this'], {
      env: env({ BPFTRACE_PERF_RB_PAGES: '1' }),
    });
    expect(run.code, run.stderr).toBe(0);
    const lost = rootSpan(await readTraceFile(out)).attributes['gostall.lost_events'];
    expect(lost).toBeGreaterThan(0);
    expect(run.stderr).toContain(`warning: ${lost} probe events were lost`);
  });
});
