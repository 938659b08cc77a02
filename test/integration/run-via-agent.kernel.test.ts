/**
 * `gostall run` through a running agent (docs/agent.md, "gostall run through the agent"):
 * the same spans as standalone, the command's environment and stdin untouched in both modes,
 * exported once, the socket's refusals, bad requests (also after the agent follows: flush)
 * that leave the agent running, many runs at once, and an agent that dies mid-command.
 */
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../agent/support.js';
import { decodeOtlpJsonLines, type DecodedSpan } from '../support/otlp-decode.js';
import { askThenSend, newerGoModule, runWhileTheAgentDies, useRunAgent } from './run-agent-fixture.js';
import { writeHelloModule } from '../support/faults/goModule.js';
import { processSpans, readTraceFile, rootSpan, runGostall, runUntraced, withCheckoutReachableByOthers, type GostallRun } from './harness.js';

const fixture = useRunAgent('gostall-run-agent-', '100ms');
let agent: RunningAgent;
let dir: string;
let socketPath: string;
beforeAll(() => { ({ agent, dir, socketPath } = fixture()); });

/** pids of run trees that must not show up in the agent's own export */
const goPids: number[] = [];
const viaAgent = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, GOSTALL_AGENT_SOCKET: socketPath, ...extra });
const standalone = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, GOSTALL_AGENT_SOCKET: join(dir, 'no-agent.sock'), ...extra });

async function requests(): Promise<{ answered: number; refused: number }> {
  const m = await agent.metrics();
  return { answered: m.get('gostall_run_requests_total') ?? 0, refused: m.get('gostall_run_refused_total') ?? 0 };
}

/** What must not differ between the two modes: each process, its parent, its exit, the causes. */
function shape(spans: DecodedSpan[]): string[] {
  const procs = processSpans(spans);
  const byId = new Map(procs.map((s) => [s.spanId, s]));
  return procs.map((s) => {
    const parent = s.parentSpanId ? byId.get(s.parentSpanId)?.name ?? '?' : '-';
    const args = JSON.stringify(s.attributes['process.command_args'] ?? []);
    return `${s.name} ${args} <- ${parent} exit=${String(s.attributes['process.exit.code'] ?? '')} causes=${JSON.stringify(s.attributes['gostall.causes'] ?? [])}`;
  }).sort();
}

async function traced(name: string, env: NodeJS.ProcessEnv, command: string[], input?: string, cwd?: string): Promise<{ run: GostallRun; spans: DecodedSpan[] }> {
  const out = join(dir, `${name}.otlp.jsonl`);
  const run = await runGostall(['run', '--out', out, '--', ...command], { env, input, ...(cwd ? { cwd } : {}) });
  return { run, spans: existsSync(out) ? await readTraceFile(out) : [] };
}

describe('the same command traced both ways', () => {
  it('gives the same process spans, parents, exit codes and causes, and exits with the command\'s code', async () => {
    // --norc: a bash whose stdin is a socket (Node's pipes) and whose SHLVL is below 2 reads
    // ~/.bashrc, and the machine's own (pyenv's init here: 99 more processes) is not the test's
    const cmd = ['bash', '--norc', '-c', 'ls / >/dev/null; sh -c "cat /nonexistent-gostall 2>/dev/null; exit 3"; exit $?'];
    const before = await requests();
    const own = await traced('own', standalone(), cmd);
    const via = await traced('via', viaAgent(), cmd);
    expect(own.run.code).toBe(3);
    expect(via.run.code).toBe(3);
    expect((await requests()).answered).toBe(before.answered + 1);
    expect(shape(via.spans).length).toBe(4); // bash, ls, sh, cat
    expect(shape(via.spans)).toEqual(shape(own.spans));
    expect(via.run.stderr).toMatch(/bash exited 3/);
  });
});

describe('a failure whose cause is in what the tool said', () => {
  it('is diagnosed through the agent as standalone when the agent captures stderr (tracer.stderr)', async () => {
    const cmd = await newerGoModule(dir);
    const own = await traced('newer-own', standalone(), cmd, undefined, dir);
    const via = await traced('newer-via', viaAgent(), cmd, undefined, dir);
    expect(via.run.code).not.toBe(0);
    expect(via.run.stderr).toMatch(/go\.toolchain_mismatch/);
    expect(shape(via.spans)).toEqual(shape(own.spans));
    const go = processSpans(via.spans).find((s) => s.name.startsWith('go'))!;
    expect(go.attributes['gostall.stderr']).toMatch(/package slices is not in GOROOT/);
    goPids.push(go.attributes['process.pid'] as number);
  });
});

describe('a command that is one of the agent\'s own executables', () => {
  it('is still the run\'s: same spans both ways, nothing of it in the agent\'s export', async () => {
    const cmd = ['go', 'env', 'GOROOT'];
    const own = await traced('go-own', standalone(), cmd);
    const via = await traced('go-via', viaAgent(), cmd);
    expect(via.run.code, via.run.stderr).toBe(0);
    expect(via.run.stdout.toString()).toBe(own.run.stdout.toString());
    expect(shape(via.spans)).toEqual(shape(own.spans));
    expect(processSpans(via.spans)[0]!.name).toMatch(/^go/);
    goPids.push(processSpans(via.spans)[0]!.attributes['process.pid'] as number);
  });
});

describe('the command exactly as untraced', () => {
  const script = 'f; printenv odd.name; cat';
  const env = { 'odd.name': '1', 'BASH_FUNC_f%%': '() {  echo from-an-exported-function\n}' };
  for (const [mode, mk] of [['standalone', standalone], ['through the agent', viaAgent]] as const) {
    it(`${mode}: an exported bash function and odd.name=1 reach CMD, and so does stdin`, async () => {
      const { run } = await traced(`env-${mode.replace(/ /g, '-')}`, mk(env), ['bash', '-c', script], 'stdin reaches the command\n');
      expect(run.code).toBe(0);
      expect(run.stdout.toString('utf8')).toBe('from-an-exported-function\n1\nstdin reaches the command\n');
    });
  }
});

describe('the Go environment a command execs go with', () => {
  // `env GOMAXPROCS=1 go build`: the root execs go with a variable the launch environment
  // lacks. The root's environment is read at each of its execs (not polled), in every mode.
  it('is the one the diagnosis uses, standalone, through Node and through bin/gostall', async () => {
    const mod = join(dir, 'env-mod');
    await writeHelloModule(mod);
    const goSettings = { GOCACHE: join(dir, 'env-gocache'), GOFLAGS: '' };
    const build = ['env', 'GOMAXPROCS=1', 'go', 'build', '-o', join(mod, 'hello'), '.'];
    expect(await runUntraced('go', ['build', '-o', join(mod, 'hello'), '.'], { cwd: mod, env: { ...process.env, ...goSettings } })).toBe(0);
    const modes = [['standalone', standalone(goSettings), false], ['node', viaAgent(goSettings), false], ['front', viaAgent(goSettings), true]] as const;
    for (const [name, env, front] of modes) {
      // an edit, so that the build compiles main (the verdict needs a compile)
      await writeFile(join(mod, 'main.go'), `package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("${name}") }\n`);
      const out = join(dir, `goenv-${name}.otlp.jsonl`); // (env-… are another test's files)
      const run = await runGostall(['run', '--out', out, '--', ...build], { env, cwd: mod, front });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr, name).toMatch(/\(GOMAXPROCS 1\)/);
      const root = rootSpan(await readTraceFile(out));
      expect(root.attributes['gostall.go.parallelism_limit'], name).toBe(1);
      expect(root.attributes['gostall.go.parallelism_limit_source'], name).toBe('GOMAXPROCS');
    }
  });
});

describe('records read out of order (bpftrace reads each CPU\'s buffer in turn)', () => {
  // A bash that starts 100 children at once, and waits: the children's forks, execs and exits
  // are printed on both CPUs, and bash's exit can be read before the forks of the children it
  // waited for. Meanwhile the agent traces a loop of `go env`, roots of its own. Before, up to
  // one child in ten showed as a second bash or went missing, its records in the agent's pipeline.
  it('every child of a bursty command is in its run\'s trace, under its parent, and nothing of it reaches the agent\'s pipeline', { timeout: 120_000 }, async () => {
    const orphansBefore = (await agent.metrics()).get('gostall_records_orphan_total') ?? 0;
    const stop = join(dir, 'stop-go-env');
    const loop = spawn('bash', ['-c', `while [ ! -e ${stop} ]; do go env GOPATH >/dev/null; done`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 5; i++) {
        const out = join(dir, `burst-${i}.otlp.jsonl`);
        const run = await runGostall(['run', '--out', out, '--', 'bash', '-c', 'for i in $(seq 100); do sh -c "cat /nonexistent-gostall 2>/dev/null" & done; wait'],
          { env: viaAgent(), front: true });
        expect(run.code, run.stderr).toBe(0);
        expect(run.stderr).not.toMatch(/outside this trace|tracing on its own/);
        const procs = processSpans(await readTraceFile(out));
        const byId = new Map(procs.map((s) => [s.spanId, s]));
        const parentOf = (s: DecodedSpan) => (s.parentSpanId ? byId.get(s.parentSpanId)?.name : undefined) ?? '-';
        const tally = (name: string, parent: string) => procs.filter((s) => s.name.startsWith(name) && parentOf(s).startsWith(parent)).length;
        expect({ sh: tally('sh', 'bash'), cat: tally('cat', 'sh'), bash: tally('bash', '-') }, `run ${i}`).toEqual({ sh: 100, cat: 100, bash: 1 });
      }
    } finally {
      await writeFile(stop, '');
      await new Promise((r) => { if (loop.exitCode !== null) r(undefined); else loop.once('exit', r); });
    }
    expect((await agent.metrics()).get('gostall_records_orphan_total') ?? 0).toBe(orphansBefore);
  });
});

describe('the agent\'s socket', () => {
  it('refuses another user with a clear line', async () => {
    const theirs = join(dir, 'nobody');
    await mkdir(theirs, { mode: 0o777 });
    await chmod(theirs, 0o777);
    const out = join(theirs, 'nobody.otlp.jsonl');
    const run = await withCheckoutReachableByOthers(() => runGostall(['run', '--out', out, '--', 'true'], {
      env: viaAgent(), setpriv: ['--reuid=65534', '--regid=65534', '--clear-groups'], cwd: theirs,
    }));
    // nobody may not connect (the kernel says so) and may not trace on its own either
    expect(run.stderr).toMatch(/^gostall: cannot trace: .*as root.*run\.group of the agent at /);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.code).toBe(2);
  });

  it('is what doctor reports: to root, that run goes through it, its tracer attached; to another user, that it may not ask; with no socket, that run traces on its own', async () => {
    const root = await runGostall(['doctor'], { env: viaAgent() });
    expect(root.stdout.toString('utf8')).toContain(`  ok    a gostall agent serves run at ${socketPath}, its tracer attached: run follows commands through it`);
    expect(root.code).toBe(0);
    const none = await runGostall(['doctor'], { env: standalone() });
    expect(none.stdout.toString('utf8')).toContain(`  note  no gostall agent at ${join(dir, 'no-agent.sock')}: gostall run traces on its own`);
    expect(none.code).toBe(0); // (not a failure: run works either way)
    const theirs = await withCheckoutReachableByOthers(() => runGostall(['doctor'], {
      env: viaAgent(), setpriv: ['--reuid=65534', '--regid=65534', '--clear-groups'], cwd: '/',
    }));
    expect(theirs.stdout.toString('utf8')).toContain(`  WARN  the agent at ${socketPath} does not take requests from this user`);
  });

  const ask = (payload: string | undefined): Promise<string> => new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    let got = '';
    s.on('error', reject);
    s.on('data', (d: Buffer) => { got += d.toString('utf8'); });
    s.on('close', () => resolve(got));
    if (payload !== undefined) s.write(payload);
  });

  it('answers malformed, oversized and slow requests with an error and keeps running', async () => {
    const before = await requests();
    expect(await ask('this is not json\n')).toMatch(/"type":"error".*not JSON/);
    expect(await ask('{"v":1,"type":"follow","pid":"1"}\n')).toMatch(/"type":"error".*malformed request: pid/);
    expect(await ask('{"v":2,"type":"follow","pid":1}\n')).toMatch(/"type":"error".*malformed request: v/);
    expect(await ask(`{"v":1,"pad":"${'x'.repeat(5000)}"}\n`)).toMatch(/"type":"error".*longer than/);
    expect(await ask('{"v":1,"type":"follow","pid":1}\n')).toMatch(/"type":"error".*not a gostall run waiting/);
    expect(await ask(undefined)).toMatch(/"type":"error".*no request within/);
    expect((await requests()).refused).toBe(before.refused + 6);
    // still there, and still following runs
    const { run, spans } = await traced('after-bad', viaAgent(), ['sh', '-c', 'exit 5']);
    expect(run.code).toBe(5);
    expect(processSpans(spans)).toHaveLength(1);
    expect((await requests()).answered).toBe(before.answered + 7); // every connection gets an answer
  });

  const followThen = (later: string) => askThenSend(socketPath, { type: 'follow' }, later);

  it('once following, answers flush with flushed, and anything else with an error, and keeps running', async () => {
    const before = await requests();
    expect(await followThen('{"v":1,"type":"flush"}\n')).toMatch(/"type":"following".*\n.*"type":"flushed"/s);
    expect(await followThen('not json\n')).toMatch(/"type":"error".*not JSON/);
    expect(await followThen('{"v":1,"type":"flush","pid":1}\n')).toMatch(/"type":"error".*malformed request/);
    expect(await followThen('{"v":1,"type":"follow","pid":1}\n')).toMatch(/"type":"error".*malformed request: type/);
    expect(await followThen(`{"v":1,"pad":"${'x'.repeat(5000)}"}\n`)).toMatch(/"type":"error".*longer than/);
    expect(await followThen('{"v":1,"type":"flush"}\n'.repeat(20))).toMatch(/"type":"error".*flush requests unanswered/);
    expect((await requests()).refused).toBe(before.refused + 5);
    const { run, spans } = await traced('after-bad-flush', viaAgent(), ['sh', '-c', 'exit 6']);
    expect(run.code).toBe(6);
    expect(processSpans(spans)).toHaveLength(1);
  });

  it('follows many concurrent runs, each traced once, into its own trace', async () => {
    const before = await requests();
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => traced(`many-${i}`, viaAgent(), ['sh', '-c', `echo ${i} >/dev/null; exit ${10 + i}`])));
    runs.forEach(({ run, spans }, i) => {
      expect(run.code).toBe(10 + i);
      const procs = processSpans(spans);
      expect(procs).toHaveLength(1);
      expect(procs[0]!.attributes['process.exit.code']).toBe(10 + i);
    });
    const after = await requests();
    expect(after.answered - before.answered).toBe(6);
    expect(after.refused).toBe(before.refused);
  });

  it('exports a run\'s tree once: the agent\'s own export never has it', async () => {
    const { run, spans } = await traced('once', viaAgent(), ['sh', '-c', 'exit 0']);
    expect(run.code).toBe(0);
    const pid = processSpans(spans)[0]!.attributes['process.pid'];
    // the agent writes everything it has before it exits
    await agent.stop();
    const own = existsSync(join(dir, 'agent.otlp.jsonl')) ? decodeOtlpJsonLines(readFileSync(join(dir, 'agent.otlp.jsonl'), 'utf8')) : [];
    expect(own.filter((s) => s.attributes['process.pid'] === pid || goPids.includes(s.attributes['process.pid'] as number))).toEqual([]);
  });
});

describe('an agent that dies while the command runs', () => {
  it('run says so, still waits for the command and exits with its code', { timeout: 120_000 }, async () => {
    const run = await runWhileTheAgentDies(dir, 'dying', { env: process.env });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/the agent stopped following the command/);
  });
});
