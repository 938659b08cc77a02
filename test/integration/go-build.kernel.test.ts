// `gostall run -- go build` on a small module with a cold build cache, traced by the real
// bpftrace on this kernel, exported to a local OTLP receiver (decoded with protobufjs, not with
// the exporter's code) and to an --out file. One traced build per protocol; every assertion
// below reads those two runs.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, writeHelloModule } from '../support/faults/goModule.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { SPAN_KIND, STATUS_CODE, type DecodedSpan } from '../support/otlp-decode.js';
import { SYSCALLS } from '../../src/events/schema.js';
import type { ReceivedRequest } from '../support/otlp-receiver.js';
import {
  argsOf, childrenOf, msToNs, processSpans, readTraceFile, rootSpan, runGostall, runUntraced, type GostallRun,
} from './harness.js';

const SECRET_HEADER_VALUE = 'tok-7f3a9c-do-not-log';
const SYSCALL_NAMES = new Set(Object.values(SYSCALLS));

/** Environment without the caller's OTEL_* settings, plus a hermetic Go setup. */
function cleanEnv(dir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) env[k] = v;
  return { ...env, ...goEnv({ gocache: join(dir, 'gocache'), gomodcache: join(dir, 'gomodcache'), home: join(dir, 'home') }), ...extra };
}

let work: string;
let receiver: OtlpReceiver;

interface TracedBuild {
  run: GostallRun;
  file: string;
  fileSpans: DecodedSpan[];
  received: DecodedSpan[];
  requests: ReceivedRequest[];
}
let ok: TracedBuild;
let failing: TracedBuild & { untracedCode: number | null };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-gobuild-'));
  receiver = await startOtlpReceiver();

  // A healthy build, cold cache, protobuf to the receiver, settings from flags and OTEL_* variables.
  const okDir = join(work, 'ok');
  await writeHelloModule(join(okDir, 'mod'));
  const okFile = join(okDir, 'trace.jsonl');
  const okRun = await runGostall(
    ['run', '--out', okFile, '--endpoint', receiver.url, '--protocol', 'http/protobuf', '--', 'go', 'build', '-o', join(okDir, 'hello'), '.'],
    {
      cwd: join(okDir, 'mod'),
      env: cleanEnv(okDir, {
        OTEL_EXPORTER_OTLP_HEADERS: `x-gostall-test=${SECRET_HEADER_VALUE}`,
        OTEL_SERVICE_NAME: 'ci-build',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci,team=build%20tools',
      }),
    },
  );
  ok = { run: okRun, file: okFile, fileSpans: await readTraceFile(okFile), received: [...receiver.spans], requests: [...receiver.requests] };
  receiver.reset();

  // A build that fails to compile, http/json to the receiver configured by variables only.
  const badDir = join(work, 'bad');
  await writeHelloModule(join(badDir, 'mod'), { failing: true });
  const untracedCode = await runUntraced('go', ['build', '-o', join(badDir, 'hello-untraced'), '.'], {
    cwd: join(badDir, 'mod'), env: cleanEnv(join(badDir, 'untraced'), {}),
  });
  const badFile = join(badDir, 'trace.jsonl');
  const badRun = await runGostall(['run', '--out', badFile, '--', 'go', 'build', '-o', join(badDir, 'hello'), '.'], {
    cwd: join(badDir, 'mod'),
    env: cleanEnv(badDir, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
  });
  failing = {
    run: badRun, file: badFile, fileSpans: await readTraceFile(badFile), received: [...receiver.spans], requests: [...receiver.requests], untracedCode,
  };
});

afterAll(async () => {
  await receiver?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a cold go build, traced', () => {
  it('exits like the build did and prints a summary naming the trace', () => {
    expect(ok.run.code, ok.run.stderr).toBe(0);
    expect(ok.run.stderr).toMatch(/^gostall: go build exited 0 after .* — \d+ processes, trace [0-9a-f]{32}$/m);
  });

  it('has a span per process: go build at the root, compile and link under it', () => {
    const root = rootSpan(ok.received);
    expect(root.name).toBe('go build');
    expect(argsOf(root).slice(0, 2)).toEqual(['go', 'build']);
    const kids = childrenOf(ok.received, root);
    const compileMain = kids.find((s) => s.attributes['process.executable.name'] === 'compile' && argsOf(s).includes('main'));
    const linkOut = kids.find((s) => s.attributes['process.executable.name'] === 'link' && argsOf(s).includes('-o'));
    expect(compileMain, kids.map((s) => `${s.name} ${argsOf(s).join(' ')}`).join('\n')).toBeDefined();
    expect(linkOut).toBeDefined();
    expect(compileMain!.attributes['process.executable.path']).toMatch(/\/pkg\/tool\/linux_amd64\/compile$/);
  });

  it('parents every process span like the process tree (parentSpanId follows process.parent_pid)', () => {
    const procs = processSpans(ok.received);
    const byPid = new Map(procs.map((s) => [s.attributes['process.pid'], s]));
    expect(procs.length).toBeGreaterThanOrEqual(3);
    for (const s of procs) {
      if (s.parentSpanId === undefined) {
        expect(s.attributes['process.parent_pid']).toBeUndefined();
        continue;
      }
      const parent = byPid.get(s.attributes['process.parent_pid']!);
      expect(parent, `parent of ${s.name}`).toBeDefined();
      expect(s.parentSpanId).toBe(parent!.spanId);
    }
    expect(new Set(ok.received.map((s) => s.traceId)).size).toBe(1);
  });

  it('records every process as exited 0 and not an error', () => {
    for (const s of processSpans(ok.received)) {
      expect(s.attributes['process.exit.code'], s.name).toBe(0);
      expect(s.status.code, s.name).not.toBe(STATUS_CODE.ERROR);
      expect(s.kind).toBe(SPAN_KIND.INTERNAL);
    }
  });

  it('shows no slow syscall on local disk at the default threshold', () => {
    const slow = ok.received.filter((s) => SYSCALL_NAMES.has(s.name) && s.status.code !== STATUS_CODE.ERROR);
    expect(slow.map((s) => `${s.name} ${s.attributes['file.path']} ${s.attributes['gostall.syscall.latency_ns']}`)).toEqual([]);
  });

  it('has wall-clock times inside the time the test saw the run take', () => {
    for (const s of ok.received) {
      expect(s.startNs).toBeGreaterThanOrEqual(msToNs(ok.run.startMs) - msToNs(1));
      expect(s.endNs).toBeLessThanOrEqual(msToNs(ok.run.endMs + 1) + msToNs(1));
      expect(s.endNs).toBeGreaterThanOrEqual(s.startNs);
    }
    // Children lie within their parent.
    const byId = new Map(ok.received.map((s) => [s.spanId, s]));
    for (const s of processSpans(ok.received)) {
      const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
      if (!parent) continue;
      expect(s.startNs).toBeGreaterThanOrEqual(parent.startNs);
      expect(s.endNs).toBeLessThanOrEqual(parent.endNs);
    }
  });

  it('reports no lost events and no malformed records on the root span', () => {
    expect(rootSpan(ok.received).attributes).toMatchObject({ 'gostall.lost_events': 0, 'gostall.malformed_records': 0, 'gostall.unattributed_records': 0 });
  });

  it('names the service by OTEL_SERVICE_NAME and carries OTEL_RESOURCE_ATTRIBUTES', () => {
    const resource = rootSpan(ok.received).resource;
    expect(resource).toMatchObject({ 'service.name': 'ci-build', 'deployment.environment': 'ci', team: 'build tools', 'os.type': 'linux' });
    expect(typeof resource['host.name']).toBe('string');
  });

  it('sends OTEL_EXPORTER_OTLP_HEADERS to the collector and never prints them', () => {
    expect(ok.requests.length).toBeGreaterThan(0);
    for (const r of ok.requests) {
      expect(r.contentType).toBe('application/x-protobuf');
      expect(r.headers['x-gostall-test']).toBe(SECRET_HEADER_VALUE);
    }
    expect(ok.run.stderr).not.toContain(SECRET_HEADER_VALUE);
    expect(ok.run.stderr).toContain(`sent to ${receiver.url}/v1/traces (http/protobuf)`);
  });

  it('writes the same spans to the --out file (same ids, parents, names, times, attributes), mode 0600', async () => {
    const key = (s: DecodedSpan) => s.spanId;
    const fromFile = new Map(ok.fileSpans.map((s) => [key(s), s]));
    expect(ok.fileSpans.length).toBe(ok.received.length);
    for (const s of ok.received) {
      const f = fromFile.get(key(s));
      expect(f, `span ${s.name} ${s.spanId} in the file`).toBeDefined();
      expect(f).toEqual(s);
    }
    expect((await stat(ok.file)).mode & 0o777).toBe(0o600);
    expect(ok.run.stderr).toContain(`spans written to ${ok.file}`);
  });
});

describe('a go build that fails to compile, traced', () => {
  it('exits with the code the untraced build exits with', () => {
    expect(failing.untracedCode).not.toBe(0);
    expect(failing.run.code, failing.run.stderr).toBe(failing.untracedCode);
  });

  it('passes the compiler error through on stderr', () => {
    expect(failing.run.stderr).toMatch(/cannot use "not an int"/);
  });

  it('marks the root span ERROR with the exit code', () => {
    const root = rootSpan(failing.received);
    expect(root.name).toBe('go build');
    expect(root.status.code).toBe(STATUS_CODE.ERROR);
    expect(root.attributes['process.exit.code']).toBe(failing.untracedCode);
  });

  it('marks the failing compile ERROR too', () => {
    const compiles = processSpans(failing.received).filter((s) => s.attributes['process.executable.name'] === 'compile' && argsOf(s).includes('main'));
    expect(compiles.length).toBeGreaterThanOrEqual(1);
    expect(compiles.some((s) => s.status.code === STATUS_CODE.ERROR && s.attributes['process.exit.code'] !== 0)).toBe(true);
  });

  it('was sent as OTLP/JSON to the endpoint from OTEL_EXPORTER_OTLP_ENDPOINT, and matches the file', () => {
    expect(failing.requests.length).toBeGreaterThan(0);
    for (const r of failing.requests) expect(r.contentType).toBe('application/json');
    expect(new Set(failing.received.map((s) => s.spanId))).toEqual(new Set(failing.fileSpans.map((s) => s.spanId)));
    expect(failing.run.stderr).toContain('(http/json)');
  });

  it('is a separate trace from the healthy build', () => {
    expect(rootSpan(failing.received).traceId).not.toBe(rootSpan(ok.received).traceId);
  });
});
