/**
 * bin/gostall, the command users run: `gostall run` through a running agent without Node
 * (the agent builds the trace, bin/gostall writes it and prints the summary). The same spans
 * and summary as standalone, the command untouched, the file private and the user's, the
 * agent's build history per user, every case it leaves to the full gostall, and an agent
 * that dies mid-command.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sleep, startAgentProcess, type RunningAgent } from '../agent/support.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { askThenSend, newerGoModule, runWhileTheAgentDies, useRunAgent } from './run-agent-fixture.js';
import { processSpans, readTraceFile, runGostall, withCheckoutReachableByOthers, type GostallRun, type RunOptions } from './harness.js';

const fixture = useRunAgent('gostall-front-');
let agent: RunningAgent;
let dir: string;
let socketPath: string;
beforeAll(() => { ({ agent, dir, socketPath } = fixture()); });

/** The environment of a user's shell: nothing that sends bin/gostall to Node by itself. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OTEL_') || k.startsWith('GOSTALL_')) delete env[k];
  return { ...env, GOSTALL_AGENT_SOCKET: socketPath, ...extra };
}

async function counters(): Promise<{ built: number; answered: number; refused: number }> {
  const m = await agent.metrics();
  return { built: m.get('gostall_run_traces_built_total') ?? 0, answered: m.get('gostall_run_requests_total') ?? 0, refused: m.get('gostall_run_refused_total') ?? 0 };
}

/** What must not differ between the ways a command is traced: processes, parents, exits, causes. */
function shape(spans: DecodedSpan[]): string[] {
  const procs = processSpans(spans);
  const byId = new Map(procs.map((s) => [s.spanId, s]));
  return procs.map((s) => {
    const parent = s.parentSpanId ? byId.get(s.parentSpanId)?.name ?? '?' : '-';
    return `${s.name} ${JSON.stringify(s.attributes['process.command_args'] ?? [])} <- ${parent} exit=${String(s.attributes['process.exit.code'] ?? '')} causes=${JSON.stringify(s.attributes['gostall.causes'] ?? [])}`;
  }).sort();
}

/** The three ways a command is traced: its own tracer, bin/gostall through the agent, Node's client through the agent. */
const TRACE_WAYS: [string, RunOptions & { args?: string[] }][] = [
  ['standalone', { args: ['--standalone'] }],
  ['bin/gostall', {}],
  ['node client', { front: false }],
];

async function traced(name: string, command: string[], opts: RunOptions & { args?: string[] } = {}): Promise<{ run: GostallRun; spans: DecodedSpan[]; out: string }> {
  const out = join(dir, `${name}.otlp.jsonl`);
  const run = await runGostall(['run', ...(opts.args ?? []), '--out', out, '--', ...command], { front: true, env: userEnv(), ...opts });
  return { run, spans: existsSync(out) ? await readTraceFile(out) : [], out };
}

/** A module of one main package in dir/name, whose go.mod names it example.com/<name>. */
async function smallModule(name: string): Promise<string> {
  const mod = join(dir, name);
  await mkdir(mod, { recursive: true });
  writeFileSync(join(mod, 'go.mod'), `module example.com/${name}\n\ngo 1.19\n`);
  writeFileSync(join(mod, 'main.go'), 'package main\n\nfunc main() {}\n');
  return mod;
}
const GO_BUILD = ['go', 'build', '-o', '/dev/null', '.'];
/** A small module and a user state directory of its own (XDG_STATE_HOME): the environment for it, and where its build history is. */
async function moduleWithHistory(name: string): Promise<{ mod: string; env: NodeJS.ProcessEnv; builds: string }> {
  const state = join(dir, `${name}-state`);
  return { mod: await smallModule(name), env: userEnv({ XDG_STATE_HOME: state }), builds: join(state, 'gostall/builds') };
}

/**
 * cmd traced standalone and through bin/gostall, each with `option FILE` (name-own/-via.EXT):
 * the second over an older file of mode 0644, which must be made private as Node makes it;
 * the agent built the second (no Node).
 */
async function bothWaysWith(option: '--json' | '--html', name: string, cmd: string[], viaArgs: string[] = []) {
  const ext = option === '--json' ? 'json' : 'html';
  const ownFile = join(dir, `${name}-own.${ext}`);
  const viaFile = join(dir, `${name}-via.${ext}`);
  const own = await traced(`${name}-own`, cmd, { args: ['--standalone', option, ownFile] });
  writeFileSync(viaFile, 'an older one');
  await chmod(viaFile, 0o644);
  const before = await counters();
  const via = await traced(`${name}-via`, cmd, { args: [...viaArgs, option, viaFile] });
  expect((await counters()).built).toBe(before.built + 1);
  return { own, via, ownFile, viaFile };
}

describe('gostall run through the agent, without Node', () => {
  it('gives the spans and the summary of a standalone run, in a private file, and exits with the command\'s code', async () => {
    // --norc: a bash whose stdin is a socket (Node's pipes) and whose SHLVL is below 2 reads
    // ~/.bashrc, and the machine's own (pyenv's init here: 99 more processes) is not the test's
    const cmd = ['bash', '--norc', '-c', 'ls / >/dev/null; sh -c "cat /nonexistent-gostall 2>/dev/null; exit 3"; exit $?'];
    const before = await counters();
    const own = await traced('own', cmd, { args: ['--standalone'] });
    expect((await counters()).answered).toBe(before.answered); // standalone did not ask
    const via = await traced('via', cmd);
    expect(own.run.code).toBe(3);
    expect(via.run.code).toBe(3);
    const after = await counters();
    expect(after.built).toBe(before.built + 1); // the agent built it: no Node, no fallback
    expect(shape(via.spans)).toHaveLength(4); // bash, ls, sh, cat
    expect(shape(via.spans)).toEqual(shape(own.spans));
    expect(via.run.stderr).toMatch(/^gostall: bash exited 3 after .* 4 processes, trace [0-9a-f]{32}$/m);
    expect(via.run.stderr).toContain(`4 spans written to ${via.out}`);
    expect(statSync(via.out).mode & 0o777).toBe(0o600);
  });

  it('counts the command\'s own work in its root span, not the shim\'s start or its wait at the gate, whichever way it is traced', async () => {
    // strace, an independent tracer, counts the files `true` opens (the dynamic loader's)
    const straced = join(dir, 'true.strace');
    execFileSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', straced, 'true']);
    const opens = execFileSync('grep', ['-c', 'openat(', straced], { encoding: 'utf8' }).trim();
    const before = await counters();
    for (const [way, opts] of TRACE_WAYS) {
      const { run, spans } = await traced(`true-${way.replace(/\W/g, '-')}`, ['true'], opts);
      expect(run.code, run.stderr).toBe(0);
      const [root] = processSpans(spans);
      // the perl shim opens ~10 files and stats ~25 paths before CMD; `true` opens only its libraries
      expect(`${way}: ${String(root?.attributes['gostall.open.count'])}`).toBe(`${way}: ${opens}`);
      // `true` never sleeps; the shim waits at the gate for the tracer and the command line
      expect(`${way}: ${String(root?.attributes['gostall.offcpu.s_ns'] ?? 0)}`).toBe(`${way}: 0`);
    }
    expect((await counters()).built).toBe(before.built + 1); // bin/gostall's run was built by the agent
  });

  it('counts the running time of a short command, whichever way it is traced', async () => {
    // The kernel adds a task's time on the CPU to its sum at ticks and switches only. Read at
    // the exit tracepoint, `true` (~1 ms, no sleep) showed 0 µs running whenever neither came
    // between its exec and its exit: 17 runs in 40 here. Read at its last switch, never.
    const zeros: string[] = [];
    for (const [way, opts] of TRACE_WAYS) {
      for (let i = 0; i < 4; i++) {
        const { run, spans } = await traced(`cpu-${way.replace(/\W/g, '-')}-${i}`, ['/bin/true'], opts);
        expect(run.code, run.stderr).toBe(0);
        const [root] = processSpans(spans);
        if (!((root?.attributes['gostall.cpu.on_ns'] as number) > 0) || /running 0 µs/.test(run.stderr)) zeros.push(`${way} #${i}`);
      }
    }
    expect(zeros).toEqual([]);
  });

  it('a command that cannot be started: exit 127 and exec.failed, as standalone (not "still running", no cause)', async () => {
    const cmd = [join(dir, 'no-such-command')];
    const own = await traced('noexec-own', cmd, { args: ['--standalone'] });
    const via = await traced('noexec-via', cmd);
    expect(own.run.code).toBe(127);
    expect(via.run.code).toBe(127);
    expect(shape(via.spans)).toEqual(shape(own.spans));
    // named after the command asked for (it never ran: no executable to name it by)
    for (const r of [own, via]) expect(r.run.stderr).toMatch(/^gostall: no-such-command exited 127 after .*\n(.*\n)*\s+1\. exec\.failed — no-such-command \(pid/m);
    expect(processSpans(via.spans).map((s) => s.name)).toEqual(['no-such-command']);
  });

  it('writes --json as standalone does: built by the agent, the file 0600, "-" to stdout after the command\'s output', async () => {
    const cmd = ['sh', '-c', `echo from-cmd; ${join(dir, 'no-such-tool')}; exit 3`];
    const { own, via, ownFile: ownJson, viaFile: viaJson } = await bothWaysWith('--json', 'diag', cmd);
    expect(via.run.code).toBe(3);
    expect(statSync(viaJson).mode & 0o777).toBe(0o600);
    type Diagnosis = { command: string; causes: Array<{ id: string; process: string }>; traceId: string };
    const o = JSON.parse(readFileSync(ownJson, 'utf8')) as Diagnosis;
    const v = JSON.parse(readFileSync(viaJson, 'utf8')) as Diagnosis;
    expect(v.command).toBe(o.command);
    expect(v.causes.map((c) => `${c.id} ${c.process}`)).toEqual(o.causes.map((c) => `${c.id} ${c.process}`));
    expect(v.causes.map((c) => c.id)).toContain('exec.failed');
    // the trace it names is the one written
    expect(via.spans.every((s) => s.traceId === v.traceId)).toBe(true);
    const before = await counters();
    const toStdout = await traced('json-stdout', cmd, { args: ['--json=-'] });
    const [first, ...rest] = toStdout.run.stdout.toString('utf8').split('\n');
    expect(first).toBe('from-cmd');
    expect((JSON.parse(rest.join('\n')) as { causes: Array<{ id: string }> }).causes.map((c) => c.id)).toContain('exec.failed');
    expect((await counters()).built).toBe(before.built + 1);
  });

  it('writes --html as standalone does: built by the agent, the page 0600, the same processes and causes', async () => {
    const cmd = ['sh', '-c', `${join(dir, 'no-such-tool')}; exit 3`];
    type Page = { traces: Array<{ title: string; processes: Array<{ name: string; depth: number; exit: string; causes: string[] }> }> };
    /** What the page draws: the data it embeds. */
    const pageOf = (file: string): Page => {
      const m = /<script type="application\/json" id="gostall-data">(.*?)<\/script>/s.exec(readFileSync(file, 'utf8'));
      expect(m, file).not.toBeNull();
      return JSON.parse(m![1]!) as Page;
    };
    const shapeOf = (p: Page) => p.traces.map((t) => [t.title, t.processes.map((x) => `${'  '.repeat(x.depth)}${x.name} exit=${x.exit} ${x.causes.join(',')}`)]);
    const { own, via, ownFile: ownHtml, viaFile: viaHtml } = await bothWaysWith('--html', 'page', cmd, ['--json', join(dir, 'page-via.json')]);
    expect([own.run.code, via.run.code]).toEqual([3, 3]);
    expect(statSync(viaHtml).mode & 0o777).toBe(0o600);
    expect(readFileSync(viaHtml, 'utf8')).toMatch(/^<!doctype html>/);
    expect(shapeOf(pageOf(viaHtml))).toEqual(shapeOf(pageOf(ownHtml)));
    expect(JSON.stringify(shapeOf(pageOf(viaHtml)))).toContain('exec.failed');
    expect(via.spans.length).toBeGreaterThan(0); // and the trace file, after the page in the answer
  });

  it('leaves a device named as an output as it is, whichever way it is traced (`--out /dev/null` once made /dev/null 0600 for everyone)', async () => {
    // the test's own null device (char 1:3), not the machine's: a failure must not break /dev/null
    const nul = join(dir, 'null');
    execFileSync('mknod', ['-m', '0666', nul, 'c', '1', '3']);
    try {
      for (const [way, opts] of TRACE_WAYS) {
        const extra = way === 'standalone' ? ['--raw', nul, '--html', nul] : ['--html', nul];
        const run = await runGostall(['run', ...(opts.args ?? []), '--out', nul, '--json', nul, ...extra, '--', 'sh', '-c', 'exit 4'],
          { front: true, env: userEnv(), ...opts });
        expect(run.code, `${way}: ${run.stderr}`).toBe(4);
        expect(run.stderr, way).not.toMatch(/could not write|cannot/);
        const st = statSync(nul);
        expect(st.isCharacterDevice(), way).toBe(true);
        expect(st.mode & 0o777, way).toBe(0o666);
        expect(st.uid, way).toBe(0);
      }
    } finally {
      execFileSync('rm', ['-f', nul]);
    }
  });

  it('takes OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES from the user\'s environment into the resource, as standalone; malformed ones are Node\'s usage error before the command runs', async () => {
    const resource = { OTEL_SERVICE_NAME: 'ci-build', OTEL_RESOURCE_ATTRIBUTES: 'team=build%20tools,deployment.environment=ci' };
    const cmd = ['sh', '-c', 'exit 6'];
    const own = await traced('resource-own', cmd, { args: ['--standalone'], env: userEnv(resource) });
    const before = await counters();
    const via = await traced('resource-via', cmd, { env: userEnv(resource) });
    expect((await counters()).built).toBe(before.built + 1); // no Node: the agent built it
    expect(via.run.code).toBe(6);
    for (const { spans } of [own, via]) {
      expect(spans[0]!.resource['service.name']).toBe('ci-build');
      expect(spans[0]!.resource['team']).toBe('build tools');
      expect(spans[0]!.resource['deployment.environment']).toBe('ci');
    }
    const marker = join(dir, 'resource-marker');
    const bad = await traced('resource-bad', ['touch', marker], { env: userEnv({ OTEL_RESOURCE_ATTRIBUTES: 'not-a-pair' }) });
    expect(bad.run.code).toBe(2);
    expect(bad.run.stderr).toMatch(/OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs/);
    expect(existsSync(marker)).toBe(false);
    expect((await counters()).built).toBe(before.built + 1);
  });

  it('diagnoses a failing Go build as standalone does (stderr captured by the agent)', async () => {
    const cmd = await newerGoModule(dir);
    const before = await counters();
    const own = await traced('newer-own', cmd, { args: ['--standalone'], cwd: dir });
    const via = await traced('newer-via', cmd, { cwd: dir });
    expect((await counters()).built).toBe(before.built + 1);
    expect(via.run.code).not.toBe(0);
    expect(via.run.stderr).toMatch(/go\.toolchain_mismatch/);
    expect(shape(via.spans)).toEqual(shape(own.spans));
  });

  it('leaves the command exactly as untraced: an exported bash function, odd.name=1, a non-ASCII value, stdin, its stdout', async () => {
    const env = userEnv({ 'odd.name': '1', 'BASH_FUNC_f%%': '() {  echo from-an-exported-function\n}', LATIN1: '\u00e9' });
    const before = await counters();
    const { run } = await traced('env', ['bash', '-c', 'f; printenv odd.name; printenv LATIN1; cat'], { env, input: 'stdin reaches the command\n' });
    expect((await counters()).built).toBe(before.built + 1);
    expect(run.code).toBe(0);
    expect(run.stdout.toString('utf8')).toBe('from-an-exported-function\n1\n\u00e9\nstdin reaches the command\n');
  });

  it('starts Node without NODE_EXTRA_CA_CERTS when no collector is named, and hands it to the command all the same', async () => {
    // CMD's parent is Node in a standalone run: CMD prints its own value, then what Node had
    const show = ['sh', '-c', 'printenv NODE_EXTRA_CA_CERTS; tr "\\0" "\\n" < /proc/$PPID/environ | grep NODE_EXTRA_CA_CERTS='];
    const certs = '/etc/ssl/certs/ca-certificates.crt';
    const env = userEnv({ NODE_EXTRA_CA_CERTS: certs });
    const noCollector = await traced('ca-file', show, { args: ['--standalone'], env });
    expect(noCollector.run.code, noCollector.run.stderr).toBe(0);
    expect(noCollector.run.stdout.toString('utf8')).toBe(`${certs}\nGOSTALL_MOVED_NODE_EXTRA_CA_CERTS=${certs}\n`);
    // a collector may need the certificates: Node keeps them (this one is down; the command's code stands)
    const collector = await traced('ca-collector', show, { args: ['--standalone', '--endpoint', 'http://127.0.0.1:9'], env });
    expect(collector.run.code, collector.run.stderr).toBe(0);
    expect(collector.run.stdout.toString('utf8')).toBe(`${certs}\nNODE_EXTRA_CA_CERTS=${certs}\n`);
  });

  it('keeps the signals the caller left ignored (nohup\'s SIGHUP), which Node cannot', async () => {
    const show = 'grep ^SigIgn: /proc/self/status';
    const untraced = execFileSync('bash', ['-c', `trap '' HUP; ${show}`], { encoding: 'utf8' });
    expect(untraced).toMatch(/^SigIgn:\s+0*1$/m);
    const before = await counters();
    const out = join(dir, 'sigign.otlp.jsonl');
    // bash ignores SIGHUP, then becomes bin/gostall (its path: $0)
    const script = `trap '' HUP; exec "$0" run --out ${out} -- bash -c '${show}'`;
    const run = await runGostall([], { front: true, env: userEnv(), wrap: ([front]) => ['bash', '-c', script, front!] });
    expect(run.code, run.stderr).toBe(0);
    expect((await counters()).built).toBe(before.built + 1);
    expect(run.stdout.toString('utf8')).toBe(untraced);
  });

  it('says why a Go build rebuilt from the user\'s one build history, whichever way each build was traced', async () => {
    const { mod, env, builds } = await moduleWithHistory('small');
    const build = GO_BUILD;
    /** The module's one record in the user's history: when it was recorded. */
    const recordedAt = (): string => {
      const files = readdirSync(builds).filter((f) => f.endsWith('.json'));
      expect(files).toHaveLength(1);
      const file = join(builds, files[0]!);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      return new Date((JSON.parse(readFileSync(file, 'utf8')) as { atMs: number }).atMs).toISOString().replace(/\.\d+Z$/, 'Z');
    };
    // standalone first: its record is in the user's state directory
    const first = await traced('hist-1', build, { cwd: mod, env, args: ['--standalone'] });
    expect(first.run.code, first.run.stderr).toBe(0);
    const firstAt = recordedAt();
    // through the agent (bin/gostall): compared with standalone's record, and its own written back there
    await sleep(1100); // (records name their time to the second)
    writeFileSync(join(mod, 'main.go'), 'package main\n\nfunc main() { println() }\n');
    const before = await counters();
    const second = await traced('hist-2', build, { cwd: mod, env });
    expect(second.run.code, second.run.stderr).toBe(0);
    expect((await counters()).built).toBe(before.built + 1);
    expect(second.run.stderr).toMatch(new RegExp(`rebuilt because main\\.go of main \\S+ changed \\(content\\) \\(since the build of ${firstAt}\\)`));
    const secondAt = recordedAt();
    expect(secondAt).not.toBe(firstAt);
    expect(existsSync(join(agent.dir, 'state/runs/uid-0/builds')) ? readdirSync(join(agent.dir, 'state/runs/uid-0/builds')) : []).toEqual([]);
    // standalone again: compared with the record bin/gostall wrote
    await sleep(1100);
    writeFileSync(join(mod, 'main.go'), 'package main\n\nfunc main() { println(1) }\n');
    const third = await traced('hist-3', build, { cwd: mod, env, args: ['--standalone'] });
    expect(third.run.stderr).toMatch(new RegExp(`rebuilt because main\\.go of main \\S+ changed \\(content\\) \\(since the build of ${secondAt}\\)`));
    // --no-history: nothing compared, nothing recorded
    const thirdAt = recordedAt();
    writeFileSync(join(mod, 'main.go'), 'package main\n\nfunc main() { println(2) }\n');
    const fourth = await traced('hist-4', build, { cwd: mod, env, args: ['--no-history'] });
    expect(fourth.run.stderr).not.toMatch(/since the build of/);
    expect(recordedAt()).toBe(thirdAt);
  });

  it('reads no record through a link or from a directory others may write in, says so, and writes a new record in place of the link', async () => {
    const { mod, env, builds } = await moduleWithHistory('small-link');
    const build = GO_BUILD;
    const first = await traced('link-1', build, { cwd: mod, env });
    expect(first.run.code, first.run.stderr).toBe(0);
    const [name] = readdirSync(builds);
    const record = join(builds, name!);
    // the record replaced by a link to a file of root's elsewhere (bin/gostall runs as root here)
    const secret = join(dir, 'link-secret');
    writeFileSync(secret, readFileSync(record), { mode: 0o600 });
    rmSync(record);
    symlinkSync(secret, record);
    const before = await counters();
    const second = await traced('link-2', build, { cwd: mod, env });
    expect(second.run.code, second.run.stderr).toBe(0);
    expect(second.run.stderr).toContain(`gostall: build history: ignored ${record}: a symbolic link`);
    expect(second.run.stderr).not.toMatch(/since the build of/);
    expect(lstatSync(record).isFile()).toBe(true); // the new record, not written through the link
    expect(readFileSync(secret)).not.toEqual(readFileSync(record));
    // a history directory every user may write in: not read, not written
    await chmod(builds, 0o777);
    const third = await traced('link-3', build, { cwd: mod, env });
    expect(third.run.code, third.run.stderr).toBe(0);
    expect(third.run.stderr.split(`gostall: build history off: ${builds}: writable by other users\n`)).toHaveLength(2); // said once
    expect(third.run.stderr).not.toMatch(/since the build of/);
    expect((await counters()).built).toBe(before.built + 2); // both built by the agent, through bin/gostall (not Node)
  });

  it('writes the default trace and the build history under sudo to the invoking user\'s state directory, owned by them, 0600', async () => {
    const user = `gsfront${process.pid % 100000}`;
    execFileSync('useradd', ['-m', user]);
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
      const home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5]!;
      const env = userEnv({ SUDO_USER: user, SUDO_UID: String(uid), SUDO_GID: String(gid), HOME: '/root' });
      delete env.XDG_STATE_HOME;
      const before = await counters();
      const run = await runGostall(['run', '--', 'true'], { front: true, env });
      expect(run.code, run.stderr).toBe(0);
      expect((await counters()).built).toBe(before.built + 1);
      const traces = join(home, '.local/state/gostall/traces');
      const files = readdirSync(traces);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^\d{8}T\d{6}-true\.otlp\.jsonl$/);
      expect(run.stderr).toContain(`1 spans written to ${join(traces, files[0]!)}`);
      for (const p of [join(home, '.local'), join(home, '.local/state'), traces, join(traces, files[0]!)]) {
        expect([statSync(p).uid, statSync(p).gid], p).toEqual([uid, gid]);
      }
      expect(statSync(join(traces, files[0]!)).mode & 0o777).toBe(0o600);
      // a Go build's record goes to the same user's build history, theirs too
      const mod = await smallModule('sudo-mod');
      const goRun = await runGostall(['run', '--', ...GO_BUILD], { front: true, env, cwd: mod });
      expect(goRun.code, goRun.stderr).toBe(0);
      expect((await counters()).built).toBe(before.built + 2);
      const builds = join(home, '.local/state/gostall/builds');
      const records = readdirSync(builds);
      expect(records).toHaveLength(1);
      expect([statSync(builds).uid, statSync(builds).gid, statSync(builds).mode & 0o777]).toEqual([uid, gid, 0o700]);
      const record = join(builds, records[0]!);
      expect([statSync(record).uid, statSync(record).gid, statSync(record).mode & 0o777]).toEqual([uid, gid, 0o600]);
    } finally {
      execFileSync('userdel', ['-r', user], { stdio: 'ignore' });
    }
  });

  it('under sudo follows no link the user planted in their state directory, whichever way it traces: the trace and the history go nowhere else', async () => {
    const user = `gslink${process.pid % 100000}`;
    execFileSync('useradd', ['-m', user]);
    const rootOnly = join(dir, 'sudo-root-only');
    await mkdir(rootOnly, { mode: 0o700 });
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
      const home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5]!;
      const state = join(home, '.local/state/gostall');
      execFileSync('install', ['-d', '-o', String(uid), '-g', String(gid), '-m', '0700', join(home, '.local'), join(home, '.local/state'), state]);
      for (const sub of ['traces', 'builds']) { symlinkSync(rootOnly, join(state, sub)); execFileSync('chown', ['-h', `${uid}:${gid}`, join(state, sub)]); }
      const env = userEnv({ SUDO_USER: user, SUDO_UID: String(uid), SUDO_GID: String(gid), HOME: '/root' });
      delete env.XDG_STATE_HOME;
      // the default trace: refused with the way out, for bin/gostall (which hands it to Node) and Node alike
      for (const args of [[], ['--standalone']]) {
        const run = await runGostall(['run', ...args, '--', 'true'], { front: true, env });
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr).toMatch(new RegExp(`cannot create the default trace directory: ${state}/traces: a symbolic link; fix: give --out FILE`));
      }
      // a Go build with --out: traced, its history off with the reason
      const mod = await smallModule('sudo-link-mod');
      for (const [way, args] of [['bin/gostall', []], ['standalone', ['--standalone']]] as const) {
        const out = join(dir, `sudo-link-${way.replace(/\W/g, '-')}.otlp.jsonl`);
        const run = await runGostall(['run', ...args, '--out', out, '--', ...GO_BUILD], { front: true, env, cwd: mod });
        expect(`${way}: ${run.code}`, run.stderr).toBe(`${way}: 0`);
        expect(run.stderr).toContain(`gostall: build history off: ${state}/builds: a symbolic link`);
        expect(existsSync(out)).toBe(true);
      }
      expect(readdirSync(rootOnly)).toEqual([]);
    } finally {
      execFileSync('userdel', ['-r', user], { stdio: 'ignore' });
    }
  });

  it('follows many concurrent runs, each into its own trace', async () => {
    const before = await counters();
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => traced(`many-${i}`, ['sh', '-c', `exit ${10 + i}`])));
    runs.forEach(({ run, spans }, i) => {
      expect(run.code).toBe(10 + i);
      expect(processSpans(spans).map((s) => s.attributes['process.exit.code'])).toEqual([10 + i]);
    });
    expect((await counters()).built).toBe(before.built + 6);
  });
});

describe('what bin/gostall leaves to the full gostall (Node)', () => {
  it('options it does not take, and a collector named in the environment, still go through the agent', async () => {
    const before = await counters();
    const raw = join(dir, 'node-path.raw');
    const a = await traced('raw', ['sh', '-c', 'exit 4'], { args: ['--raw', raw] });
    expect(a.run.code).toBe(4);
    expect(existsSync(raw)).toBe(true);
    const b = await traced('otel', ['sh', '-c', 'exit 5'], { env: userEnv({ OTEL_SDK_DISABLED: 'true' }) });
    expect(b.run.code).toBe(5);
    const after = await counters();
    expect(after.built).toBe(before.built);
    expect(after.answered).toBe(before.answered + 2); // Node asked the agent to follow
    expect(processSpans(a.spans)).toHaveLength(1);
  });

  it('an agent from before `run` (it knows only `follow`): Node asks it to follow, without a word', async () => {
    // a socket that answers `run` as an agent from before would, and passes `follow` on to the real agent
    const proxyPath = join(dir, 'old-agent.sock');
    const proxy = createServer((client) => {
      let first = true;
      let upstream: Socket | undefined;
      client.on('error', () => {});
      client.on('data', (d: Buffer) => {
        if (first && d.includes('"type":"run"')) {
          client.end('{"v":1,"type":"error","message":"malformed request: type: Invalid input"}\n');
          return;
        }
        if (first) {
          upstream = createConnection(socketPath);
          upstream.on('error', () => client.destroy());
          upstream.pipe(client);
          client.on('close', () => upstream?.destroy());
        }
        first = false;
        upstream?.write(d);
      });
    });
    await new Promise<void>((r) => proxy.listen(proxyPath, r));
    try {
      const before = await counters();
      const { run, spans } = await traced('old-agent', ['sh', '-c', 'exit 8'], { env: userEnv({ GOSTALL_AGENT_SOCKET: proxyPath }) });
      expect(run.code).toBe(8);
      expect(run.stderr).not.toMatch(/refused|on its own/);
      expect(processSpans(spans)).toHaveLength(1);
      const after = await counters();
      expect(after.built).toBe(before.built);
      expect(after.answered).toBe(before.answered + 1); // Node's follow
    } finally {
      proxy.close();
    }
  });

  it('no agent: traces on its own; an agent that refuses: says why, then traces on its own', async () => {
    const none = await traced('none', ['sh', '-c', 'exit 6'], { env: userEnv({ GOSTALL_AGENT_SOCKET: join(dir, 'none.sock') }) });
    expect(none.run.code).toBe(6);
    expect(processSpans(none.spans)).toHaveLength(1);
    // a bad --threshold: Node says what is wrong with it, and nothing runs
    const bad = await traced('bad-threshold', ['sh', '-c', `touch ${join(dir, 'ran')}`], { args: ['--threshold', '5parsecs'] });
    expect(bad.run.code).toBe(2);
    expect(bad.run.stderr).toMatch(/^gostall run: --threshold needs a duration/);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    // one out of range is the agent's to refuse; Node then says what is wrong with it
    const before = await counters();
    const far = await traced('far-threshold', ['sh', '-c', `touch ${join(dir, 'ran-far')}`], { args: ['--threshold', '2000m'] });
    expect(far.run.code).toBe(2);
    expect(far.run.stderr).toMatch(/^gostall run: --threshold is out of range/);
    expect(existsSync(join(dir, 'ran-far'))).toBe(false);
    expect((await counters()).refused).toBe(before.refused + 1);
  });

  it('another user the agent does not take: one clear line, exit 2', async () => {
    const theirs = join(dir, 'nobody');
    await mkdir(theirs, { mode: 0o777 });
    await chmod(theirs, 0o777);
    const run = await withCheckoutReachableByOthers(() => runGostall(['run', '--out', join(theirs, 't.jsonl'), '--', 'true'], {
      front: true, env: userEnv(), setpriv: ['--reuid=65534', '--regid=65534', '--clear-groups'], cwd: theirs,
    }));
    expect(run.stderr).toMatch(/^gostall: cannot trace: .*run\.group of the agent at /);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.code).toBe(2);
  });
});

describe('the run and finish requests', () => {
  // the shim's command runs before `finish`, as bin/gostall's does
  const runThen = (request: Record<string, unknown>, later: string) => askThenSend(socketPath, { type: 'run', history: false, ...request }, later, { release: true });

  it('answer a good finish with the summary and the trace, anything else with an error, and the agent keeps going', async () => {
    const before = await counters();
    const ok = await runThen({}, '{"v":1,"type":"finish","out":"/x/y.jsonl"}\n');
    const head = /^\{"v":1,"type":"result","summaryBytes":(\d+),"traceBytes":(\d+)\}$/m.exec(ok);
    expect(head, ok).not.toBeNull();
    expect(ok).toMatch(/gostall: true exited 0 .*\n.*1 spans written to \/x\/y\.jsonl/s);
    expect(ok).toContain('"resourceSpans"');
    expect(await runThen({}, 'not json\n')).toMatch(/"type":"error".*not JSON/);
    expect(await runThen({}, '{"v":1,"type":"finish"}\n')).toMatch(/"type":"error".*malformed request: out/);
    expect(await runThen({}, '{"v":1,"type":"flush"}\n')).toMatch(/"type":"error".*malformed request/);
    expect(await runThen({ threshold: 'soon' }, '')).toMatch(/"type":"error".*--threshold needs a duration/);
    expect(await runThen({ history: 'yes' }, '')).toMatch(/"type":"error".*malformed request: history/);
    // build records the agent did not ask for (a command without a Go build asks for none)
    expect(await runThen({ history: true, clientHistory: true }, '{"v":1,"type":"history","records":{}}\n')).toMatch(/"type":"error".*build records sent unasked/);
    const after = await counters();
    expect(after.built).toBe(before.built + 1);
    expect(after.refused).toBe(before.refused + 6);
    const { run } = await traced('after-bad-finish', ['sh', '-c', 'exit 6']);
    expect(run.code).toBe(6);
    expect((await counters()).built).toBe(after.built + 1);
  });
});

describe('an agent that dies while the command runs', () => {
  it('bin/gostall says so, waits for the command and exits with its code', { timeout: 120_000 }, async () => {
    const run = await runWhileTheAgentDies(dir, 'front-dying', { front: true, env: userEnv() });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^gostall: the agent stopped following the command .*no trace was written$/m);
  });
});

describe('an agent that is just starting', () => {
  // Its socket listens while its bpftrace still compiles (~1.5 s): a run asked the moment the
  // socket appears is told so at once, and traces on its own. (It used to wait a second and
  // hear that the tracer did not see its process start, or, on a busy host, to time out
  // behind the tracer's launch and trace on its own without a word.)
  it('tells a run asked the moment its socket appears that its tracer is not attached yet; the run still traces on its own', { timeout: 120_000 }, async () => {
    const sock = join(dir, 'starting/run.sock');
    const starting = await startAgentProcess({ executables: ['go'], run: { socket: sock }, export: { out: join(dir, 'starting-agent.otlp.jsonl') } });
    try {
      while (!existsSync(sock)) await sleep(5); // (the timeout bounds this)
      const out = join(dir, 'starting.otlp.jsonl');
      const run = await runGostall(['run', '--out', out, '--', 'sh', '-c', 'exit 3'], { front: true, env: userEnv({ GOSTALL_AGENT_SOCKET: sock }) });
      expect(run.stderr.split('\n')[0]).toBe(`gostall: the agent at ${sock} refused: the agent's tracer is not attached yet (it is starting, or restarting after bpftrace stopped); tracing on its own`);
      expect(run.code).toBe(3);
      expect(processSpans(await readTraceFile(out))).toHaveLength(1);
      // and once it is attached, it follows runs
      await starting.waitHealthy();
      const later = await runGostall(['run', '--out', out, '--', 'true'], { front: true, env: userEnv({ GOSTALL_AGENT_SOCKET: sock }) });
      expect(later.stderr).not.toMatch(/tracing on its own/);
      expect((await starting.metrics()).get('gostall_run_traces_built_total')).toBe(1);
    } finally {
      await starting.cleanup();
    }
  });
});
