/**
 * Who follows `gostall run`'s command tree and feeds its probe records to run's pipeline:
 * a running agent (./run-via-agent) or run's own bpftrace (src/probe-runner).
 */
import { MAX_LINE_LENGTH } from '../events/parse.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { startTracer } from '../probe-runner/bpftrace.js';
import { checkTracingEnvironment, findBpftrace } from '../probe-runner/environment.js';
import type { AgentFollow } from './run-via-agent.js';

/** The kernel prints records from this latency on (diagnosis uses them below the span threshold). */
const KERNEL_THRESHOLD_CAP_NS = 1e6;

/** Whoever follows the command's tree: our own bpftrace, or a running agent. */
export interface Follower {
  /** rejects with the reason (and its fix) when the command cannot be traced */
  ready: Promise<void>;
  quiet(quietMillis: number, maxMillis: number): Promise<void>;
  /** stop reading; nothing more is needed */
  abandon(): void;
  /** stop before the command ran */
  stop(): Promise<void>;
  /** resolves with why, if the records end on their own */
  died: Promise<string>;
}

export function agentFollower(f: AgentFollow): Follower {
  return { ready: Promise.resolve(), quiet: f.quiet, abandon: f.close, stop: async () => f.close(), died: f.ended };
}

export function startOwnTracer(shimPid: number, opts: { thresholdNs: number; perfPagesPerCpu: number | undefined }, pipeline: Pipeline, onLine: (line: string) => void): Follower {
  const problems = checkTracingEnvironment();
  if (problems.length > 0) {
    const p = problems[0]!;
    const never = new Promise<string>(() => {});
    return { ready: Promise.reject(new Error(`${p.what}; fix: ${p.fix}`)), quiet: async () => {}, abandon() {}, stop: async () => {}, died: never };
  }
  const kernelThreshold = Math.min(opts.thresholdNs, KERNEL_THRESHOLD_CAP_NS);
  const tracer = startTracer({
    bpftrace: findBpftrace()!,
    params: { rootPid: shimPid, syscallThresholdNs: kernelThreshold, offcpuThresholdNs: kernelThreshold },
    perfPagesPerCpu: opts.perfPagesPerCpu,
    maxLineBytes: MAX_LINE_LENGTH + 1,
    onLine(line, stream) {
      if (stream === 'stdout') onLine(line);
    },
    onTooLong(stream) {
      if (stream === 'stdout') pipeline.malformed('line too long');
    },
  });
  return {
    ready: tracer.ready.catch((err: Error) => { throw new Error(`${err.message}; fix: run \`gostall doctor\` to see what is missing`); }),
    quiet: (q, m) => tracer.quiet(q, m),
    abandon: () => tracer.abandon(),
    stop: () => tracer.stop().then(() => undefined, () => undefined),
    died: tracer.exited.then((x) => `bpftrace exited while the command was running (${x.code !== undefined ? `code ${x.code}` : x.signal}): the trace ends there`),
  };
}

