/**
 * Whether `gostall run` here will go through a running agent, for `gostall doctor`: run
 * itself never says so when no agent answers (it traces on its own without a word), and a
 * user left wondering why each command costs a probe compile should be able to ask.
 * One `status` request on the agent's socket (src/agent/run-protocol.ts).
 */
import { connect } from 'node:net';
import { MAX_REPLY_BYTES, RUN_PROTOCOL_VERSION, lineReader, parseReply } from '../agent/run-protocol.js';

export type AgentStatus =
  /** no socket there: no agent on this machine (or it serves another path) */
  | { kind: 'none' }
  /** a file there that nobody listens on (an agent that stopped) */
  | { kind: 'not-listening' }
  /** the socket's permissions keep this user out */
  | { kind: 'not-allowed' }
  /** connected, but no answer (in time, or closed without one) */
  | { kind: 'silent' }
  /** an answer that is not a status: an agent from before the status request */
  | { kind: 'older' }
  | { kind: 'up'; tracerAttached: boolean; buildsTraces: boolean };

/** Asks the agent at path how it is; never rejects. */
export function askAgentStatus(path: string, answerMillis = 500): Promise<AgentStatus> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = connect(path);
    const give = (s: AgentStatus) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(s);
    };
    const timer = setTimeout(() => give({ kind: 'silent' }), answerMillis);
    let connected = false;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) give({ kind: 'silent' }); // hung up on us (ECONNRESET, EPIPE)
      else if (err.code === 'ENOENT') give({ kind: 'none' });
      else if (err.code === 'EACCES' || err.code === 'EPERM') give({ kind: 'not-allowed' });
      else give({ kind: 'not-listening' });
    });
    socket.on('close', () => give({ kind: 'silent' }));
    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify({ v: RUN_PROTOCOL_VERSION, type: 'status' })}\n`);
    });
    socket.on('data', lineReader(MAX_REPLY_BYTES, (line) => {
      const m = parseReply(line);
      give(m?.type === 'status' ? { kind: 'up', tracerAttached: m.tracer === 'attached', buildsTraces: m.builds } : { kind: 'older' });
    }, () => give({ kind: 'older' })));
  });
}

/** A line of doctor's: anything but `ok` says what to do about it. */
export type AgentStatusLine = { level: 'ok'; what: string } | { level: 'note' | 'warn'; what: string; fix: string };

/** doctor's line for it: what run will do, and what to do about it when that is not the fast path. */
export function agentStatusLine(path: string, s: AgentStatus): AgentStatusLine {
  const tracesOnItsOwn = 'traces on its own (its own bpftrace, compiled for each command: ~0.8 s more per command)';
  switch (s.kind) {
    case 'none':
      return { level: 'note', what: `no gostall agent at ${path}: gostall run ${tracesOnItsOwn}`, fix: 'to skip the compile, run the agent (docs/agent.md); GOSTALL_AGENT_SOCKET names another socket' };
    case 'not-listening':
      return { level: 'note', what: `nothing listens at ${path} (left by an agent that stopped): gostall run ${tracesOnItsOwn}`, fix: 'start the agent again (docs/agent.md)' };
    case 'not-allowed':
      return { level: 'warn', what: `the agent at ${path} does not take requests from this user: gostall run ${tracesOnItsOwn}`, fix: 'ask for membership of the agent\'s run.group (docs/agent.md), or run as root' };
    case 'silent':
      return { level: 'warn', what: `the agent at ${path} did not answer a status request: run waits 100 ms for an answer, then ${tracesOnItsOwn}`, fix: 'look at the agent\'s log and its /metrics; restart it if it is stuck' };
    case 'older':
      return { level: 'ok', what: `a gostall agent serves run at ${path} (an older version: it does not say whether its tracer is attached)` };
    case 'up':
      if (!s.tracerAttached) {
        return { level: 'warn', what: `the agent at ${path} has not attached its tracer (it is starting, or restarting after bpftrace stopped): until it has, gostall run ${tracesOnItsOwn}`, fix: 'wait a few seconds; if it stays so, the agent\'s log says why bpftrace stopped' };
      }
      return { level: 'ok', what: `a gostall agent serves run at ${path}, its tracer attached: run follows commands through it (no probe compile per command${s.buildsTraces ? '; bin/gostall without Node' : ''})` };
  }
}
