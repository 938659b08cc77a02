/** run's own bpftrace following the command's tree, when no agent does. */
import { MAX_LINE_LENGTH } from '../events/parse.js';
import { startTracer } from '../probe-runner/bpftrace.js';
import { checkTracingEnvironment, findBpftrace } from '../probe-runner/environment.js';
import type { Follower } from './run-follower.js';

/** The kernel prints records from this latency on (diagnosis uses them below the span threshold). */
const KERNEL_THRESHOLD_CAP_NS = 1e6;

/** A follower whose tracer never started: run reports why and exits 2. */
function notStarted(message: string): Follower {
  const never = new Promise<string>(() => {});
  return { ready: Promise.reject(new Error(message)), drained: async () => {}, abandon() {}, stop: async () => {}, died: never };
}

export function startOwnTracer(shimPid: number, opts: { thresholdNs: number; perfPagesPerCpu: number | undefined }, malformed: (reason: string) => void, onLine: (line: string) => void): Follower {
  const problems = checkTracingEnvironment();
  if (problems.length > 0) {
    const p = problems[0]!;
    return notStarted(`${p.what}; fix: ${p.fix}`);
  }
  const kernelThreshold = Math.min(opts.thresholdNs, KERNEL_THRESHOLD_CAP_NS);
  let tracer: ReturnType<typeof startTracer>;
  try {
    tracer = startTracer({
      bpftrace: findBpftrace()!,
      params: { rootPid: shimPid, syscallThresholdNs: kernelThreshold, offcpuThresholdNs: kernelThreshold },
      perfPagesPerCpu: opts.perfPagesPerCpu,
      maxLineBytes: MAX_LINE_LENGTH + 1,
      onLine(line, stream) {
        if (stream === 'stdout') onLine(line);
      },
      onTooLong(stream) {
        if (stream === 'stdout') malformed('line too long');
      },
    });
  } catch (err) {
    // the probe's parameters could not be worked out (this kernel's task layout, see kernel-layout.ts)
    return notStarted(`${(err as Error).message}; fix: run \`gostall doctor\` to see what is missing`);
  }
  return {
    ready: tracer.ready.catch((err: Error) => { throw new Error(`${err.message}; fix: run \`gostall doctor\` to see what is missing`); }),
    drained: () => tracer.drained(),
    abandon: () => tracer.abandon(),
    stop: () => tracer.stop().then(() => undefined, () => undefined),
    died: tracer.exited.then((x) => `bpftrace exited while the command was running (${x.code !== undefined ? `code ${x.code}` : x.signal}): the trace ends there`),
  };
}

