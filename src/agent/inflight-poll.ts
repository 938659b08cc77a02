/**
 * Finds syscalls that have not returned yet in the traced processes. A stat on a hung FUSE
 * server never returns, so the probe never prints its S record; the agent looks at the
 * threads of the processes it traces instead: a thread sleeping (S or D) inside one of the
 * traced syscalls, that has not run since the last look, is still in the same call.
 *
 * The kernel cannot report this itself with bpftrace 0.17: print() of a map aborts bpftrace
 * when a key is deleted while the map is being read, and in-flight maps change constantly.
 *
 * Reads are asynchronous and few at a time (see MAX_CONCURRENT): /proc reads of a task that
 * is itself stuck must never stall the agent's event loop; a poll that is still running when
 * the next one is due makes that one skip.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { ProcessNode } from '../model/process.js';
import type { Ongoing } from '../pipeline/episodes.js';
import { SC, inflightSyscalls } from '../vocabulary/syscalls.js';
import type { InflightPathResolver } from './inflight-paths.js';


const MAX_CONCURRENT = 8;
/** Threads looked at per poll at most: a bound on the work whatever the host runs. */
const MAX_THREADS_PER_POLL = 4096;

interface Seen { nr: number; arg: number; runs: number; sinceNs: number }

export interface InflightPoller {
  /** Calls in flight for at least stuckAfterNs, per process; undefined when a poll is already running. */
  poll(nodes: ProcessNode[], nowNs: number): Promise<Map<ProcessNode, Ongoing[]> | undefined>;
}

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** Run fn over items with at most `limit` running at once. */
async function eachLimited<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  });
  await Promise.all(workers);
}

export function createInflightPoller(opts: { stuckAfterNs: number; paths: InflightPathResolver; arch?: string }): InflightPoller {
  const table = inflightSyscalls(opts.arch);
  let seen = new Map<number, Seen>();
  let busy = false;

  async function look(node: ProcessNode, tid: number, nowNs: number, next: Map<number, Seen>, found: Ongoing[]): Promise<void> {
    const base = `/proc/${node.pid}/task/${tid}`;
    const stat = await read(`${base}/stat`);
    if (!stat) return;
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    if (state !== 'S' && state !== 'D') return;
    const sys = await read(`${base}/syscall`);
    if (!sys) return;
    const f = sys.trim().split(' ');
    const nr = Number(f[0]);
    const entry = table.get(nr);
    if (!entry) return;
    const arg = Number.parseInt(f[1 + entry.arg] ?? '', 16);
    // Like the probe, leave reads of fd 0 alone: a tool waiting for its input (gopls on its
    // LSP pipe) is not stalled.
    if ((entry.sc === SC.read || entry.sc === SC.pread64) && arg === 0) return;
    // Times run on a CPU: unchanged since the last look means still the same call.
    const runs = Number((await read(`${base}/schedstat`))?.split(' ')[2] ?? NaN);
    const prev = seen.get(tid);
    const same = prev && prev.nr === nr && prev.arg === arg && (!Number.isFinite(runs) || prev.runs === runs);
    const s: Seen = same ? prev : { nr, arg, runs, sinceNs: nowNs };
    next.set(tid, s);
    if (nowNs - s.sinceNs < opts.stuckAfterNs) return;
    found.push({ tid, startNs: s.sinceNs, sc: entry.sc, path: opts.paths.pathOf(tid, s.sinceNs, entry.sc, arg) });
  }

  return {
    async poll(nodes, nowNs) {
      if (busy || !table) return undefined;
      busy = true;
      try {
        const next = new Map<number, Seen>();
        const result = new Map<ProcessNode, Ongoing[]>();
        const work: { node: ProcessNode; tid: number; found: Ongoing[] }[] = [];
        for (const node of nodes) {
          if (work.length >= MAX_THREADS_PER_POLL) break;
          let tids: string[];
          try {
            tids = await readdir(`/proc/${node.pid}/task`);
          } catch {
            continue;
          }
          const found: Ongoing[] = [];
          result.set(node, found);
          for (const t of tids) work.push({ node, tid: Number(t), found });
        }
        await eachLimited(work, MAX_CONCURRENT, (w) => look(w.node, w.tid, nowNs, next, w.found));
        seen = next;
        for (const [node, found] of result) if (found.length === 0) result.delete(node);
        return result;
      } finally {
        busy = false;
      }
    },
  };
}
