/**
 * `gostall run` through a running agent (src/agent/run-server.ts): ask it to follow the
 * shim's tree, then read that tree's probe records from the socket and feed them to run's
 * own pipeline, exactly as if they came from run's own bpftrace.
 *
 * No agent (no socket, nobody listening) or no answer within ANSWER_MILLIS: run traces on
 * its own, without a word. Refused by the kernel (the socket's permissions) or by the
 * agent: one line saying why, then run traces on its own. The agent going away later ends
 * the records; run says so and still waits for the command.
 */
import { connect, type Socket } from 'node:net';
import { MAX_REPLY_BYTES, RUN_PROTOCOL_VERSION, SHIM_WAIT_MILLIS, lineReader, parseReply, runSocketPath } from '../agent/run-protocol.js';

/** run must not wait for an agent that is busy or stuck: no `accepted` by then and it traces on its own. */
export const ANSWER_MILLIS = 100;
/** After `accepted`: the agent answers `following` or an error within SHIM_WAIT_MILLIS; this is its slack. */
const FOLLOWING_MILLIS = SHIM_WAIT_MILLIS + 500;

export interface AgentFollow {
  syscallThresholdNs: number;
  offcpuThresholdNs: number;
  /** resolves with why the records stopped, when they stop before close() */
  ended: Promise<string>;
  /**
   * CMD's tree has ended: resolves once the agent says every record up to now is sent
   * (`flushed`), or no record has come for quietMillis (an agent from before flush), at
   * most maxMillis from now
   */
  quiet(quietMillis: number, maxMillis: number): Promise<void>;
  close(): void;
}

export type AskResult = { ok: true; follow: AgentFollow } | { ok: false; notice: string | undefined };

/**
 * Ask the agent to follow pid. onFollowing runs (synchronously) before the first record is
 * handed to onLine.
 */
export function askAgent(pid: number, handlers: { onFollowing(t: { syscallThresholdNs: number; offcpuThresholdNs: number }): void; onLine(line: string): void },
  env: NodeJS.ProcessEnv = process.env, answerMillis = ANSWER_MILLIS): Promise<AskResult> {
  const path = runSocketPath(env);
  return new Promise((resolve) => {
    let settled = false;
    let closing = false;
    let lastLineAt = Date.now();
    let onFlushed: Array<() => void> = [];
    let endedWith!: (why: string) => void;
    const ended = new Promise<string>((r) => { endedWith = r; });
    const socket: Socket = connect(path);
    const give = (r: AskResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    let timer = setTimeout(() => give({ ok: false, notice: undefined }), answerMillis);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EACCES' || err.code === 'EPERM') {
        give({ ok: false, notice: `the agent at ${path} does not take requests from this user (root and members of its run.group may ask); tracing on its own` });
      } else give({ ok: false, notice: undefined });
    });
    socket.on('close', () => {
      if (!settled) give({ ok: false, notice: undefined });
      else if (!closing) endedWith('the agent stopped following the command (it went away or restarted): the trace ends there');
    });
    socket.on('connect', () => socket.write(`${JSON.stringify({ v: RUN_PROTOCOL_VERSION, type: 'follow', pid })}\n`));
    const onMessage = (text: string) => {
      const m = parseReply(text);
      if (!m) {
        if (!settled) give({ ok: false, notice: `the agent at ${path} answered something this gostall does not understand; tracing on its own` });
        else { endedWith('the agent sent a malformed message: the trace ends there'); socket.destroy(); }
        return;
      }
      if (m.type === 'accepted' && !settled) {
        clearTimeout(timer);
        timer = setTimeout(() => give({ ok: false, notice: `the agent at ${path} accepted but did not start following in time; tracing on its own` }), FOLLOWING_MILLIS);
      } else if (m.type === 'error') {
        if (!settled) give({ ok: false, notice: `the agent at ${path} refused: ${m.message}; tracing on its own` });
        else endedWith(`the agent stopped following the command: ${m.message}`);
      } else if (m.type === 'following' && !settled) {
        handlers.onFollowing(m);
        give({ ok: true, follow: {
          syscallThresholdNs: m.syscallThresholdNs, offcpuThresholdNs: m.offcpuThresholdNs, ended,
          quiet: (quietMillis, maxMillis) => new Promise((done) => {
            let timer: NodeJS.Timeout | undefined;
            let finished = false;
            const finish = () => {
              if (finished) return;
              finished = true;
              clearTimeout(timer);
              done();
            };
            onFlushed.push(finish);
            if (!socket.destroyed) socket.write(`${JSON.stringify({ v: RUN_PROTOCOL_VERSION, type: 'flush' })}\n`);
            const until = Date.now() + maxMillis;
            const check = () => {
              if (Date.now() - lastLineAt >= quietMillis || Date.now() >= until) finish();
              else timer = setTimeout(check, Math.min(quietMillis, 20));
            };
            check();
          }),
          close() { closing = true; socket.destroy(); },
        } });
      } else if (m.type === 'flushed' && settled) {
        const waiting = onFlushed;
        onFlushed = [];
        for (const w of waiting) w();
      } else if (m.type === 'lines' && settled) {
        lastLineAt = Date.now();
        for (const l of m.lines) handlers.onLine(l);
      }
    };
    socket.on('data', lineReader(MAX_REPLY_BYTES, onMessage, () => { endedWith('the agent sent an oversized message: the trace ends there'); socket.destroy(); }));
  });
}
