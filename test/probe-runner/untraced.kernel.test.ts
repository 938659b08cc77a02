// What a user of the always-on agent (or of `run`) relies on: nothing else on the machine
// shows up in traces. An untraced process making the very calls the probe reports gives
// no record at all, while a traced one making the same calls still does — with both probe
// sets (the agent's per-syscall tracepoints, run's raw_syscalls hook). And the tracer leaves
// no files behind once attached.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLine } from '../../src/events/parse.js';
import type { ProbeEvent } from '../../src/events/types.js';
import { findBpftrace } from '../../src/probe-runner/environment.js';
import { startTracer, type TracerParams } from '../../src/probe-runner/bpftrace.js';

/** A path component longer than NAME_MAX: stat fails with ENAMETOOLONG, which the probe always reports. */
const TOO_LONG = `/tmp/${'x'.repeat(300)}`;

/** A shell that waits for a line on stdin, then stats TOO_LONG and exits. */
function waitingShell(): ChildProcess {
  return spawn('bash', ['-c', `read -r _; stat ${TOO_LONG} 2>/dev/null; exit 0`], { stdio: ['pipe', 'ignore', 'ignore'] });
}

async function release(p: ChildProcess): Promise<void> {
  const exited = once(p, 'exit');
  p.stdin!.end('go\n');
  await exited;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

async function traceTwo(params: (traced: number) => TracerParams): Promise<{ events: ProbeEvent[]; traced: number; untraced: number }> {
  const bpftrace = findBpftrace();
  if (!bpftrace) throw new Error('bpftrace not found');
  const traced = waitingShell();
  const untraced = waitingShell();
  started.push(traced, untraced);
  const events: ProbeEvent[] = [];
  // the traced shell's exit record: everything the untraced one did happened before it
  let sawTracedExit!: () => void;
  const tracedExit = new Promise<void>((r) => { sawTracedExit = r; });
  const tracer = startTracer({
    bpftrace, params: params(traced.pid!),
    onLine(line) {
      const r = parseLine(line);
      if (r.ok !== true) return;
      events.push(r.event);
      if (r.event.kind === 'exit' && r.event.pid === traced.pid) sawTracedExit();
    },
  });
  try {
    await tracer.ready;
    // once attached, the program's private directory (the program, its tracepoint list and
    // BTF subset) is gone: a gostall killed from now on leaves nothing behind in /tmp
    const program = readFileSync(`/proc/${tracer.pid}/cmdline`, 'latin1').split('\0').find((a) => a.endsWith('/gostall.bt'));
    expect(program).toMatch(/\/gostall-probe-[^/]+\/gostall\.bt$/);
    expect(existsSync(dirname(program!))).toBe(false);
    await release(untraced);
    await release(traced);
    await tracedExit;
  } finally {
    await tracer.stop();
  }
  return { events, traced: traced.pid!, untraced: untraced.pid! };
}

/** Every pid a record names. */
function pidsOf(e: ProbeEvent): number[] {
  const r = e as unknown as Record<string, unknown>;
  return ['pid', 'ppid', 'parentPid', 'childTid', 'tid'].map((k) => r[k]).filter((v): v is number => typeof v === 'number');
}

describe('untraced processes leave no trace', () => {
  for (const mode of ['agent', 'run'] as const) {
    it(`${mode} probe set: the untraced process's failed stat gives no record; the traced process's does`, async () => {
      const { events, traced, untraced } = await traceTwo((pid) => mode === 'agent'
        ? { rootPid: 0, syscallThresholdNs: 10_000_000, offcpuThresholdNs: 10_000_000, agent: { executables: ['gostall-none'], cgroupId: 0, adoptPids: [pid] } }
        : { rootPid: pid, syscallThresholdNs: 10_000_000, offcpuThresholdNs: 10_000_000 });
      const tracedPids = new Set([traced]);
      for (const e of events) if (e.kind === 'fork' && tracedPids.has(e.parentPid)) tracedPids.add(e.childTid);
      const failedStats = events.filter((e) => e.kind === 'syscall' && e.ret === -36);
      expect(failedStats.length).toBeGreaterThan(0);
      for (const e of failedStats) expect(tracedPids.has((e as { pid: number }).pid)).toBe(true);
      expect(events.filter((e) => pidsOf(e).includes(untraced))).toEqual([]);
    });
  }
});
