/** The perf ring buffer's size per CPU (its own module: option parsing must not load the tracer's runner and execa). */

/** Perf ring buffer pages per CPU when nothing says otherwise: 1024 (4 MiB/CPU) lost nothing on a cold go build -a. */
export const DEFAULT_PERF_PAGES_PER_CPU = 1024;

/**
 * Pages per CPU from bpftrace's own BPFTRACE_PERF_RB_PAGES, so a user who sizes the buffer
 * for bpftrace sizes it for gostall too; undefined when unset. The kernel wants a power of two.
 */
export function perfPagesFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.BPFTRACE_PERF_RB_PAGES;
  if (raw === undefined || raw === '') return undefined;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 65_536 && (n & (n - 1)) === 0)) {
    throw new Error(`BPFTRACE_PERF_RB_PAGES must be a power of two between 1 and 65536 (pages per CPU), got ${JSON.stringify(raw.slice(0, 20))}`);
  }
  return n;
}
