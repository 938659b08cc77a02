// When gostall cannot do its job it says so in one line that names the fix, exits 2, and never
// starts the command: a usage error, no bpftrace, or no privilege to load eBPF programs. The
// command here would create a marker file; the marker must not exist afterwards.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linesOf, runGostall, withCheckoutReachableByOthers, type GostallRun } from '../integration/harness.js';

let work: string;
let marker: string;
/** The command every case tries to run: it would leave the marker behind. */
let touchMarker: string[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-cli-'));
  // World-writable and searchable: a command running as nobody could create the marker too,
  // so its absence proves the command never ran.
  await chmod(work, 0o755);
  const markerDir = join(work, 'markers');
  await mkdir(markerDir);
  await chmod(markerDir, 0o777);
  marker = join(markerDir, 'ran');
  touchMarker = ['--', 'touch', marker];
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Asserts the refusal: exit 2, exactly one line on stderr matching `line`, nothing on stdout, command not run. */
function expectRefusal(run: GostallRun, line: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  const lines = linesOf(run.stderr);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(run.stdout.length).toBe(0);
  expect(existsSync(marker), 'the command ran').toBe(false);
}

describe('usage errors', () => {
  // CMD stands for the command that would leave the marker.
  it.each([
    ['no command', ['run'], /^gostall run: gostall run needs a command: gostall run -- go build/],
    ['only the separator', ['run', '--'], /needs a command/],
    ['a threshold without a unit', ['run', '--threshold', '50', 'CMD'], /--threshold needs a duration with a unit, like 50ms or 1s \(got "50"\)/],
    ['a negative threshold', ['run', '--threshold=-5ms', 'CMD'], /--threshold needs a duration with a unit/],
    ['a threshold that looks like an option', ['run', '--threshold', '-5ms', 'CMD'], /argument is ambiguous\. .*use '--threshold=-XYZ'/],
    ['a threshold over an hour', ['run', '--threshold', '2h', 'CMD'], /--threshold needs a duration|out of range/],
    ['a threshold of more than an hour in seconds', ['run', '--threshold', '3601s', 'CMD'], /--threshold is out of range \(at most 1h\)/],
    ['an unknown protocol', ['run', '--protocol', 'thrift', 'CMD'], /--protocol: must be one of http\/protobuf, http\/json, grpc, got "thrift"/],
    ['an endpoint that is not a URL', ['run', '--endpoint', 'not a url', 'CMD'], /--endpoint: not a valid URL/],
    ['an endpoint that is not http', ['run', '--endpoint', 'ftp://127.0.0.1:21', 'CMD'], /--endpoint: must be an http:\/\/ or https:\/\/ URL/],
    ['an unknown option', ['run', '--frobnicate', 'CMD'], /Unknown option '--frobnicate'/],
    ['an unknown command', ['frobnicate', 'CMD'], /unknown command "frobnicate"/],
  ])('%s: exit 2 with one line', async (_what, args, line) => {
    const argv = args.flatMap((a) => (a === 'CMD' ? touchMarker : [a]));
    expectRefusal(await runGostall(argv), line);
  });

  it('a bad BPFTRACE_PERF_RB_PAGES is a usage error naming the variable', async () => {
    expectRefusal(await runGostall(['run', ...touchMarker], { env: { ...process.env, BPFTRACE_PERF_RB_PAGES: '1000' } }),
      /BPFTRACE_PERF_RB_PAGES must be a power of two/);
  });

  it('a bad OTEL_EXPORTER_OTLP_PROTOCOL is a usage error too', async () => {
    expectRefusal(await runGostall(['run', ...touchMarker], { env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' } }),
      /OTEL_EXPORTER_OTLP_PROTOCOL: must be one of http\/protobuf, http\/json, grpc, got "thrift"/);
  });
});

describe('an environment where tracing cannot work', () => {
  it('GOSTALL_BPFTRACE naming nothing: exit 2, one line with the fix', async () => {
    const run = await runGostall(['run', ...touchMarker], { env: { ...process.env, GOSTALL_BPFTRACE: '/nonexistent/bpftrace' } });
    expectRefusal(run, /^gostall: cannot trace: GOSTALL_BPFTRACE=\/nonexistent\/bpftrace is not an executable file; fix: point it at bpftrace/);
  });

  it('no bpftrace on PATH: exit 2, one line saying how to install it', async () => {
    // A PATH with node, touch and sh but no bpftrace.
    const bin = join(work, 'bin-without-bpftrace');
    await mkdir(bin, { recursive: true });
    for (const tool of ['touch', 'sh', 'mount']) {
      if (!existsSync(join(bin, tool))) await symlink(`/usr/bin/${tool}`, join(bin, tool));
    }
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
    delete env.GOSTALL_BPFTRACE;
    expectRefusal(await runGostall(['run', ...touchMarker], { env }), /^gostall: cannot trace: bpftrace not found on PATH; fix: install it: sudo apt-get install -y bpftrace/);
  });

  it('no privilege (running as nobody): exit 2, one line saying to run as root', async () => {
    const run = await withCheckoutReachableByOthers(() => runGostall(['run', ...touchMarker], {
      setpriv: ['--reuid=65534', '--regid=65534', '--clear-groups'],
      env: { ...process.env, HOME: '/nonexistent' },
    }));
    expectRefusal(run, /^gostall: cannot trace: no privilege to load eBPF programs: gostall runs as uid 65534; it lacks CAP_SYS_ADMIN.*, and bpftrace 0.17 runs only as root \(uid 0\); fix: run gostall as root \(sudo gostall …\)/);
  });
});
