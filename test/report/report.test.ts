// `gostall report FILE`: a recorded trace gives back the summary `run` printed for it, the
// causes as JSON and one page; a damaged or hostile file costs its bad lines, nothing else.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSummary } from '../../src/export/summary.js';
import { createProcessTree } from '../../src/model/tree.js';
import type { ProcessNode } from '../../src/model/process.js';
import type { Cause } from '../../src/diagnose/types.js';
import { loadReport, reportText } from '../../src/report/report.js';
import { MAX_STRING_CHARS } from '../../src/report/read.js';
import { renderHtml } from '../../src/report/html.js';
import { pageData } from '../../src/report/report.js';
import { ensureBuilt, GOSTALL_BIN } from '../scenarios/harness.js';
import { goplsWorkload, otlpLines, type Workload } from './traces.js';
import { SC } from '../../src/vocabulary/syscalls.js';

const run = promisify(execFile);
const MS = 1e6;
let dir: string;

beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'gostall-report-'));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const fromText = (text: string) => loadReport([{ name: 'trace.jsonl', stream: Readable.from([Buffer.from(text)]) }]);

/** What run printed for this workload: the same tree and causes through renderSummary. */
function runSummary(w: Workload, spanCount: number): string {
  const tree = createProcessTree();
  const root = tree.addRoot(w.rootPid, 0);
  for (const e of w.events) tree.add(e);
  const byPid = new Map<number, ProcessNode>();
  const stack = [root];
  while (stack.length) { const p = stack.pop()!; byPid.set(p.pid, p); stack.push(...p.children); }
  const causes: Cause[] = w.causes.map((c, i) => ({ id: c.id, process: byPid.get(c.pid)!, evidence: c.evidence, hint: c.hint, weightNs: 1e9 - i }));
  return renderSummary({ root, traceId: 'x', endNs: w.endNs, causes, lostEvents: 0, malformedRecords: 0, spanCount, destinations: [], exportProblems: [] });
}

const withoutTraceId = (s: string) => s.replace(/trace [0-9a-f]{32}|trace x/, 'trace ID');

describe('the summary from a recorded trace', () => {
  it('is the text run printed: processes, time split, slowest operations and every cause with its fix', async () => {
    const w = goplsWorkload(40, 4);
    const r = await fromText(await otlpLines(w));
    expect(r.traces).toHaveLength(1);
    const text = reportText(r);
    expect(withoutTraceId(text)).toBe(withoutTraceId(runSummary(w, r.traces[0]!.spanCount)));
    expect(text).toContain('1. fs.slow_metadata — go env (pid 1006)');
    expect(text).toContain('fix: check the proxy');
  });

  it('lists the slowest operations run listed, though below the span threshold they have no span', async () => {
    const w: Workload = {
      rootPid: 10, endNs: 100 * MS, causes: [],
      events: [
        { kind: 'exec', ts: MS, pid: 10, oldPid: 10, ppid: 1, uid: 0, argvLen: 3, comm: 'go', filename: '/usr/bin/go', filenameTruncated: false },
        { kind: 'argv', pid: 10, offset: 0, bytes: Buffer.from('go\0') },
        { kind: 'syscall', ts: 20 * MS, pid: 10, tid: 10, sc: SC.newfstatat, latencyNs: 12 * MS, runqNs: 0, ret: 0, fd: -1, path: '/ws/a.go', pathTruncated: false },
        { kind: 'syscall', ts: 40 * MS, pid: 10, tid: 10, sc: SC.read, latencyNs: 3 * MS, runqNs: 0, ret: 0, fd: 7, path: undefined, pathTruncated: false },
        { kind: 'exit', ts: 90 * MS, pid: 10, tid: 10, status: 256 },
      ],
    };
    const r = await fromText(await otlpLines(w, { thresholdNs: 50 * MS }));
    const text = reportText(r);
    expect(text).toContain('newfstatat "/ws/a.go" (go, pid 10)');
    expect(text).toContain('read fd 7 (go, pid 10)');
    expect(r.read.spans.map((s) => s.name)).toEqual(['go']); // below the threshold: no span of their own
    expect(withoutTraceId(text)).toBe(withoutTraceId(runSummary(w, r.traces[0]!.spanCount)));
  });
});

describe('damaged and hostile input', () => {
  it('skips a truncated line, garbage and a request without spans, counts them and keeps the good trace', async () => {
    const good = await otlpLines(goplsWorkload(3, 1));
    const text = `${good.slice(0, 500)}\nnot json at all\n{"resourceSpans": 5}\n${good}`;
    const r = await fromText(text);
    expect(r.traces).toHaveLength(1);
    expect(r.read.malformedLines).toBe(3);
    expect(r.read.problems[0]).toMatch(/^trace\.jsonl:1: not JSON/);
  });

  it('skips a line over the 64 MiB limit without holding it, and reads the next one', async () => {
    const good = await otlpLines(goplsWorkload(2, 1));
    async function* chunks(): AsyncGenerator<Buffer> {
      const mib = Buffer.alloc(1024 * 1024, 0x61);
      for (let i = 0; i < 65; i++) yield mib;
      yield Buffer.from(`\n${good}`);
    }
    const r = await loadReport([{ name: 'big.jsonl', stream: Readable.from(chunks()) }]);
    expect(r.read.malformedLines).toBe(1);
    expect(r.read.problems).toEqual(['big.jsonl:1: line longer than 64 MiB']);
    expect(r.traces).toHaveLength(1);
  });

  it('reads traces of older gostall versions (no cause events): the strongest cause of each span, ranked by the root', async () => {
    const req = JSON.parse(await otlpLines(goplsWorkload(8, 1)));
    for (const sp of req.resourceSpans[0].scopeSpans[0].spans) {
      sp.events = [];
      sp.attributes = sp.attributes.filter((a: { key: string }) => !a.key.startsWith('gostall.summary.'));
    }
    const text = reportText(await fromText(`${JSON.stringify(req)}\n`));
    expect(text).toMatch(/1\. fs\.slow_metadata — go env \(pid 1006\)\n.*\n.*\n {4}2\. net\.slow_connect — go env \(pid 1001\)/);
    expect(text).toContain('slowest operations:');
  });

  it('prints no control character or bidi override from the trace to the terminal', async () => {
    const w = goplsWorkload(2, 2);
    for (const e of w.events) if (e.kind === 'syscall') e.path = '/ws/\u001b]0;pwned\u0007\u001b[2J\u202e.go';
    w.causes[0]!.evidence = 'slow \u001b[31mred\u001b[0m \u009b';
    const text = reportText(await fromText(await otlpLines(w)));
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text).toContain('slow \\u001b[31mred\\u001b[0m \\u009b');
  });

  it('cuts huge attribute values so memory per span stays bounded', async () => {
    const line = await otlpLines(goplsWorkload(1, 1));
    const req = JSON.parse(line);
    const huge = 'A'.repeat(5_000_000);
    req.resourceSpans[0].scopeSpans[0].spans[0].attributes.push({ key: 'process.command_args', value: { arrayValue: { values: Array.from({ length: 10_000 }, () => ({ stringValue: huge.slice(0, 1000) })) } } });
    req.resourceSpans[0].scopeSpans[0].spans[1].attributes.push({ key: 'file.path', value: { stringValue: huge } });
    const r = await fromText(`${JSON.stringify(req)}\n`);
    const spans = r.read.spans;
    const path = spans[1]!.attributes.get('file.path') as string;
    expect(path.length).toBeLessThanOrEqual(MAX_STRING_CHARS + 1);
    expect((spans[0]!.attributes.get('process.command_args') as string[]).length).toBeLessThanOrEqual(256);
  });

  it('puts markup from paths and command lines into the page only as escaped JSON', async () => {
    const w = goplsWorkload(2, 3);
    for (const e of w.events) if (e.kind === 'syscall') e.path = '/ws/</script><script>window.pwned=1</script>\u2028.go';
    const r = await fromText(await otlpLines(w));
    const html = renderHtml(pageData(r));
    expect(html).not.toContain('<script>window.pwned');
    expect(html).not.toContain('\u2028');
    expect(html.match(/<script/g)).toHaveLength(2); // the data block and the page's own script
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/);
  });
});

describe('gostall report (the command)', () => {
  it('prints the summary, writes --json and --html with mode 0600, and reads stdin for -', async () => {
    const file = join(dir, 'trace.otlp.jsonl');
    await writeFile(file, await otlpLines(goplsWorkload(5, 2)));
    const out = await run(process.execPath, [GOSTALL_BIN, 'report', file, '--json', join(dir, 'd.json'), '--html', join(dir, 'r.html')]);
    expect(out.stdout).toMatch(/^gostall: gopls exited 0 after 63.00 s — 6 processes, trace [0-9a-f]{32}\n/);
    const json = JSON.parse(await readFile(join(dir, 'd.json'), 'utf8'));
    expect(json.traces[0].causes.map((c: { id: string }) => c.id)).toEqual(['fs.slow_metadata', 'net.slow_connect']);
    expect((await stat(join(dir, 'r.html'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'd.json'))).mode & 0o777).toBe(0o600);
    const viaStdin = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, [GOSTALL_BIN, 'report', '-'], (err, stdout) => (err ? reject(err) : resolve(stdout)));
      void readFile(file).then((b) => child.stdin!.end(b));
    });
    expect(viaStdin).toBe(out.stdout);
  });

  it('exits 2 naming the file when it cannot be read, and 1 when the input holds no gostall trace', async () => {
    const missing = await run(process.execPath, [GOSTALL_BIN, 'report', join(dir, 'nope.jsonl')]).catch((e) => e);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/gostall report: cannot read .*nope\.jsonl: ENOENT/);
    await writeFile(join(dir, 'junk.jsonl'), 'hello\n');
    const junk = await run(process.execPath, [GOSTALL_BIN, 'report', join(dir, 'junk.jsonl')]).catch((e) => e);
    expect(junk.code).toBe(1);
    expect(junk.stderr).toContain('1 malformed line skipped');
    expect(junk.stderr).toContain('no gostall trace in the input');
  });
});
