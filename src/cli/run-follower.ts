/**
 * Who follows `gostall run`'s command tree and feeds its probe records to run's pipeline:
 * a running agent (./run-via-agent) or run's own bpftrace (./run-own-tracer, loaded only when
 * no agent follows: it brings execa and the tracer's runner, ~0.15 s of module loading).
 */
import type { AgentFollow } from './run-via-agent.js';
import { DRAIN_MAX_MILLIS, QUIET_MILLIS } from '../probe-runner/tracer-drain.js';

/** Whoever follows the command's tree: our own bpftrace, or a running agent. */
export interface Follower {
  /** rejects with the reason (and its fix) when the command cannot be traced */
  ready: Promise<void>;
  /**
   * the command's tree has ended: resolves once every record produced by now has reached us
   * (../probe-runner/tracer-drain.ts; where that cannot be seen, once the records have been
   * quiet for QUIET_MILLIS), at most DRAIN_MAX_MILLIS from now
   */
  drained(): Promise<void>;
  /** stop reading; nothing more is needed */
  abandon(): void;
  /** stop before the command ran */
  stop(): Promise<void>;
  /** resolves with why, if the records end on their own */
  died: Promise<string>;
}

export function agentFollower(f: AgentFollow): Follower {
  return { ready: Promise.resolve(), drained: () => f.quiet(QUIET_MILLIS, DRAIN_MAX_MILLIS), abandon: f.close, stop: async () => f.close(), died: f.ended };
}
