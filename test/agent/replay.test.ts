// gostall replay turns a recorded probe stream into the spans a live agent would have
// made, and survives whatever a file can hold: garbage, a 10 MB line, binary data, invalid
// UTF-8, records with missing or extra fields, hostile paths, out-of-range numbers. Bad
// lines are counted by reason and reported; the valid records around them are intact.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLines, type DecodedSpan } from '../support/otlp-decode.js';
import { rec, stormProcess } from './stream.js';
import { runGostall } from './support.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { ERRNO } from '../../src/vocabulary/errno.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'gostall-replay-test-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const BOOT = 5_000_000_000_000; // monotonic ns of the first record
const OFFSET = 1_700_000_000_000_000_000 - BOOT; // so the first record is at 2023-11-14T22:13:20Z
const HOSTILE_PATH = '/work/dir with "quotes"\nand a newline\ttab/go.mod';

/** A small agent-mode capture: go build → compile, a slow stat with a hostile path, a failed open. */
function validCapture(): string[] {
  const ts = BOOT;
  return [
    rec.ready(ts),
    rec.root(ts + 1e6, 4000, 1),
    ...rec.exec(ts + 1.1e6, 4000, 1, ['go', 'build', './...'], '/usr/lib/go-1.19/bin/go'),
    rec.fork(ts + 2e6, 4000, 4001),
    ...rec.exec(ts + 3e6, 4001, 4000, ['compile', '-o', 'x.a'], '/usr/lib/go-1.19/pkg/tool/linux_amd64/compile'),
    rec.syscall(ts + 200e6, 4001, 4001, SC.newfstatat, 120e6, 0, HOSTILE_PATH),
    rec.syscall(ts + 210e6, 4001, 4001, SC.openat, 10_000, -ERRNO.EACCES, '/root/secret'),
    rec.sum(ts + 300e6, 4001, 4001, 0, 40, 121e6),
    rec.sched(ts + 300e6, 4001, 4001),
    rec.exit(ts + 301e6, 4001),
    rec.sched(ts + 400e6, 4000, 4000),
    rec.exit(ts + 401e6, 4000),
  ];
}

async function replay(name: string, content: Buffer | string, extra: string[] = []) {
  const input = join(dir, `${name}.txt`);
  const out = join(dir, `${name}.otlp.jsonl`);
  await writeFile(input, content);
  const r = await runGostall(['replay', input, '--out', out, '--clock-offset', String(OFFSET), ...extra]);
  let spans: DecodedSpan[] = [];
  try {
    spans = decodeOtlpJsonLines(await readFile(out, 'utf8'));
  } catch { /* no output */ }
  return { ...r, spans, out };
}

function checkValidSpans(spans: DecodedSpan[]): void {
  const build = spans.find((s) => s.name === 'go build');
  const compile = spans.find((s) => s.name === 'compile');
  expect(build).toBeDefined();
  expect(compile?.parentSpanId).toBe(build!.spanId);
  expect(compile?.traceId).toBe(build!.traceId);
  expect(build!.attributes['process.command_args']).toEqual(['go', 'build', './...']);
  expect(Math.abs(Number(build!.startNs) - (BOOT + 1e6 + OFFSET))).toBeLessThan(1000);
  const stat = spans.find((s) => s.name === 'newfstatat');
  expect(stat?.parentSpanId).toBe(compile!.spanId);
  expect(stat?.attributes['file.path']).toBe(HOSTILE_PATH);
  const denied = spans.find((s) => s.name === 'openat');
  expect(denied?.attributes['error.type']).toBe('EACCES');
}

describe('gostall replay', () => {
  it('turns a clean capture into the spans of the live pipeline', async () => {
    const r = await replay('clean', `${validCapture().join('\n')}\n`);
    expect(r.stderr).toMatch(/14 lines, 14 events, 1 roots, 1 traces, 4 spans/);
    expect(r.code).toBe(0);
    checkValidSpans(r.spans);
    expect(r.spans).toHaveLength(4);
    // spans carry command lines and paths: the output file is private
    expect((await stat(r.out)).mode & 0o777).toBe(0o600);
  });

  it('takes the clock offset from the capture header when no flag is given', async () => {
    const input = join(dir, 'header.txt');
    const out = join(dir, 'header.otlp.jsonl');
    await writeFile(input, `#gostall clock_offset_ns=${OFFSET}\n${validCapture().join('\n')}\n`);
    const r = await runGostall(['replay', input, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/clock offset \d+ ns \(header\)/);
    const build = decodeOtlpJsonLines(await readFile(out, 'utf8')).find((s) => s.name === 'go build')!;
    expect(Math.abs(Number(build.startNs) - (BOOT + 1e6 + OFFSET))).toBeLessThan(1000);
  });

  it('counts and skips hostile input without losing the valid records around it', async () => {
    const valid = validCapture();
    const bad: (string | Buffer)[] = [
      'hello world',
      Buffer.concat([Buffer.from('S\t'), Buffer.alloc(10 * 1024 * 1024, 0x41)]), // a 10 MB line
      Buffer.from(randomBytes(4096).filter((b) => b !== 0x0a)), // binary garbage
      Buffer.concat([Buffer.from('S\t1\t4001\t4001\t1\t5\t0\t0\t-1\t'), Buffer.from([0xff, 0xfe, 0xc3, 0x28])]), // invalid UTF-8
      'S\t1\t4001\t4001\t1\t5\t0\t0', // missing fields
      'X\t1\t4001\t4001\t0\textra', // an extra field
      'X\t1\t99999999\t4001\t0', // pid out of range
      'S\t18446744073709551616\t4001\t4001\t1\t5\t0\t0\t-1\t', // ts beyond 2^64
      'E\t-5\t4001\t4001\t4000\t0\t3\tgo\t/usr/bin/go', // negative ts
      'Z\t1\t2\t3', // unknown record
      'M\t1\t7\t0', // unknown snapshot kind
      '@ts[1234]: 5', // bpftrace's own map dump at exit: ignored, not counted
      '\u0000\u0000\u0000',
      'G\t1\t0x10\t1', // hex pid
      Buffer.from([0x23, 0x00, 0xff, 0x1b, 0x5b]), // garbage that starts like a comment ('#')
    ];
    // Interleave: a bad line after every valid one, and CRLF on a valid line.
    const lines: Buffer[] = [];
    valid.forEach((v, i) => {
      lines.push(Buffer.from(i === 3 ? `${v}\r` : v));
      const b = bad[i % bad.length]!;
      lines.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
    });
    for (const b of bad.slice(valid.length)) lines.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
    const r = await replay('hostile', Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    expect(r.code).toBe(0);
    checkValidSpans(r.spans);
    expect(r.spans).toHaveLength(4);
    expect(r.stderr).toMatch(new RegExp(`${bad.length - 1} malformed lines skipped`));
    expect(r.stderr).toMatch(/line too long/);
    expect(r.stderr).toMatch(/non-ASCII or control bytes/);
    // Memory stays bounded however long a line is (the 10 MB line is never held whole).
    expect(r.maxRssBytes).toBeLessThan(300 * 1024 * 1024);
  });

  it('replays a run capture (R names the root) with run\'s spans and no agent-only spans', async () => {
    const ts = BOOT;
    const lines = [
      rec.ready(ts, 4000),
      ...rec.exec(ts + 1e6, 4000, 1, ['go', 'vet'], '/usr/lib/go-1.19/bin/go'),
      rec.syscall(ts + 5e9, 4000, 4000, SC.newfstatat, 4.9e9, 0, '/mnt/slow/go.mod'),
      rec.sched(ts + 6e9, 4000, 4000),
      rec.exit(ts + 6e9, 4000, 256),
    ];
    const r = await replay('run-capture', `${lines.join('\n')}\n`);
    expect(r.code).toBe(0);
    const vet = r.spans.find((s) => s.name === 'go vet')!;
    expect(vet.attributes['process.exit.code']).toBe(1);
    expect(r.spans.map((s) => s.name).sort()).toEqual(['go vet', 'newfstatat']);
  });

  it('reports a stall episode of a long-lived process in its trace, once it is over', async () => {
    const ts = BOOT;
    const lines = [
      rec.ready(ts), rec.root(ts + 1e6, 5000, 1), ...rec.exec(ts + 2e6, 5000, 1, ['gopls'], '/usr/bin/gopls'),
      rec.fork(ts + 3e6, 5000, 5001),
    ];
    // 30 stats of 200 ms each on a slow mount, one after the other, then quiet.
    for (let i = 0; i < 30; i++) lines.push(rec.syscall(ts + 1e9 + (i + 1) * 200e6, 5000, 5001, SC.newfstatat, 200e6, 0, `/mnt/slow/pkg${i}/a.go`));
    lines.push(rec.syscall(ts + 20e9, 5000, 5001, SC.openat, 2e6, 0, '/etc/hosts'));
    const config = join(dir, 'episodes.json');
    await writeFile(config, JSON.stringify({ episodes: { minDuration: '2s', reportEvery: '10s', mergeGap: '1s' } }));
    const r = await replay('episode', `${lines.join('\n')}\n`, ['--config', config]);
    expect(r.code).toBe(0);
    const gopls = r.spans.find((s) => s.name === 'gopls')!;
    const episodes = r.spans.filter((s) => s.name === 'stall stat');
    expect(episodes).toHaveLength(1);
    const e = episodes[0]!;
    expect(e.traceId).toBe(gopls.traceId);
    expect(e.parentSpanId).toBe(gopls.spanId);
    expect(e.attributes['gostall.episode.in_progress']).toBe(false);
    expect(e.attributes['gostall.episode.blocked_ns']).toBe(6e9);
    expect(e.attributes['gostall.episode.calls']).toBe(30);
    expect(Number(e.endNs - e.startNs)).toBeCloseTo(6e9, -6);
    expect(String(e.attributes['gostall.episode.evidence'])).toMatch(/^30 newfstatat calls blocked 6\.00 s in 6\.00 s/);
    // the gopls process span (still running at the end of the capture) counts its episodes
    expect(gopls.attributes['gostall.episodes']).toBe(1);
    expect(gopls.attributes['gostall.process.still_running']).toBe(true);
  });

  it('handles a million-event burst with bounded memory and reports the events lost at capture time', async () => {
    const input = join(dir, 'storm.txt');
    const out = join(dir, 'storm.otlp.jsonl');
    const chunks: string[] = [rec.ready(BOOT)];
    let lines = 1;
    let pid = 10_000;
    let ts = BOOT + 1e6;
    let processes = 0;
    while (lines < 1_000_000) {
      const p = stormProcess(ts, pid, 'stormtool');
      chunks.push(...p);
      lines += p.length;
      processes++;
      if (processes % 1000 === 0) { chunks.push('Lost 7 events'); lines++; }
      pid = pid + 2 > 4_000_000 ? 10_000 : pid + 2;
      ts += 100_000;
    }
    await writeFile(input, `${chunks.join('\n')}\n`);
    const r = await runGostall(['replay', input, '--out', out, '--clock-offset', String(OFFSET)], { timeoutMs: 600_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`${processes} roots, ${processes} traces, ${processes} spans`));
    const lost = Math.floor(processes / 1000) * 7;
    expect(r.stderr).toContain(`${lost} events were lost when the capture was made`);
    process.stderr.write(`replay storm: ${lines} lines, ${processes} processes, peak RSS ${(r.maxRssBytes / 1048576).toFixed(0)} MiB\n`);
    expect(r.maxRssBytes).toBeLessThan(600 * 1024 * 1024);
    const outLines = (await readFile(out, 'utf8')).trim().split('\n').length;
    expect(outLines).toBeGreaterThan(0);
  }, 180_000); // a million records through the whole pipeline: ~25 s on a quiet 2-CPU machine
});
