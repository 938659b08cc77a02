/**
 * When has gostall read every record its tracer (bpftrace) had produced by now? Asked by
 * `gostall run` once its command's tree has ended: of its own tracer, or through the agent
 * (`flush`, src/agent/run-protocol.ts) of the agent's. Before, both waited for the records
 * to go quiet for a fixed 100 ms, which every run paid.
 *
 * bpftrace's perf buffers are per CPU, so no single marker record proves the others are
 * read. What does: bpftrace blocked in epoll_wait. Each record wakes it (the buffers are
 * opened with one wakeup per event), so while any buffer holds an unread record it is not
 * blocked there; it prints with -B line, so what it has read is in our pipe by the time it
 * blocks. The check reads /proc/PID/syscall (its main thread polls the buffers; the file
 * says "running" for a task on a CPU). Then one more turn of our event loop reads the pipe.
 * The one gap: the kernel sends that wakeup from irq_work, microseconds after the record;
 * run asks milliseconds after the tree's last exit record reached it, long after.
 * When /proc cannot tell (another architecture, no permission, the tracer restarting), the
 * old rule stands in: no record for QUIET_MILLIS.
 */
import { readFileSync } from 'node:fs';

/** epoll_wait, epoll_pwait, epoll_pwait2 (x86_64: asm/unistd_64.h; arm64 has only the p variants). */
const EPOLL_WAITS: Record<string, number[]> = { x64: [232, 281, 441], arm64: [22, 441] };
/** the fallback: records this long apart are taken as the end (what run waited before) */
export const QUIET_MILLIS = 100;
/** never longer than this, whatever the tracer does (a busy tracer: records still flow) */
export const DRAIN_MAX_MILLIS = 1000;
const RECHECK_MILLIS = 1;

export type TracerState = 'waiting' | 'busy' | 'unknown';

/** Whether the tracer's main thread sleeps in epoll_wait (nothing unread in its buffers). */
export function tracerState(pid: number | undefined, procRoot = '/proc', arch: string = process.arch): TracerState {
  const waits = EPOLL_WAITS[arch];
  if (pid === undefined || !waits) return 'unknown';
  let text: string;
  try { text = readFileSync(`${procRoot}/${pid}/task/${pid}/syscall`, 'latin1'); } catch { return 'unknown'; }
  const first = text.trim().split(' ')[0] ?? '';
  if (first === 'running' || first === '-1') return 'busy'; // on a CPU, or blocked outside a syscall
  const nr = Number(first);
  if (!Number.isInteger(nr)) return 'unknown';
  return waits.includes(nr) ? 'waiting' : 'busy';
}

/** Lets the event loop run one poll phase: data waiting in our pipes is read (and handled) by then. */
const pollTurn = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

export async function waitTracerDrained(x: {
  pid: () => number | undefined; lastLineAt: () => number; state?: (pid: number | undefined) => TracerState; maxMillis?: number;
  /** the asker went away: stop looking */
  cancelled?: () => boolean;
}): Promise<'drained' | 'quiet' | 'timeout' | 'cancelled'> {
  const state = x.state ?? ((pid) => tracerState(pid));
  const deadline = Date.now() + (x.maxMillis ?? DRAIN_MAX_MILLIS);
  for (;;) {
    await pollTurn();
    if (x.cancelled?.()) return 'cancelled';
    const s = state(x.pid());
    if (s === 'waiting') {
      await pollTurn();
      return 'drained';
    }
    const now = Date.now();
    if (s === 'unknown' && now - x.lastLineAt() >= QUIET_MILLIS) return 'quiet';
    if (now >= deadline) return 'timeout';
    await new Promise((r) => setTimeout(r, s === 'unknown' ? Math.min(20, QUIET_MILLIS - (now - x.lastLineAt())) : RECHECK_MILLIS));
  }
}
