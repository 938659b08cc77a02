/**
 * The protocol between `gostall run` and a running agent (docs/agent.md, "run through the
 * agent"): newline-delimited JSON on a Unix stream socket, every message versioned and
 * validated with zod on both ends.
 *
 *   run → agent   {"v":1,"type":"follow","pid":P}     P: the shim run started (comm gostall-shim)
 *   agent → run   {"v":1,"type":"accepted","pid":P}     the request is valid and allowed (at once)
 *   agent → run   {"v":1,"type":"following","pid":P,"syscallThresholdNs":N,"offcpuThresholdNs":N}
 *                 once its tracer has seen P start (at most SHIM_WAIT_MILLIS later)
 *                 then {"v":1,"type":"lines","lines":[…]}… the probe records of P's tree
 *                 or {"v":1,"type":"error","message":"…"} and the agent closes the connection
 *   run → agent   {"v":1,"type":"flush"}   (once following) CMD's tree has ended
 *   agent → run   {"v":1,"type":"flushed"}  every record its tracer had produced when the
 *                 flush arrived has been sent before this (see src/probe-runner/tracer-drain.ts)
 *   run closes the connection when it has what it needs; the agent then forgets the tree.
 *
 *
 * bin/gostall's fast path (no Node on the user's side) asks the agent to build the trace itself:
 *   run → agent   {"v":1,"type":"run","pid":P,"threshold":"50ms"?,"history":true,"json":true?,"html":true?}
 *   agent → run   accepted, following or error, as above; no records are sent
 *   run → agent   {"v":1,"type":"finish","out":"PATH"}   CMD has exited; PATH is where
 *                 run writes the trace (named in the summary; the agent never opens it)
 *   agent → run   {"v":1,"type":"result","summaryBytes":S,"jsonBytes":J?,"htmlBytes":H?,"traceBytes":T,"history":[[F,N]…]?},
 *                 then S bytes of the summary, J bytes of the --json diagnosis and H bytes of
 *                 the --html page (each when the request asked for it), T bytes of OTLP JSON
 *                 lines and, for each [F,N], N bytes of
 *                 the build record run writes as F in the user's build history; or an error.
 *                 The agent closes.
 * With "clientHistory":true in the request, the build history is the user's own, which run
 * reads and writes (the agent never opens a user's files), before the result:
 *   agent → run   {"v":1,"type":"want-history","files":[F…]}   the records the trace's builds
 *                 compare with (file names: 32 hex digits and .json)
 *   run → agent   {"v":1,"type":"history","records":{F:"the file's text",…}}   those it has
 *                 (one line of at most MAX_HISTORY_MESSAGE_BYTES); one not sent within
 *                 HISTORY_WAIT_MILLIS leaves the build uncompared
 *
 * Anyone who may connect can also ask how the agent is (`gostall doctor` does):
 *   run → agent   {"v":1,"type":"status"}
 *   agent → run   {"v":1,"type":"status","tracer":"attached"|"not-attached","builds":B}
 *                 B: whether it builds traces itself (bin/gostall's fast path); it closes.
 *                 An agent from before answers an error (malformed request).
 *
 * flush/flushed came later within v1: an agent from before ignores the flush (it reads
 * nothing after the request) and run then waits for its records to go quiet, as it did
 * before; a run from before never sends one.
 */
// zod's tree-shakable flavour: `gostall run` validates the agent's answers before CMD starts,
// and the bundled classic zod was ~15 ms of that wait (its messages: the English locale)
import * as z from 'zod/mini';
import { en } from 'zod/locales';

z.config(en());

export const RUN_PROTOCOL_VERSION = 1;
/** Where run looks for the agent unless GOSTALL_AGENT_SOCKET names another path. */
export const DEFAULT_RUN_SOCKET = '/run/gostall/run.sock';
/** A request is one short line: anything longer is refused before it is parsed. */
export const MAX_REQUEST_BYTES = 1024;
/** A client that has not sent its request by then is answered with an error. */
export const REQUEST_DEADLINE_MILLIS = 2000;
/** A reply line: a batch of probe records (each at most MAX_LINE_LENGTH) stays under this. */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024;

const pid = z.number().check(z.int(), z.minimum(1), z.maximum(4_194_304));

export const requestSchema = z.discriminatedUnion('type', [
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('follow'), pid }),
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('status') }),
  z.strictObject({
    v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('run'), pid,
    threshold: z.optional(z.string().check(z.maxLength(64))), history: z.boolean(),
    // bin/gostall's shim is a fork that named itself, which only an agent whose probe takes
    // renames (N records) can see start: an agent from before refuses the unknown field at
    // once, and bin/gostall goes to Node, whose shim is exec'd, instead of waiting it out
    named: z.optional(z.literal(true)),
    // --json: the diagnosis comes back with the trace (run writes it with its own uid); an
    // agent from before refuses the field at once, and bin/gostall goes to Node
    json: z.optional(z.literal(true)),
    // --html: the page comes back too, made from the trace as `gostall report --html` makes it
    // (an agent from before refuses the field at once, and bin/gostall goes to Node)
    html: z.optional(z.literal(true)),
    // the user's own build history, through the client (want-history); an agent from
    // before refuses the field at once, and bin/gostall goes to Node, which keeps it too
    clientHistory: z.optional(z.literal(true)),
  }),
]);
export type RunRequest = z.infer<typeof requestSchema>;
/** What run may send once the agent follows its command. */
export const laterRequestSchema = z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('flush') });

/** What a `run` request's client may send once the agent follows its command: once. */
export const finishRequestSchema = z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('finish'), out: z.string().check(z.minLength(1), z.maxLength(4096)) });

/** A build record's file in a user's history (src/pipeline/build-history.ts: fileNameOf). */
const historyFile = z.string().check(z.regex(/^[0-9a-f]{32}\.json$/));
/** The client's records: one line, at most this long (a 2,000-package record is ~600 KiB). */
export const MAX_HISTORY_MESSAGE_BYTES = 4 * 1024 * 1024;
/** How long the agent waits for the records it asked for; then the build is not compared. */
export const HISTORY_WAIT_MILLIS = 5000;
export const historyMessageSchema = z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('history'), records: z.record(historyFile, z.string()) });

/** How long the agent waits for its tracer to report the shim's exec before it gives up. */
export const SHIM_WAIT_MILLIS = 1000;

export const replySchema = z.discriminatedUnion('type', [
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('accepted'), pid }),
  z.strictObject({
    v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('following'), pid,
    syscallThresholdNs: z.number().check(z.int(), z.minimum(0)), offcpuThresholdNs: z.number().check(z.int(), z.minimum(0)),
  }),
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('lines'), lines: z.array(z.string()) }),
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('error'), message: z.string().check(z.maxLength(1000)) }),
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('flushed') }),
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('status'), tracer: z.enum(['attached', 'not-attached']), builds: z.boolean() }),
  z.strictObject({
    v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('result'),
    summaryBytes: z.number().check(z.int(), z.minimum(0)), jsonBytes: z.optional(z.number().check(z.int(), z.minimum(0))),
    htmlBytes: z.optional(z.number().check(z.int(), z.minimum(0))),
    traceBytes: z.number().check(z.int(), z.minimum(0)),
    history: z.optional(z.array(z.tuple([historyFile, z.number().check(z.int(), z.minimum(0))]))),
  }),
  z.strictObject({ v: z.literal(RUN_PROTOCOL_VERSION), type: z.literal('want-history'), files: z.array(historyFile) }),
]);
export type RunReply = z.infer<typeof replySchema>;

/** One line from the agent as a reply, or undefined when it is not JSON or not a reply this protocol has. */
export function parseReply(line: string): RunReply | undefined {
  let json: unknown;
  try { json = JSON.parse(line); } catch { return undefined; }
  const parsed = replySchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export function runSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.GOSTALL_AGENT_SOCKET || DEFAULT_RUN_SOCKET;
}

/**
 * Splits a byte stream into lines of at most maxBytes; onTooLong fires once for a longer
 * line (its rest is skipped). Used by both ends.
 */
export function lineReader(maxBytes: number, onLine: (line: string) => void, onTooLong: () => void): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  return (chunk) => {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); ; nl = chunk.indexOf(10, start)) {
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        size += end - start;
        if (size > maxBytes) { skipping = true; parts = []; onTooLong(); } else parts.push(chunk.subarray(start, end));
      }
      if (nl < 0) return;
      if (!skipping) onLine(Buffer.concat(parts).toString('utf8'));
      parts = []; size = 0; skipping = false;
      start = nl + 1;
    }
  };
}
