// Whatever arrives on the tracer's stdout, the reader counts what it cannot use and keeps
// going: a 10 MB line, binary garbage, invalid UTF-8, missing or extra fields and absurd
// numbers each cost one malformed count, never a crash, and never the records around them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LINE_LENGTH, parseLine } from '../../src/events/parse.js';
import type { ProbeEvent } from '../../src/events/types.js';
import { createProcessTree } from '../../src/model/tree.js';
import { argvOf, decodeWaitStatus, displayName } from '../../src/model/process.js';
import { startTracer } from '../../src/probe-runner/bpftrace.js';
import { writeFakeBpftrace } from '../support/fake-bpftrace.js';

const ROOT = 4000;

/** Valid records: a root that forks a compile, which exits 0; the root exits 1. */
function validLines(): string[] {
  const pad = (s: string, n: number) => s + '\\x00'.repeat(n - s.length);
  return [
    `F\t100\t${ROOT}\t${ROOT}\t4001`,
    `E\t110\t4001\t4001\t${ROOT}\t0\t16\t${pad('compile', 16)}\t${pad('/usr/lib/go/pkg/tool/compile', 128)}`,
    `V\t4001\t0\tcompile\\x00-p\\x00main\\x00`,
    `A\t150\t4001\t4001\t0\t10\t5000\t900\t1\t1\t10\t0\t0\t0`,
    `Q\t190\t4001\t4001\t1000\t20\t30\t40\t5\t6\t7`,
    `X\t200\t4001\t4001\t0`,
    `X\t300\t${ROOT}\t${ROOT}\t256`,
  ];
}

/** One line each (no \n or \r inside), every one of them unusable. */
function hostileLines(): Buffer[] {
  const garbage = Buffer.alloc(4096);
  for (let i = 0, x = 12345; i < garbage.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    let b = x >>> 24;
    if (b === 0x0a || b === 0x0d) b = 0x09; // keep it one line: TABs make it look like fields
    garbage[i] = b;
  }
  return [
    Buffer.alloc(10 * 1024 * 1024, 'A'), // a 10 MB line without a TAB
    Buffer.concat([Buffer.from('S\t'), Buffer.alloc(10 * 1024 * 1024, '\t')]), // 10 MB of fields
    garbage,
    Buffer.from([0xff, 0xfe, 0x00, 0x09, 0xc3, 0x28, 0x09, 0x80]), // invalid UTF-8 with TABs
    Buffer.concat([Buffer.from(`E\t1\t${ROOT}\t${ROOT}\t1\t0\t0\tgo\t/usr/bin/`), Buffer.from([0xe9, 0xff])]), // raw bytes in a path
    Buffer.from(`X\t1\t${ROOT}\t${ROOT}`), // missing field
    Buffer.from(`X\t1\t${ROOT}\t${ROOT}\t0\t0`), // extra field
    Buffer.from(`F\t1\t${ROOT}\t${ROOT}\t99999999`), // pid beyond pid_max
    Buffer.from(`A\t1\t${ROOT}\t${ROOT}\t0\t1\t1\t1\t1\t1\t1\t1\t1\t99999999999999999999`), // beyond 2^53
    Buffer.from(`S\t-5\t${ROOT}\t${ROOT}\t1\t1\t1\t0\t-1\t`), // negative timestamp
    Buffer.from('\t\t\t'),
    Buffer.from('Lost many events'),
  ];
}

let dir: string;
let streamPath: string;
let fake: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-hostile-'));
  fake = await writeFakeBpftrace(dir);
  // Hostile lines between every pair of valid ones.
  const valid = validLines();
  const hostile = hostileLines();
  const parts: Buffer[] = [];
  for (let i = 0; i < Math.max(valid.length, hostile.length); i++) {
    if (hostile[i]) parts.push(hostile[i]!, Buffer.from('\n'));
    if (valid[i]) parts.push(Buffer.from(`${valid[i]}\n`));
  }
  parts.push(Buffer.from('Lost 3 events\n'));
  // Newer bpftrace reports losses on stderr, next to its warnings (which are not records).
  parts.push(Buffer.from('STDERR:Lost 4 events\nSTDERR:WARNING: Total lost event count: 7\n'));
  streamPath = join(dir, 'stream');
  await writeFile(streamPath, Buffer.concat(parts));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a hostile tracer stream read through the real runner', () => {
  it('counts every hostile line as malformed and keeps every valid neighbour', async () => {
    const tree = createProcessTree();
    const root = tree.addRoot(ROOT, 50);
    const malformed: string[] = [];
    const events: ProbeEvent[] = [];
    const tracer = startTracer({
      bpftrace: fake,
      script: streamPath,
      params: { rootPid: ROOT, syscallThresholdNs: 1e6, offcpuThresholdNs: 1e6 },
      onLine(line, stream) {
        const res = parseLine(line);
        if (res.ok === true) {
          events.push(res.event);
          tree.add(res.event);
        } else if (res.ok === false && stream === 'stdout') malformed.push(res.reason);
      },
      // Lines beyond the record limit are skipped by the runner's bounded splitter, never read whole.
      maxLineBytes: MAX_LINE_LENGTH + 1,
      onTooLong(stream) {
        if (stream === 'stdout') malformed.push('line too long');
      },
    });
    await tracer.ready;
    const exit = await tracer.stop();
    expect(exit.code).toBe(0);

    expect(malformed).toHaveLength(hostileLines().length);
    expect(malformed).toContain('line too long');
    // The R record, the valid records and the lost count: nothing else, nothing missing.
    expect(events.map((e) => e.kind).filter((k) => k !== 'lost')).toEqual(['ready', 'fork', 'exec', 'argv', 'sum', 'sched', 'exit', 'exit']);
    expect(tree.stats.lostEvents).toBe(7);

    const [compile] = root.children;
    expect(compile).toBeDefined();
    expect(displayName(compile!)).toBe('compile main');
    expect(argvOf(compile!).argv).toEqual(['compile', '-p', 'main']);
    expect(compile!.sums.stat).toMatchObject({ count: 10, errors: 1 });
    expect(decodeWaitStatus(compile!.status!)).toEqual({ code: 0, signal: undefined });
    expect(decodeWaitStatus(root.status!)).toEqual({ code: 1, signal: undefined });
  });

  it('rejects a 10 MB line by its length alone', () => {
    expect(parseLine(`S\t${'1'.repeat(10 * 1024 * 1024)}`)).toEqual({ ok: false, reason: 'line too long' });
  });
});
