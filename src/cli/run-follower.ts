/**
 * Who follows `gostall run`'s command tree and feeds its probe records to run's pipeline:
 * a running agent (./run-via-agent) or run's own bpftrace (./run-own-tracer, loaded only when
 * no agent follows: it brings execa and the tracer's runner, ~0.15 s of module loading).
 */
import type { AgentFollow } from './run-via-agent.js';

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
