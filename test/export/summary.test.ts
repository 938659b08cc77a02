// The terminal summary: what happened, where the trace went, and every reason the numbers may
// be incomplete, said where the user looks.
import { describe, expect, it } from 'vitest';
import type { ProbeEvent } from '../../src/events/types.js';
import { formatDuration, renderSummary, type SummaryInput } from '../../src/export/summary.js';
import { createProcessTree } from '../../src/model/tree.js';
import type { ProcessNode } from '../../src/model/process.js';
import { SC } from '../../src/vocabulary/syscalls.js';

const MS = 1e6;

function tree(opts: { rootStatus?: number; childRunning?: boolean } = {}): ProcessNode {
  const t = createProcessTree();
  const root = t.addRoot(100, 0);
  const text = 'go\0build\0';
  const events: ProbeEvent[] = [
    { kind: 'exec', ts: 1 * MS, pid: 100, oldPid: 100, ppid: 1, uid: 0, argvLen: text.length, comm: 'go', filename: '/usr/bin/go', filenameTruncated: false },
    { kind: 'argv', pid: 100, offset: 0, bytes: Buffer.from(text) },
    { kind: 'fork', ts: 2 * MS, parentPid: 100, parentTid: 100, childTid: 101 },
    { kind: 'exec', ts: 3 * MS, pid: 101, oldPid: 101, ppid: 100, uid: 0, argvLen: 0, comm: 'sleep', filename: '/usr/bin/sleep', filenameTruncated: false },
    { kind: 'syscall', ts: 90 * MS, pid: 100, tid: 100, sc: SC.newfstatat, latencyNs: 80 * MS, runqNs: 0, ret: 0, fd: -1, path: '/ws/go.mod', pathTruncated: false },
  ];
  if (!opts.childRunning) events.push({ kind: 'exit', ts: 50 * MS, pid: 101, tid: 101, status: 0 });
  events.push({ kind: 'exit', ts: 100 * MS, pid: 100, tid: 100, status: opts.rootStatus ?? 0 });
  for (const e of events) t.add(e);
  return root;
}

function input(over: Partial<SummaryInput> = {}): SummaryInput {
  return {
    root: tree(), traceId: 'a'.repeat(32), endNs: 200 * MS, causes: [], lostEvents: 0, malformedRecords: 0, spanCount: 3,
    destinations: ['written to /tmp/t.jsonl'], exportProblems: [], ...over,
  };
}

describe('renderSummary', () => {
  it('shows escape sequences, newlines and bidi overrides from the traced tree as text, never as terminal control', () => {
    const root = tree();
    const evidence = 'mkdirat "/ws/\u001b]0;pwned\u0007x" failed\n    2. forged.cause — fake (pid 1)\u202e';
    const text = renderSummary(input({ root, causes: [{ id: 'fs.permission_denied', process: root, evidence, hint: 'chown \u001b[2J', weightNs: 1 }] }));
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(text).toContain('mkdirat "/ws/\\u001b]0;pwned\\u0007x" failed\\u000a    2. forged.cause');
    expect(text.split('\n').filter((l) => /^ {4}2\. /.test(l))).toEqual([]);
    expect(text).toContain('fix: chown \\u001b[2J');
  });

  it('starts with the command, how it ended, how long, how many processes and the trace id', () => {
    const first = renderSummary(input()).split('\n')[0];
    expect(first).toBe(`gostall: go build exited 0 after 100 ms — 2 processes, trace ${'a'.repeat(32)}`);
  });

  it('says when the command was killed by a signal', () => {
    expect(renderSummary(input({ root: tree({ rootStatus: 9 }) }))).toMatch(/^gostall: go build was killed by signal 9 after/);
  });

  it('counts processes still running when tracing stopped', () => {
    expect(renderSummary(input({ root: tree({ childRunning: true }) }))).toMatch(/2 processes \(1 still running when tracing stopped\)/);
  });

  it('lists the slowest operations with their paths', () => {
    expect(renderSummary(input())).toMatch(/80 ms {2}newfstatat "\/ws\/go\.mod" \(go build, pid 100\)/);
  });

  it('warns about lost events with the fix, malformed records and other trace problems, one line each', () => {
    const text = renderSummary(input({ lostEvents: 12, malformedRecords: 3, traceProblems: ['bpftrace exited early'] }));
    const warnings = text.split('\n').filter((l) => l.startsWith('  warning: '));
    expect(warnings).toEqual([
      '  warning: 12 probe events were lost (the kernel\'s buffer overflowed), so counts, times and evidence are lower bounds; a larger buffer helps: BPFTRACE_PERF_RB_PAGES=4096',
      '  warning: 3 malformed probe records skipped',
      '  warning: bpftrace exited early',
    ]);
  });

  it('has no warning when nothing was lost', () => {
    expect(renderSummary(input())).not.toContain('warning');
  });

  it('says where the spans went and what could not be sent', () => {
    const text = renderSummary(input({ exportProblems: ['could not send the trace to http://c/v1/traces: refused'] }));
    expect(text).toContain('  3 spans written to /tmp/t.jsonl\n');
    expect(text).toContain('  warning: could not send the trace to http://c/v1/traces: refused\n');
  });
});

describe('formatDuration', () => {
  it.each([[850e3, '850 µs'], [2.4e6, '2.4 ms'], [12.4e6, '12 ms'], [120e6, '120 ms'], [3.214e9, '3.21 s'], [125e9, '2m05s']])('%d ns → %s', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });
});
