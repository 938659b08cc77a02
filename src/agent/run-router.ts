/**
 * Which of the agent's probe records belong to a `gostall run` that asked the agent to
 * follow its command (src/agent/run-server.ts), and which to the agent's own pipeline.
 *
 * The probe makes every exec of gostall-shim (run's first process) a root: a G record
 * followed by that process's E record; bin/gostall's shim, a fork that names itself
 * gostall-shim without an exec, is made one by an N record. Such a tree never reaches the agent's pipeline, so
 * it is exported once, by the run that owns it: its records are kept (bounded) until that
 * run claims the pid, then handed to it as they come. A shim nobody claims within
 * UNCLAIMED_MILLIS (a run that traces on its own, or any process named gostall-shim) is
 * dropped, records and all. Records are routed by the pid field; forks extend a tree.
 *
 * A process's records can be read before its fork record (F): the parent prints F on one CPU,
 * the child runs on another, and bpftrace reads each CPU's buffer in turn. While a tree is
 * followed, the records of a process that is neither a tree's nor known to be the agent's
 * (its roots, their forks, the processes it adopted) wait for that fork record, which says
 * whose they are. An exec record names the parent itself and is placed at once. Without this
 * a run's `sh -c` lost its exec to the agent and showed in the run's trace as a second bash.
 *
 * Every id a tree holds is let go as soon as it is done with: a process at its exit record
 * (whichever thread printed it), a thread at its own exit record (Q), and a whole tree once
 * its run is gone (released or never claimed) for DROPPED_KEEP_MILLIS. Ids are reused (pid_max
 * is 32768 on many hosts, a few minutes of builds): an id held too long would route a new
 * process's records — a new root of the agent's, a new run's shim — into a dead tree.
 */

import { fieldIndex } from '../events/schema.js';
import { SC } from '../vocabulary/syscalls.js';

// the fields the router reads, where the record schema puts them (pid: every record's but V's)
const AT = {
  pid: fieldIndex('E', 'pid'), vPid: fieldIndex('V', 'pid'), comm: fieldIndex('E', 'comm'), ppid: fieldIndex('E', 'ppid'), child: fieldIndex('F', 'childTid'),
  tid: fieldIndex('Q', 'tid'), sc: fieldIndex('S', 'sc'), ret: fieldIndex('S', 'ret'), ts: fieldIndex('S', 'ts'),
};
const SPLIT_FIELDS = Math.max(...Object.values(AT)) + 1;

/** run asks within ~100 ms of starting its shim; this leaves room for a loaded machine. */
export const UNCLAIMED_MILLIS = 5000;
/** A dropped tree's ids are kept this long for its stragglers' records, then let go. */
export const DROPPED_KEEP_MILLIS = 30_000;
/**
 * A process's id is let go at its exit record, but its other threads' exit records (Q), and
 * what it printed before on another CPU (forks), can be read after it: bpftrace reads each
 * CPU's buffer in turn. For this long they still go to the tree (without the Q the tree never
 * completes, and run waits out its drain; without the forks, children are missing).
 */
export const LATE_THREAD_EXIT_MILLIS = 2000;
/** records kept for a shim not yet claimed (it is blocked on its gate: a handful at most) */
const MAX_BUFFERED_LINES = 10_000;
/**
 * A G record waits for its process's E record, which says whether the exec was a shim's.
 * The probe prints both on one CPU within microseconds, but bpftrace reads each CPU's buffer
 * in turn, so other CPUs' records can come between them. A G whose E has not come within
 * this many records (its E lost) goes to the agent alone.
 */
const MAX_HELD_G_LINES = 1000;
/**
 * A record of a process not yet known waits for its fork record, which was printed before it,
 * until a record printed this much later comes (kernel time), then goes to the agent (its fork
 * record lost). Neither a count of records nor the agent's time: bpftrace can read a CPU's
 * whole buffer (thousands of records) before the fork record's turn comes, and a busy agent
 * takes its time over them.
 */
export const EARLY_HOLD_NS = 2e9;
/** On a quiet machine no later record comes: a tick gives them to the agent after this long. */
export const EARLY_HOLD_MILLIS = 10_000;
/** records waiting for their fork record, at most (the oldest process's go to the agent first; ~5 MB) */
const MAX_EARLY_LINES = 50_000;
/** the agent's own ids known at once; past this the set starts afresh (a lost exit record each) */
const MAX_AGENT_IDS = 65_536;
export const SHIM_COMM = 'gostall-shim';

export interface FollowClient {
  send(lines: string[]): void;
  /** the tree can no longer be followed (the tracer restarted) */
  fail(message: string): void;
}

interface Followed {
  rootPid: number; execd: boolean; pids: Set<number>; client: FollowClient | undefined; buffer: string[]; createdMillis: number;
  dropped: boolean;
  /** when it was dropped (its ids are let go DROPPED_KEEP_MILLIS later) */
  droppedMillis: number;
}

export interface RunRouter {
  /** the lines the agent's own pipeline gets now (none, this one, or a held G and this one) */
  route(line: string): string[];
  /** resolves true once a shim with this pid has started (false after timeoutMillis) */
  waitForShim(pid: number, timeoutMillis: number): Promise<boolean>;
  /** hand pid's tree to client; false when it is not an unclaimed shim */
  claim(pid: number, client: FollowClient): boolean;
  /** the client is gone: the rest of its tree is dropped */
  release(client: FollowClient): void;
  /** drop shims nobody claimed in time; returns the agent's records that waited too long for a fork record */
  tick(nowMillis: number): string[];
  /** the agent's own processes running when its tracer (re)started, traced from the start (no G) */
  adopted(pids: number[]): void;
  readonly stats: {
    shims: number; claimed: number; unclaimed: number; linesRouted: number;
    /** records that came before their process's fork record and waited for it */
    heldForFork: number;
    /** of those, records whose fork record never came in time (they went to the agent) */
    forkOverdue: number;
  };
  /** ids held for followed trees now (bounded by the processes and threads those trees run) */
  readonly heldIds: () => number;
}

/** A shim's records that tell its exec of CMD failed: the execve's error, stderr, thread exits, exit. */
function failedExecRecord(tag: string | undefined, fields: string[]): boolean {
  if (tag === 'X' || tag === 'Q' || tag === 'W') return true;
  return tag === 'S' && Number(fields[AT.sc]) === SC.execve && Number(fields[AT.ret]) < 0;
}

/** The process a record is about (a V record's pid is in another column). */
function pidOf(fields: string[]): number {
  return Number(fields[0] === 'V' ? fields[AT.vPid] : fields[AT.pid]);
}

/** The child's id a fork record names, when it is one. */
function forkedId(fields: string[]): number | undefined {
  const child = Number(fields[AT.child]);
  return Number.isInteger(child) && child > 0 ? child : undefined;
}

export function createRunRouter(nowMillis: () => number = Date.now): RunRouter {
  const byPid = new Map<number, Followed>();
  const waiters = new Map<number, Array<() => void>>();
  const heldG = new Map<number, { line: string; at: number }>();
  /** processes of followed trees that exited, for what is read after their exit records (LATE_THREAD_EXIT_MILLIS) */
  const exitedProcs = new Map<number, { f: Followed; atMillis: number }>();
  /**
   * The agent's own processes and threads (0), or when its process exited (its threads' late
   * exit records still pass): their records need not wait for a fork record.
   */
  const agentIds = new Map<number, number>();
  let adoptedIds: number[] = [];
  /** records of processes not known yet, waiting for their fork record (oldest first) */
  const early = new Map<number, { lines: string[]; ts: number; atMillis: number }>();
  let earlyLines = 0;
  let routed = 0;
  const stats = { shims: 0, claimed: 0, unclaimed: 0, linesRouted: 0, heldForFork: 0, forkOverdue: 0 };

  const deliver = (f: Followed, line: string) => {
    stats.linesRouted++;
    if (f.dropped) return;
    if (f.client) f.client.send([line]);
    else if (f.buffer.length < MAX_BUFFERED_LINES) f.buffer.push(line);
  };
  const forget = (pid: number, of?: Followed) => {
    const f = byPid.get(pid);
    if (!f || (of && f !== of)) return;
    byPid.delete(pid);
    f.pids.delete(pid);
  };
  const drop = (f: Followed) => {
    if (f.dropped) return;
    f.dropped = true;
    f.droppedMillis = nowMillis();
    f.buffer = [];
  };
  const join = (f: Followed, pid: number) => {
    agentIds.delete(pid);
    f.pids.add(pid);
    byPid.set(pid, f);
  };
  const agentOwns = (pid: number) => {
    if (agentIds.size >= MAX_AGENT_IDS) agentIds.clear();
    agentIds.set(pid, 0);
  };
  /** the held G records of processes whose E is overdue (all of them, when records were lost) */
  const overdueG = (all: boolean): string[] => {
    const out: string[] = [];
    for (const [pid, g] of heldG) {
      if (all || routed - g.at > MAX_HELD_G_LINES) { out.push(g.line); heldG.delete(pid); agentOwns(pid); }
    }
    return out;
  };
  const startShim = (pid: number): string[] => {
    // the id is the new shim's: a gone process or tree that still held it lets it go
    exitedProcs.delete(pid);
    forget(pid);
    const f: Followed = { rootPid: pid, execd: false, pids: new Set(), client: undefined, buffer: [], createdMillis: nowMillis(), dropped: false, droppedMillis: 0 };
    join(f, pid);
    stats.shims++;
    for (const w of waiters.get(pid) ?? []) w();
    waiters.delete(pid);
    return release(pid);
  };

  /** The records that waited for pid's fork record, routed now that pid is placed. */
  function release(pid: number): string[] {
    const waiting = early.get(pid);
    if (!waiting) return [];
    early.delete(pid);
    earlyLines -= waiting.lines.length;
    const out: string[] = [];
    for (const l of waiting.lines) {
      const fields = l.split('\t', SPLIT_FIELDS);
      out.push(...routeRecord(fields[0], pidOf(fields), fields, l));
    }
    return out;
  }
  /** Waiting records whose fork record did not come in time (lost) are the agent's. */
  function overdueEarly(expired: (e: { ts: number; atMillis: number }) => boolean): string[] {
    const out: string[] = [];
    for (const [pid, e] of early) {
      if (!expired(e)) break; // oldest first
      stats.forkOverdue += e.lines.length;
      agentOwns(pid);
      out.push(...release(pid));
    }
    return out;
  }
  function hold(pid: number, fields: string[], line: string): string[] {
    let waiting = early.get(pid);
    if (!waiting) {
      // an argv chunk follows its exec record on one CPU: one whose exec was placed has gone there
      if (fields[0] === 'V') return [line];
      early.set(pid, waiting = { lines: [], ts: Number(fields[AT.ts]), atMillis: nowMillis() });
    }
    waiting.lines.push(line);
    earlyLines++;
    stats.heldForFork++;
    return earlyLines > MAX_EARLY_LINES ? overdueEarly(() => earlyLines > MAX_EARLY_LINES) : [];
  }

  function routeOne(fields: string[], line: string): string[] {
    const tag = fields[0];
    if (tag === 'R') {
      // A (re)started tracer no longer follows the trees it was following.
      for (const f of new Set(byPid.values())) f.client?.fail('the agent\'s tracer restarted: the trace ends here');
      byPid.clear();
      exitedProcs.clear();
      const out = [...overdueG(true), ...overdueEarly(() => true), line];
      agentIds.clear();
      for (const pid of adoptedIds) agentOwns(pid);
      return out;
    }
    const pid = pidOf(fields);
    // (every record of the machine comes through here; a G is held only until its E)
    const g = heldG.size > 0 ? heldG.get(pid) : undefined;
    if (!g) return routeRecord(tag, pid, fields, line);
    heldG.delete(pid);
    // comm is printed with %r: its 16 bytes, the NUL padding escaped
    if (tag === 'E' && fields[AT.comm]?.replace(/(\\x00)+$/, '') === SHIM_COMM) return startShim(pid);
    // a root of the agent's: the G goes first, with its E or any other record of the process
    agentOwns(pid);
    return [g.line, ...release(pid), ...routeRecord(tag, pid, fields, line)];
  }

  function routeRecord(tag: string | undefined, pid: number, fields: string[], line: string): string[] {
    if (tag === 'G') {
      exitedProcs.delete(pid);
      // A followed process that execs a watched executable (`gostall run -- go build`) is
      // already the run's: it is not a new root of the agent's.
      const held = byPid.get(pid);
      if (held && !held.dropped) return [];
      // a gone run's process (or a reused id) that execs a watched executable is the agent's root
      if (held) forget(pid, held);
      heldG.set(pid, { line, at: routed });
      return [];
    }
    // bin/gostall's shim, a fork that named itself: a run's root, as a shim's exec makes one
    // (the probe prints N only for an untraced process: an id still held is a gone one's)
    if (tag === 'N') return startShim(pid);
    const child = tag === 'F' ? forkedId(fields) : undefined;
    // a fork hands the child's id out anew: it is no longer a gone process's
    if (child !== undefined && exitedProcs.size > 0) exitedProcs.delete(child);
    // A process of a followed tree; or one that exited a moment ago, for what is read after its
    // exit record: its other threads' exits, and what it printed before on another CPU (a
    // fork: bash's X can come before the fork records of the children it waited for)
    const f = byPid.get(pid) ?? (exitedProcs.size > 0 ? exitedProcs.get(pid)?.f : undefined);
    if (!f) return routeUnfollowed(tag, pid, child, fields, line);
    // Before it execs CMD the shim only waits: run's own tracer, attaching while the shim
    // waits, sees nothing of it either. Once a run follows it, what run's own tracer would see
    // of a shim whose exec of CMD fails goes to the run: the failed exec, what the shim says
    // about it, its exit (without them the run's trace said "still running", no cause).
    if (pid === f.rootPid && !f.execd) {
      if (tag === 'E') f.execd = true;
      else if (!f.client || !failedExecRecord(tag, fields)) return [];
    }
    deliver(f, line);
    if (child !== undefined) { join(f, child); return release(child); }
    // the process is gone whichever of its threads printed X; a thread, at its own Q
    if (tag === 'X') { forget(pid, f); exitedProcs.set(pid, { f, atMillis: nowMillis() }); }
    else if (tag === 'Q') {
      const tid = Number(fields[AT.tid]);
      if (tid !== pid) forget(tid, f);
    }
    return [];
  }

  /** A record of a process no followed tree holds: the agent's, or one read before its fork record. */
  function routeUnfollowed(tag: string | undefined, pid: number, child: number | undefined, fields: string[], line: string): string[] {
    if (!agentIds.has(pid)) {
      // an exec names its parent: a followed process's child (its parent gone or not) joins
      // its tree, an agent's process's child is the agent's, whatever the fork record's turn;
      // any other record (or an exec whose parent is not placed yet either) waits for the fork record
      const ppid = tag === 'E' ? Number(fields[AT.ppid]) : 0;
      const parent = ppid > 0 ? byPid.get(ppid) ?? exitedProcs.get(ppid)?.f : undefined;
      if (parent) { join(parent, pid); return [...release(pid), ...routeRecord(tag, pid, fields, line)]; }
      if ((byPid.size === 0 && exitedProcs.size === 0) || (ppid > 0 && agentIds.has(ppid))) agentOwns(pid);
      else return hold(pid, fields, line);
    }
    if (child !== undefined) { agentOwns(child); return [line, ...release(child)]; }
    if (tag === 'X') agentIds.set(pid, nowMillis());
    else if (tag === 'Q') {
      const tid = Number(fields[AT.tid]);
      if (tid !== pid) agentIds.delete(tid);
    }
    return [line];
  }

  return {
    stats,
    route(line) {
      routed++;
      if (line.startsWith('Lost ')) {
        for (const f of new Set(byPid.values())) if (f.client) f.client.send([line]);
        return [...overdueG(true), ...overdueEarly(() => true), line];
      }
      const fields = line.split('\t', SPLIT_FIELDS);
      const overdue = heldG.size > 0 ? overdueG(false) : [];
      if (early.size > 0) {
        // (the time field is every record's but V's, whose column holds its pid: a V follows its
        // E and is never taken for a record 2 s on)
        const ts = Number(fields[AT.ts]);
        overdue.push(...overdueEarly((e) => ts - e.ts > EARLY_HOLD_NS));
      }
      const out = routeOne(fields, line);
      return overdue.length > 0 ? [...overdue, ...out] : out;
    },
    waitForShim(pid, timeoutMillis) {
      if (byPid.get(pid)?.rootPid === pid) return Promise.resolve(true);
      return new Promise((resolve) => {
        const list = waiters.get(pid) ?? [];
        const done = () => { clearTimeout(timer); resolve(true); };
        const timer = setTimeout(() => {
          const rest = (waiters.get(pid) ?? []).filter((w) => w !== done);
          if (rest.length > 0) waiters.set(pid, rest); else waiters.delete(pid);
          resolve(false);
        }, timeoutMillis);
        list.push(done);
        waiters.set(pid, list);
      });
    },
    claim(pid, client) {
      const f = byPid.get(pid);
      if (!f || f.rootPid !== pid || f.client || f.dropped) return false;
      f.client = client;
      stats.claimed++;
      if (f.buffer.length > 0) client.send(f.buffer);
      f.buffer = [];
      return true;
    },
    release(client) {
      for (const f of new Set(byPid.values())) if (f.client === client) { f.client = undefined; drop(f); }
    },
    tick(now) {
      for (const [pid, gone] of exitedProcs) if (now - gone.atMillis > LATE_THREAD_EXIT_MILLIS) exitedProcs.delete(pid);
      for (const [pid, exitedAt] of agentIds) if (exitedAt > 0 && now - exitedAt > LATE_THREAD_EXIT_MILLIS) agentIds.delete(pid);
      for (const f of new Set(byPid.values())) {
        if (!f.client && !f.dropped && now - f.createdMillis > UNCLAIMED_MILLIS) { drop(f); stats.unclaimed++; }
        // a gone run's processes that still live (or whose exit was lost) are the agent's again
        if (f.dropped && now - f.droppedMillis > DROPPED_KEEP_MILLIS) for (const pid of [...f.pids]) forget(pid, f);
      }
      return early.size > 0 ? overdueEarly((e) => now - e.atMillis > EARLY_HOLD_MILLIS) : [];
    },
    adopted(pids) {
      adoptedIds = [...pids];
      for (const pid of pids) agentOwns(pid);
    },
    heldIds: () => byPid.size + exitedProcs.size,
  };
}
