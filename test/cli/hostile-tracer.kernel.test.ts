// The whole `gostall run` pipeline fed by a tracer that prints garbage between its records
// (a fake bpftrace, since the real one cannot be made to): the command runs and exits as
// usual, the trace is written, and the garbage is counted where the user looks.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFakeBpftrace } from '../support/fake-bpftrace.js';
import { readTraceFile, rootSpan, runGostall, type GostallRun } from '../integration/harness.js';
import type { DecodedSpan } from '../support/otlp-decode.js';

const HOSTILE = [
  'x'.repeat(100_000),
  `E\tNOWNS\tROOTPID\tROOTPID\t1`,
  `X\tNOWNS\tROOTPID`,
  '\u00ff\u00fe garbage \u0000 with NUL',
  `Q\tNOWNS\tROOTPID\tROOTPID\t-1\t0\t0\t0\t0\t0\t0`,
];
const pad = (s: string, n: number) => s + '\\x00'.repeat(n - s.length);

let work: string;
let run: GostallRun;
let spans: DecodedSpan[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gostall-hostile-cli-'));
  const fake = await writeFakeBpftrace(work);
  const stream = [
    HOSTILE[0],
    `E\tNOWNS\tROOTPID\tROOTPID\t1\t0\t5\t${pad('true', 16)}\t${pad('/usr/bin/true', 128)}`,
    HOSTILE[1],
    'V\tROOTPID\t0\ttrue\\x00',
    HOSTILE[2],
    HOSTILE[3],
    `X\tNOWNS\tROOTPID\tROOTPID\t0`,
    HOSTILE[4],
    'Lost 3 events',
  ].join('\n');
  await writeFile(join(work, 'stream'), `${stream}\n`, 'latin1');
  const out = join(work, 'trace.jsonl');
  // The fake takes the stream file where bpftrace takes its script: the probe path is fixed,
  // so point GOSTALL_BPFTRACE at a wrapper that swaps it.
  const wrapper = join(work, 'bpftrace-wrapper');
  await writeFile(wrapper, `#!/bin/sh\nshift 3\nexec "${fake}" -B line "${join(work, 'stream')}" "$@"\n`, { mode: 0o755 });
  run = await runGostall(['run', '--out', out, '--', 'true'], { env: { ...process.env, GOSTALL_BPFTRACE: wrapper } });
  spans = await readTraceFile(out);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('garbage between the tracer records', () => {
  it('does not change the command’s exit code', () => {
    expect(run.code, run.stderr).toBe(0);
  });

  it('is counted on the root span and in the summary, next to the lost events', () => {
    const root = rootSpan(spans);
    expect(root.name).toBe('true');
    expect(root.attributes['gostall.malformed_records']).toBe(HOSTILE.length);
    expect(root.attributes['gostall.lost_events']).toBe(3);
    expect(run.stderr).toContain(`warning: ${HOSTILE.length} malformed probe records skipped`);
    expect(run.stderr).toContain('warning: 3 probe events were lost');
  });

  it('leaves the records around it intact', () => {
    expect(rootSpan(spans).attributes).toMatchObject({ 'process.exit.code': 0, 'process.executable.path': '/usr/bin/true', 'process.command_args': ['true'] });
  });
});
