// When the agent may answer a run's `flush`: its tracer sleeps in epoll_wait (nothing unread
// in its per-CPU buffers) and one more event-loop turn has read our pipe; when /proc cannot
// tell, the old rule (records quiet for 100 ms). A fake /proc in a temp directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QUIET_MILLIS, tracerState, waitTracerDrained, type TracerState } from '../../src/probe-runner/tracer-drain.js';

const root = mkdtempSync(join(tmpdir(), 'gostall-drain-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeSyscall(pid: number, text: string): void {
  const dir = join(root, String(pid), 'task', String(pid));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'syscall'), text);
}

describe('the tracer\'s state, from /proc/PID/task/PID/syscall', () => {
  it('is waiting only in epoll_wait or epoll_pwait of this architecture', () => {
    fakeSyscall(10, '232 0x24 0x563af7624c60 0x2 0x64 0x0 0x5 0x7ffd 0x7f1\n');
    fakeSyscall(11, '281 0x4 0x1 0x2 0x64 0x0 0x8 0x7ffd 0x7f1\n');
    fakeSyscall(12, 'running\n');
    fakeSyscall(13, '1 0x1 0x7f 0x40 0x0 0x0 0x0 0x7ffd 0x7f1\n'); // write(2): its pipe is full
    fakeSyscall(14, '-1 0x7ffd 0x7f1\n');
    fakeSyscall(15, 'garbage');
    fakeSyscall(16, '22 0x4 0x1 0x2 0x64 0x0 0x8 0x7ffd 0x7f1\n');
    expect(tracerState(10, root, 'x64')).toBe('waiting');
    expect(tracerState(11, root, 'x64')).toBe('waiting');
    expect(tracerState(12, root, 'x64')).toBe('busy');
    expect(tracerState(13, root, 'x64')).toBe('busy');
    expect(tracerState(14, root, 'x64')).toBe('busy');
    expect(tracerState(15, root, 'x64')).toBe('unknown');
    expect(tracerState(16, root, 'arm64')).toBe('waiting');
    expect(tracerState(16, root, 'x64')).toBe('busy');
    expect(tracerState(99, root, 'x64')).toBe('unknown'); // gone or not ours to read
    expect(tracerState(undefined, root, 'x64')).toBe('unknown'); // restarting
    expect(tracerState(10, root, 'riscv64')).toBe('unknown');
  });
});

describe('waiting for the tracer to be drained', () => {
  const states = (...seq: TracerState[]) => { let i = 0; return () => seq[Math.min(i++, seq.length - 1)]!; };

  it('answers once the tracer sleeps, however recent the last record', async () => {
    const seen: TracerState[] = [];
    const state = states('busy', 'busy', 'waiting');
    const r = await waitTracerDrained({ pid: () => 1, lastLineAt: () => Date.now(), state: () => { const s = state(); seen.push(s); return s; } });
    expect(r).toBe('drained');
    expect(seen).toEqual(['busy', 'busy', 'waiting']);
  });

  it('falls back to records quiet for QUIET_MILLIS when /proc cannot tell', async () => {
    expect(await waitTracerDrained({ pid: () => undefined, lastLineAt: () => Date.now() - QUIET_MILLIS, state: () => 'unknown' })).toBe('quiet');
    const last = Date.now() - QUIET_MILLIS / 2; // the last record, half the quiet time ago
    expect(await waitTracerDrained({ pid: () => undefined, lastLineAt: () => last, state: () => 'unknown' })).toBe('quiet');
  });

  it('gives up at its limit on a tracer that never sleeps, and stops when the asker is gone', async () => {
    expect(await waitTracerDrained({ pid: () => 1, lastLineAt: () => Date.now(), state: () => 'busy', maxMillis: 30 })).toBe('timeout');
    let gone = false;
    const r = waitTracerDrained({ pid: () => 1, lastLineAt: () => Date.now(), state: () => 'busy', cancelled: () => gone });
    gone = true;
    expect(await r).toBe('cancelled');
  });
});
