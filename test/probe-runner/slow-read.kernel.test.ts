// A read that waits is evidence (fs.slow_io) whichever way gostall traces: `run` times every
// read; the always-on agent does not hook read at all (that would tax every process on the
// machine) and finds the read from the traced thread's sleep instead. Either way the user
// gets one slow `read` with the path its fd was opened with.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLine } from '../../src/events/parse.js';
import type { ProbeEvent, SlowSyscallEvent } from '../../src/events/types.js';
import { findBpftrace } from '../../src/probe-runner/environment.js';
import { startTracer, type TracerParams } from '../../src/probe-runner/bpftrace.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-slow-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const THRESHOLD_NS = 10_000_000;

async function slowRead(params: (pid: number) => TracerParams, fifo: string): Promise<{ events: ProbeEvent[]; pid: number }> {
  const bpftrace = findBpftrace();
  if (!bpftrace) throw new Error('bpftrace not found');
  execFileSync('mkfifo', [fifo]);
  // waits for a line on stdin, then opens the FIFO and reads a line from it (one byte per read)
  const reader: ChildProcess = spawn('bash', ['-c', `read -r _; exec 3< ${fifo}; read -r -u 3 line; exit 0`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const events: ProbeEvent[] = [];
  // the reader's exit record: its slow read, if reported, was printed before it
  let sawExit!: () => void;
  const readerExit = new Promise<void>((r) => { sawExit = r; });
  const tracer = startTracer({
    bpftrace, params: params(reader.pid!),
    onLine(line) {
      const r = parseLine(line);
      if (r.ok !== true) return;
      events.push(r.event);
      if (r.event.kind === 'exit' && r.event.pid === reader.pid) sawExit();
    },
  });
  try {
    await tracer.ready;
    const exited = once(reader, 'exit');
    reader.stdin!.end('go\n');
    // the fault: a writer that takes 300 ms to say anything
    execFileSync('bash', ['-c', `exec 4> ${fifo}; sleep 0.3; echo hello >&4`]);
    await exited;
    await readerExit;
  } finally {
    if (reader.exitCode === null && reader.signalCode === null) reader.kill('SIGKILL');
    await tracer.stop();
  }
  return { events, pid: reader.pid! };
}

describe('a read that waits is reported with the path of its fd', () => {
  for (const mode of ['agent', 'run'] as const) {
    it(`${mode} probe set`, async () => {
      const fifo = join(dir, `fifo-${mode}`);
      const { events, pid } = await slowRead((p) => mode === 'agent'
        ? { rootPid: 0, syscallThresholdNs: THRESHOLD_NS, offcpuThresholdNs: THRESHOLD_NS, agent: { executables: ['gostall-none'], cgroupId: 0, adoptPids: [p] } }
        : { rootPid: p, syscallThresholdNs: THRESHOLD_NS, offcpuThresholdNs: THRESHOLD_NS }, fifo);
      const reads = events.filter((e): e is SlowSyscallEvent => e.kind === 'syscall' && e.sc === 20 && e.pid === pid);
      expect(reads.length).toBeGreaterThan(0);
      expect(reads[0]!.path).toBe(fifo);
      expect(reads[0]!.fd).toBe(3);
      expect(reads[0]!.latencyNs).toBeGreaterThanOrEqual(THRESHOLD_NS);
    });
  }
});
