/**
 * lsp.stall: a long-lived editor tool (gopls) stopped answering because it waited on a child
 * of its own — the `go list` / `go env` it runs to load the workspace — and that child was
 * blocked: on a pipe (a go wrapper or shim waiting for input), a lock, a slow filesystem or
 * the network. Names the child, how long the tool waited, and what the child waited on.
 *
 * This rule reads the finished process tree (run, replay, and the agent's published trees).
 * Live reporting while gopls still hangs goes through the agent's stall episodes: see
 * episodeStall, asked about each episode of a process below a long-lived tool.
 */
import type { ProcessNode } from '../../model/process.js';
import { argvOf, executableName } from '../../model/process.js';
import { walk } from '../../model/tree.js';
import { SYSCALLS } from '../../events/schema.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { blockedNs, processLabel, wallNs } from '../evidence.js';
import { formatDuration } from '../format.js';

export const ID = 'lsp.stall';

/** Tools an editor keeps running and waits on for answers. */
const LONG_LIVED = new Set(['gopls', 'dlv', 'dlv-dap', 'golangci-lint-langserver']);

export const THRESHOLDS = {
  /**
   * The child ran at least this long while the tool waited for it. Measured here: `gopls
   * check` of a small module ran its go list / go env children for 0.05–0.5 s each (the whole
   * command 0.6 s); an editor shows "Loading packages…" a user notices after a few seconds.
   * 5 s is ten times the healthy child.
   */
  minChildWaitNs: 5e9,
  /**
   * …and the child waited rather than worked: its subtree's longest wait covers this share of
   * the time, or it was on a CPU for less than this share. A go list that computes for 8 s on
   * a huge workspace is slow, not stalled (fs.oversized_walk and the CPU rules speak for it).
   */
  minBlockedShare: 0.5,
} as const;

const HINT = 'run the same command by hand in the workspace (e.g. `go list -e -json ./...`) to see it hang; check that the `go` on the ' +
  'editor\'s PATH is the real one (not a wrapper or shim waiting for input), that no other go process holds the module cache lock, ' +
  'and the filesystem and network evidence on the child; restart gopls once fixed';

/** The longest thing a process waited on, from its own records: a slow call, an off-CPU wait, a handshake. */
function longestWait(p: ProcessNode): { ns: number; text: string } | undefined {
  let best: { ns: number; text: string } | undefined;
  const consider = (ns: number, text: string): void => { if (!best || ns > best.ns) best = { ns, text }; };
  for (const e of [...p.slowSyscalls, ...p.failedSyscalls]) {
    const name = SYSCALLS[e.sc] ?? `syscall ${e.sc}`;
    consider(blockedNs(e), `${formatDuration(blockedNs(e))} in ${name}${e.path ? ` of ${e.path}` : e.fd >= 0 ? ` on fd ${e.fd}` : ''}`);
  }
  for (const o of p.offCpu) {
    const inside = o.sc ? ` in ${SYSCALLS[o.sc] ?? `syscall ${o.sc}`}` : '';
    consider(o.durationNs, `${formatDuration(o.durationNs)} off-CPU ${o.state === 2 ? 'uninterruptible (D)' : 'asleep (S)'}${inside}`);
  }
  for (const c of p.connects) consider(c.durationNs, `${formatDuration(c.durationNs)} in a TCP handshake with ${c.address}:${c.port}${c.established ? '' : ' that failed'}`);
  return best;
}

/** The longest wait in the child's subtree, and the CPU time the subtree used. */
function waitsOf(child: ProcessNode): { best: { p: ProcessNode; ns: number; text: string } | undefined; onCpuNs: number } {
  let best: { p: ProcessNode; ns: number; text: string } | undefined;
  let onCpuNs = 0;
  for (const q of walk(child)) {
    onCpuNs += q.sched.onCpuNs;
    const w = longestWait(q);
    if (w && (!best || w.ns > best.ns)) best = { p: q, ...w };
  }
  return { best, onCpuNs };
}

/** What the child (or one of its own descendants) waited on, or that it slept outside traced calls. */
function whatBlocked(child: ProcessNode, best: { p: ProcessNode; text: string } | undefined): string {
  const running = child.endNs === undefined ? '; it was still running when tracing stopped' : '';
  if (best) return `${best.p === child ? 'it' : processLabel(best.p)} was blocked ${best.text}${running}`;
  return `it slept outside any traced call (a lock, a pipe or a child of its own)${running}`;
}

function stalledChildren(tool: ProcessNode, ctx: DiagnosisContext): Cause[] {
  const out: Cause[] = [];
  for (const child of tool.children) {
    const waitNs = wallNs(child, ctx);
    if (waitNs < THRESHOLDS.minChildWaitNs) continue;
    const { best, onCpuNs } = waitsOf(child);
    const blocked = (best?.ns ?? 0) >= THRESHOLDS.minBlockedShare * waitNs || onCpuNs <= THRESHOLDS.minBlockedShare * waitNs;
    if (!blocked) continue;
    const { argv } = argvOf(child);
    const cmd = argv.length > 0 ? ` (\`${argv.join(' ').slice(0, 120)}\`)` : '';
    out.push({
      id: ID, process: tool,
      evidence: `${processLabel(tool)} waited ${formatDuration(waitNs)} for its child ${processLabel(child)}${cmd}; ${whatBlocked(child, best)}`,
      hint: HINT, weightNs: waitNs,
      attributes: { 'gostall.cause.child_pid': child.pid, 'gostall.cause.wait_ns': waitNs },
    });
  }
  return out;
}

/** The tool's child on the way from a long-lived tool down to p (p itself when its parent is the tool). */
function childOfTool(p: ProcessNode): { tool: ProcessNode; child: ProcessNode } | undefined {
  for (let c: ProcessNode = p; c.parent; c = c.parent) {
    const t = c.parent;
    if (t.exec && LONG_LIVED.has(executableName(t))) return { tool: t, child: c };
  }
  return undefined;
}

/**
 * Live (the agent's stall episodes): a process below a long-lived tool has been blocked for
 * blockedNs, as of nowNs, on what `blockedText` says. When the tool's child on the way has
 * kept it waiting past the same thresholds as the rule's, and the blocked time covers the
 * same share of that wait, this is the tool stalling on it — said while it still hangs.
 */
export function episodeStall(p: ProcessNode, x: { nowNs: number; blockedNs: number; blockedText: string }): Omit<Cause, 'process'> | undefined {
  const found = childOfTool(p);
  if (!found) return undefined;
  const { tool, child } = found;
  const waitNs = x.nowNs - child.startNs;
  if (waitNs < THRESHOLDS.minChildWaitNs || x.blockedNs < THRESHOLDS.minBlockedShare * waitNs) return undefined;
  const { argv } = argvOf(child);
  const cmd = argv.length > 0 ? ` (\`${argv.join(' ').slice(0, 120)}\`)` : '';
  const who = p === child ? 'it' : processLabel(p);
  return {
    id: ID,
    evidence: `${processLabel(tool)} has waited ${formatDuration(waitNs)} for its child ${processLabel(child)}${cmd}; ${who} is blocked ${x.blockedText}`,
    hint: HINT, weightNs: waitNs,
    attributes: { 'gostall.cause.child_pid': child.pid, 'gostall.cause.wait_ns': waitNs },
  };
}

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    if (!p.exec || !LONG_LIVED.has(executableName(p))) continue;
    // the longest wait first; one cause per tool
    const found = stalledChildren(p, ctx).sort((a, b) => b.weightNs - a.weightNs);
    if (found[0]) out.push(found[0]);
  }
  return out;
};
