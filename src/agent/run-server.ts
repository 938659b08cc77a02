/**
 * The agent's socket for `gostall run` (protocol: ./run-protocol.ts; records: ./run-router.ts).
 *
 * Who may ask: the kernel checks it. connect(2) on a Unix socket needs write permission on
 * the socket file, so the socket is 0660 root:<run.group> (0600 without a group) in a
 * directory of its own (0750 / 0700): root and the group's members connect, anyone else
 * gets EACCES from the kernel before a byte is read. Node has no getsockopt(SO_PEERCRED),
 * and the npm modules that expose it are unmaintained native add-ons; a uid the client
 * writes in its request would be a claim, so none is asked for. The agent also checks the
 * process it is asked to follow in /proc: it must be a gostall-shim whose real uid may ask.
 * Every request is one line of at most MAX_REQUEST_BYTES within REQUEST_DEADLINE_MILLIS;
 * anything else is answered with an error and the connection closed; the agent goes on.
 * Once following, the only request is `flush` (the same limits): answered with `flushed`
 * when the tracer's records up to then are sent (tracerDrained), or with an error.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { inCgroup } from '../vocabulary/procfs.js';
import { sharedDirectoryMode } from '../export/private-file.js';
import type { RunRouter, FollowClient } from './run-router.js';
import { SHIM_COMM } from './run-router.js';
import { MAX_HISTORY_MESSAGE_BYTES, MAX_REQUEST_BYTES, REQUEST_DEADLINE_MILLIS, RUN_PROTOCOL_VERSION, SHIM_WAIT_MILLIS, finishRequestSchema, laterRequestSchema, lineReader, requestSchema, type RunReply } from './run-protocol.js';
import { clientEnvironment, startAgentRun, type AgentRun } from './run-session.js';
import { linkClientHistory, type ClientHistoryLink } from './client-history.js';
import { resolveResourceSettings } from '../export/settings.js';
import type { WallClock } from '../model/clock.js';
import { parseDuration } from '../vocabulary/units.js';

/** A run that stops reading this far behind is cut off rather than growing the agent. */
const MAX_CLIENT_BACKLOG_BYTES = 64 * 1024 * 1024;
/** run sends one flush; more than this many unanswered is not a run. */
const MAX_PENDING_FLUSHES = 4;
/** Traces the agent builds at once for bin/gostall's fast path; beyond, run is told to trace on its own. */
export const MAX_AGENT_RUNS = 32;

export interface RunServerOptions {
  path: string;
  /** members of this group may ask too (besides root) */
  group: { name: string; gid: number; members: string[] } | undefined;
  router: RunRouter;
  thresholds: { syscallThresholdNs: number; offcpuThresholdNs: number };
  /** resolves once every record the tracer had produced when called has reached the router (or cancelled() says stop) */
  tracerDrained: (cancelled: () => boolean) => Promise<void>;
  /**
   * whether the tracer is attached now. The socket listens while the agent's bpftrace still
   * compiles (~1.5 s at start, and again after a restart): a run asked then is refused at
   * once, and run traces on its own, instead of waiting SHIM_WAIT_MILLIS for a start no
   * tracer can see and hearing a reason that is not the one.
   */
  tracerAttached: () => boolean;
  log: (line: string) => void;
  /**
   * the one cgroup the agent traces (config `cgroup`): its directory, and its path as
   * /proc/PID/cgroup shows it. A shim outside it is refused at once: the tracer would
   * never see it start.
   */
  cgroup?: { dir: string; procPath: string };
  /**
   * the tracer sees a process that names itself gostall-shim start (its probe has the rename
   * hook): without it a `run` request for such a shim (named) is refused at once, and
   * bin/gostall asks through Node, whose shim is exec'd
   */
  namedShims?: boolean;
  /** for `run` requests (the agent builds the trace): its clock, and where each user's build history lives */
  sessions?: { clock: WallClock; historyDir(uid: number): string; defaultThresholdNs: number };
}

export interface RunServer {
  close(): Promise<void>;
  readonly stats: { requests: number; refused: number; following: number; built: number };
}

/** Refusals the agent's log tells, at most, per minute; the rest are counted in the next line told. */
export const REFUSALS_LOGGED_PER_MINUTE = 10;

/**
 * The agent's log line for a refused request: an operator asking why runs trace on their own
 * finds the reason there (bin/gostall says nothing when its `run` request is refused before
 * `accepted`: it asks again through Node). A request's text is a local user's to choose:
 * control characters become '?', the line is cut at 300 characters, and a flood of bad
 * requests costs at most REFUSALS_LOGGED_PER_MINUTE lines a minute.
 */
export function createRefusalLog(log: (line: string) => void, nowMillis: () => number = Date.now): (message: string) => void {
  let windowStart = -Infinity;
  let told = 0;
  let untold = 0;
  return (message) => {
    const now = nowMillis();
    if (now - windowStart >= 60_000) { windowStart = now; told = 0; }
    if (told >= REFUSALS_LOGGED_PER_MINUTE) { untold++; return; }
    told++;
    const more = untold > 0 ? ` (${untold} more refused before this one, not logged)` : '';
    untold = 0;
    log(`refused a run request: ${message.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 300)}${more}`);
  };
}

/** Group by name from /etc/group (members) — the agent's configuration names it. */
export function lookupGroup(name: string, groupFile = '/etc/group'): { name: string; gid: number; members: string[] } | undefined {
  let text = '';
  try { text = readFileSync(groupFile, 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { name, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) };
  }
  return undefined;
}

/** Real uid and gid of a process, its comm; undefined when it is gone. */
function procIdentity(pid: number): { uid: number; gid: number; comm: string } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
    return { uid, gid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() };
  } catch { return undefined; }
}

function userName(uid: number): string | undefined {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) === uid)?.[0];
  } catch { return undefined; }
}

/** What was wrong with a request that did not validate, in one line. */
function malformed(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  return `malformed request: ${error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`).join('; ')}`;
}

/** chmod and chown (owner root) only where the file differs: each needs a capability when it changes something. */
function setModeAndGroup(path: string, mode: number, gid: number | undefined): void {
  const st = statSync(path);
  if (gid !== undefined && (st.uid !== 0 || st.gid !== gid)) chownSync(path, 0, gid);
  if ((statSync(path).mode & 0o7777) !== mode) chmodSync(path, mode);
}

/**
 * The socket's directory is the agent's own: made 0700, or 2750 with the group, so the socket
 * bound in it gets the group without a chown. A directory made beforehand that way (root:GROUP
 * 2750: the Dev Container Feature's) is left as it is: an agent without CAP_CHOWN and
 * CAP_FSETID (a container's) could neither give it the group nor keep the bit while changing
 * its mode. A directory that holds anything besides the socket is someone else's (a socket
 * at /run/gostall.sock): the agent, as root, must not close /run to everyone; the socket's own
 * mode guards it there. One that other users may write in (/tmp) is refused: they could put
 * their own socket in its place.
 */
function prepareSocketDir(socketPath: string, gid: number | undefined): void {
  const dir = dirname(socketPath);
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) === undefined) {
    const shared = sharedDirectoryMode(statSync(dir).mode);
    if (shared) throw new Error(`other users may write in ${dir} (mode ${shared}): give the socket a directory of its own, such as /run/gostall/run.sock`);
    if (readdirSync(dir).some((name) => name !== basename(socketPath))) return;
  }
  setModeAndGroup(dir, gid !== undefined ? 0o2750 : 0o700, gid);
}

/** How long a live agent has to accept a connection before its socket is taken for a stale one. */
const LIVE_CHECK_MILLIS = 500;

/**
 * A socket file left by an agent that is gone is replaced; one that another running agent
 * still listens on is not (two agents on one host would otherwise take each other's runs
 * away, and the first to stop would remove the socket the other listens on).
 */
async function takeOverStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) return; // listen() then fails with EADDRINUSE: nothing is removed
  } catch { return; }
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    const done = (v: boolean) => { clearTimeout(timer); probe.destroy(); resolve(v); };
    const timer = setTimeout(() => done(false), LIVE_CHECK_MILLIS);
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
  if (live) throw new Error('another gostall agent already serves run requests there');
  unlinkSync(path);
}

export async function startRunServer(opts: RunServerOptions): Promise<RunServer> {
  const stats = { requests: 0, refused: 0, following: 0, built: 0 };
  let sessions = 0;
  prepareSocketDir(opts.path, opts.group?.gid);
  await takeOverStaleSocket(opts.path);

  const mayAsk = (uid: number, gid: number): boolean => {
    if (uid === 0) return true;
    if (!opts.group) return false;
    if (gid === opts.group.gid) return true;
    const name = userName(uid);
    return name !== undefined && opts.group.members.includes(name);
  };

  const logRefusal = createRefusalLog(opts.log);
  /** every refusal, before or after `following`: counted and told to the log */
  const noteRefusal = (message: string): void => { stats.refused++; logRefusal(message); };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    handle(socket);
  });
  function handle(socket: Socket): void {
    stats.requests++;
    let answered = false;
    let client: FollowClient | undefined;
    const reply = (r: RunReply) => { if (!socket.destroyed) socket.write(`${JSON.stringify(r)}\n`); };
    const refuse = (message: string) => {
      if (answered) return;
      answered = true;
      noteRefusal(message);
      reply({ v: RUN_PROTOCOL_VERSION, type: 'error', message });
      socket.end();
    };
    const deadline = setTimeout(() => refuse(`no request within ${REQUEST_DEADLINE_MILLIS} ms`), REQUEST_DEADLINE_MILLIS);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(deadline);
      if (client) { opts.router.release(client); stats.following--; }
    });
    const read = lineReader(MAX_REQUEST_BYTES, (line) => void onRequest(line), () => refuse(`request longer than ${MAX_REQUEST_BYTES} bytes`));
    const readLater = lineReader(MAX_REQUEST_BYTES, (line) => onLater(line), () => refuseLater(`request longer than ${MAX_REQUEST_BYTES} bytes`));
    // a `run` also sends its build records in one line (want-history)
    const readSession = lineReader(MAX_HISTORY_MESSAGE_BYTES, (line) => onLater(line), () => refuseLater(`message longer than ${MAX_HISTORY_MESSAGE_BYTES} bytes`));
    // before `following` nothing more is read; after it, only flushes (or, for `run`, one finish and the build records asked for)
    socket.on('data', (chunk: Buffer) => { if (!answered) read(chunk); else if (client && !laterRefused) (session ? readSession : readLater)(chunk); });
    let session: AgentRun | undefined;
    let history: ClientHistoryLink | undefined;
    let laterRefused = false;
    let pendingFlushes = 0;
    let flushes = Promise.resolve();
    function refuseLater(message: string): void {
      if (laterRefused) return;
      laterRefused = true;
      noteRefusal(message);
      client?.fail(message);
    }
    function onLater(line: string): void {
      if (laterRefused) return;
      let json: unknown;
      try { json = JSON.parse(line); } catch { return refuseLater('malformed request: not JSON'); }
      if (session) {
        if (history && (json as { type?: unknown } | null)?.type === 'history') {
          const problem = history.receive(json);
          return problem === undefined ? undefined : refuseLater(problem);
        }
        return onFinish(json);
      }
      const parsed = laterRequestSchema.safeParse(json);
      if (!parsed.success) return refuseLater(malformed(parsed.error));
      if (++pendingFlushes > MAX_PENDING_FLUSHES) return refuseLater(`more than ${MAX_PENDING_FLUSHES} flush requests unanswered`);
      // in order: each answer covers the records produced before its own request
      flushes = flushes.then(() => opts.tracerDrained(() => socket.destroyed)).then(() => {
        pendingFlushes--;
        if (socket.destroyed || laterRefused) return;
        sendBatch?.();
        reply({ v: RUN_PROTOCOL_VERSION, type: 'flushed' });
      }, () => {});
    }
    let sendBatch: (() => void) | undefined;

    /** `finish` of a `run` request: the trace, built here, goes back as the summary and the file's bytes. */
    function onFinish(json: unknown): void {
      const parsed = finishRequestSchema.safeParse(json);
      if (!parsed.success) return refuseLater(malformed(parsed.error));
      session!.finish(parsed.data.out).then(({ summary, trace, json, html }) => {
        const text = Buffer.from(summary);
        const diagnosis = json === undefined ? undefined : Buffer.from(json);
        const page = html === undefined ? undefined : Buffer.from(html);
        const records = history?.outgoing() ?? [];
        stats.built++;
        reply({
          v: RUN_PROTOCOL_VERSION, type: 'result', summaryBytes: text.length, ...(diagnosis ? { jsonBytes: diagnosis.length } : {}),
          ...(page ? { htmlBytes: page.length } : {}), traceBytes: trace.length,
          ...(records.length > 0 ? { history: records.map((r): [string, number] => [r.file, r.bytes.length]) } : {}),
        });
        if (!socket.destroyed) {
          socket.write(text);
          if (diagnosis) socket.write(diagnosis);
          if (page) socket.write(page);
          socket.write(trace);
          for (const r of records) socket.write(r.bytes);
          socket.end();
        }
        // (the bytes are in the socket by now: its history is written while the client exits)
        setImmediate(() => session!.saveHistory());
      }, (err: Error) => client?.fail(`the trace could not be finished: ${err.message}`));
    }

    async function onRequest(line: string): Promise<void> {
      if (answered) return;
      clearTimeout(deadline);
      let json: unknown;
      try { json = JSON.parse(line); } catch { return refuse('malformed request: not JSON'); }
      const parsed = requestSchema.safeParse(json);
      if (!parsed.success) return refuse(malformed(parsed.error));
      const request = parsed.data;
      if (request.type === 'status') {
        answered = true;
        reply({ v: RUN_PROTOCOL_VERSION, type: 'status', tracer: opts.tracerAttached() ? 'attached' : 'not-attached', builds: opts.sessions !== undefined });
        socket.end();
        return;
      }
      const { pid } = request;
      if (!opts.tracerAttached()) return refuse('the agent\'s tracer is not attached yet (it is starting, or restarting after bpftrace stopped)');
      let evidenceThresholdNs = 0;
      if (request.type === 'run') {
        if (!opts.sessions) return refuse('this agent does not build traces for run (it only sends records)');
        if (sessions >= MAX_AGENT_RUNS) return refuse(`the agent is building ${MAX_AGENT_RUNS} traces already`);
        if (request.named && !opts.namedShims) return refuse('this agent\'s tracer cannot see a shim that names itself (the kernel\'s task_rename tracepoint is not what its probe reads)');
        try {
          evidenceThresholdNs = request.threshold === undefined ? opts.sessions.defaultThresholdNs : parseDuration(request.threshold, '--threshold');
        } catch (err) { return refuse((err as Error).message); }
      }
      const who = procIdentity(pid);
      if (!who || who.comm !== SHIM_COMM) return refuse(`process ${pid} is not a gostall run waiting to start its command`);
      if (!mayAsk(who.uid, who.gid)) return refuse(`process ${pid} belongs to uid ${who.uid}, who may not ask this agent (root${opts.group ? ` and members of group ${opts.group.name}` : ''} may)`);
      if (opts.cgroup && !inCgroup(pid, opts.cgroup.procPath)) return refuse(`process ${pid} is outside the cgroup this agent traces (${opts.cgroup.dir})`);
      // A trace built here takes OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES from the
      // client's environment, as run takes them from its own: malformed ones are refused
      // before the command starts (bin/gostall then runs Node, which says what is wrong)
      const clientEnv = request.type === 'run' ? clientEnvironment(pid, who.uid) : {};
      try { resolveResourceSettings(clientEnv); } catch (err) { return refuse((err as Error).message); }
      answered = true;
      // at once: run knows an agent is on it (and waits for `following`, not its 100 ms)
      reply({ v: RUN_PROTOCOL_VERSION, type: 'accepted', pid });
      const seen = await opts.router.waitForShim(pid, SHIM_WAIT_MILLIS);
      if (socket.destroyed) return;
      // Records go out in batches: one message per turn of the event loop.
      let batch: string[] = [];
      const flush = () => {
        if (batch.length === 0) return; // sent already, before a `flushed`
        const lines = batch;
        batch = [];
        if (socket.writableLength > MAX_CLIENT_BACKLOG_BYTES) { c.fail('the run fell too far behind reading its records'); return; }
        reply({ v: RUN_PROTOCOL_VERSION, type: 'lines', lines });
      };
      const c: FollowClient = {
        send(lines) {
          if (batch.length === 0) setImmediate(flush);
          for (const l of lines) batch.push(l);
        },
        fail(message) { reply({ v: RUN_PROTOCOL_VERSION, type: 'error', message }); socket.end(); },
      };
      const refuseUnseen = () => {
        answered = false;
        refuse(`the agent's tracer did not see process ${pid} start, or another run claimed it`);
      };
      if (request.type === 'run' && seen) {
        // the records go to a trace built here; errors still go to the client
        // the user's own history through the client; from a client before that, the agent's directory for the user
        if (request.history && request.clientHistory) {
          const link = linkClientHistory(who.uid, reply);
          socket.once('close', link.close);
          history = link;
        }
        const s = startAgentRun({ shimPid: pid, env: clientEnv, evidenceThresholdNs, thresholds: opts.thresholds, clock: opts.sessions!.clock,
          history: history ? { client: history.history } : request.history ? { dir: opts.sessions!.historyDir(who.uid) } : undefined, json: request.json === true, html: request.html === true,
          tracerDrained: () => opts.tracerDrained(() => socket.destroyed) });
        // an error (the tracer restarted) ends the connection: no trace is sent
        const viaSession: FollowClient = { send: (lines) => s.feed(lines), fail: c.fail };
        if (!opts.router.claim(pid, viaSession)) { s.abandon(); return refuseUnseen(); }
        session = s;
        sessions++;
        socket.once('close', () => { sessions--; s.abandon(); });
        client = viaSession;
      } else if (!seen || !opts.router.claim(pid, c)) {
        return refuseUnseen();
      } else client = c;
      sendBatch = flush;
      stats.following++;
      reply({ v: RUN_PROTOCOL_VERSION, type: 'following', pid, ...opts.thresholds });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => { server.off('error', reject); resolve(); });
  });
  setModeAndGroup(opts.path, opts.group ? 0o660 : 0o600, opts.group?.gid);
  opts.log(`gostall run requests on ${opts.path} (root${opts.group ? ` and group ${opts.group.name}` : ''})`);
  return {
    stats,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      try { unlinkSync(opts.path); } catch { /* gone */ }
    }),
  };
}
