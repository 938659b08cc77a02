/**
 * The user's own build history for a trace the agent builds (bin/gostall's fast path, a `run`
 * request with clientHistory): the agent never opens a file in a user's directory, so the
 * client, which runs as that user, reads the records the agent names (want-history → history)
 * and writes the new ones that come back with the trace. A build traced standalone and one
 * traced through the agent then compare with the same records (docs/agent.md).
 *
 * What the client sends is a local user's to choose: only the files asked for, once, within
 * HISTORY_WAIT_MILLIS; each is checked by the history as a file would be (size, JSON, schema,
 * the build's key), and a bad one is ignored with a notice in the agent's log.
 */
import type { ClientHistory } from '../pipeline/build-history.js';
import { HISTORY_WAIT_MILLIS, RUN_PROTOCOL_VERSION, historyMessageSchema, type RunReply } from './run-protocol.js';

export interface ClientHistoryLink {
  /** for the run's build history (src/pipeline/build-history.ts) */
  history: ClientHistory;
  /** the client's `history` message: what is wrong with it, or undefined when taken (or late, and ignored) */
  receive(json: unknown): string | undefined;
  /** the records made for the client to write, in the order they were made */
  outgoing(): { file: string; bytes: Buffer }[];
  /** the client is gone: a pending fetch ends with nothing */
  close(): void;
}

export function linkClientHistory(uid: number, send: (reply: RunReply) => void, waitMillis = HISTORY_WAIT_MILLIS): ClientHistoryLink {
  let pending: { files: Set<string>; done: (records: Map<string, Buffer> | undefined) => void } | undefined;
  let asked = false;
  let answered = false;
  let closed = false;
  const out: { file: string; bytes: Buffer }[] = [];
  return {
    history: {
      scope: `uid-${uid}`,
      fetch(files) {
        pending?.done(undefined);
        if (closed) return Promise.resolve(undefined);
        asked = true;
        return new Promise((resolve) => {
          const timer = setTimeout(() => pending?.done(undefined), waitMillis);
          pending = { files: new Set(files), done: (records) => { clearTimeout(timer); pending = undefined; resolve(records); } };
          send({ v: RUN_PROTOCOL_VERSION, type: 'want-history', files });
        });
      },
      write(file, text) { out.push({ file, bytes: Buffer.from(text) }); },
    },
    receive(json) {
      const parsed = historyMessageSchema.safeParse(json);
      if (!parsed.success) return `malformed build records: ${parsed.error.issues[0]?.path.join('.') || 'top'}: ${parsed.error.issues[0]?.message}`;
      if (answered) return 'build records sent twice';
      if (!asked) return 'build records sent unasked';
      answered = true;
      // records that come after the wait ran out: the trace went without them
      if (!pending) return undefined;
      const records = new Map<string, Buffer>();
      for (const [file, text] of Object.entries(parsed.data.records)) {
        if (!pending.files.has(file)) return `a build record not asked for (${file})`;
        records.set(file, Buffer.from(text));
      }
      pending.done(records);
      return undefined;
    },
    outgoing: () => out,
    close: () => { closed = true; pending?.done(undefined); },
  };
}
