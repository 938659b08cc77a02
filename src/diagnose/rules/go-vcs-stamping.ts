/**
 * go.vcs_stamping: the version-control commands the go command ran to stamp the binary
 * (-buildvcs, default since Go 1.18 for a main package in a checkout) failed and took the
 * build down ("error obtaining VCS status: exit status 128"), or took a large share of the
 * build. The usual failure is git refusing a checkout owned by another user (git ≥ 2.35.2,
 * "detected dubious ownership": containers, CI runners, a root-owned mount); then a broken
 * repository. Slow stamping: a checkout on a slow or network filesystem, a huge work tree.
 * Other causes on the stamping processes themselves (the slow mount their calls hit) are
 * consequences: this cause supersedes them there.
 */
import { vcsStampingTool, type VcsTool } from '../../model/go-vcs.js';
import { argvOf, type ProcessNode } from '../../model/process.js';
import { walk } from '../../model/tree.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { exitText, exitedWithFailure, processLabel, stderrLine, wallNs } from '../evidence.js';
import { formatDuration, formatPercent } from '../format.js';

export const ID = 'go.vcs_stamping';

export const THRESHOLDS = {
  /**
   * Stamping counts as slow from this much time in the VCS commands. Measured here (Debian
   * git 2.39, Go 1.19): `git status --porcelain` and `git show` take under 10 ms each on a
   * small checkout on local disk, 3 s with the git directory on a FUSE mount answering in
   * 5 ms; golang/go#49582 reports seconds on large repositories.
   */
  minSlowNs: 500e6,
  /** … and when they are at least this share of the go command's wall time (a warm build of a small module: 150–400 ms). */
  minShare: 0.2,
} as const;

const VCS_FAILED = /error obtaining VCS status/i;
const DUBIOUS = /dubious ownership in repository at '([^']+)'/;

/** The stamping processes of each go command of the tree. */
function stampingByGo(root: ProcessNode): Map<ProcessNode, { p: ProcessNode; tool: VcsTool }[]> {
  const out = new Map<ProcessNode, { p: ProcessNode; tool: VcsTool }[]>();
  for (const p of walk(root)) {
    const tool = vcsStampingTool(p);
    if (!tool) continue;
    const list = out.get(p.parent!) ?? [];
    list.push({ p, tool });
    out.set(p.parent!, list);
  }
  return out;
}

const commandText = (p: ProcessNode): string => argvOf(p).argv.join(' ');

function failureCause(go: ProcessNode, failed: ProcessNode, tool: VcsTool, ctx: DiagnosisContext): Cause {
  const said = stderrLine(failed, /fatal|error|abort|not|denied/i);
  const dubious = said ? DUBIOUS.exec(said) : null;
  const goSaid = stderrLine(go, VCS_FAILED);
  const owner = failed.uid !== undefined ? ` (the build runs as uid ${failed.uid}, and the checkout belongs to another user)` : '';
  const evidence = `VCS stamping failed: ${commandText(failed)} (pid ${failed.pid}) ${exitText(failed)}` +
    `${said ? `: "${said}"` : ''}${dubious ? owner : ''}; ${processLabel(go)} ${exitText(go)}${goSaid ? `: "${goSaid}"` : ''}`;
  const hint = dubious
    ? `${tool} refuses a repository owned by another user: mark it safe with git config --global --add safe.directory ${dubious[1]}, ` +
      `or give the checkout to the building user (chown -R), or build with -buildvcs=false (GOFLAGS=-buildvcs=false)`
    : `fix the repository so that \`${commandText(failed)}\` succeeds in it, or build with -buildvcs=false (GOFLAGS=-buildvcs=false) to skip VCS stamping`;
  return {
    id: ID, process: failed, evidence, hint, weightNs: wallNs(go, ctx), explainsFailure: true, supersedes: [failed],
    attributes: { 'gostall.cause.vcs': tool, ...(dubious ? { 'gostall.cause.path': dubious[1]! } : {}) },
  };
}

function slowCause(go: ProcessNode, runs: { p: ProcessNode; tool: VcsTool }[], ctx: DiagnosisContext): Cause | undefined {
  const spentNs = runs.reduce((n, r) => n + wallNs(r.p, ctx), 0);
  const goWallNs = wallNs(go, ctx);
  if (spentNs < THRESHOLDS.minSlowNs || spentNs < THRESHOLDS.minShare * goWallNs) return undefined;
  const slowest = runs.reduce((a, b) => (wallNs(b.p, ctx) > wallNs(a.p, ctx) ? b : a));
  const each = runs.map((r) => `${commandText(r.p)} ${formatDuration(wallNs(r.p, ctx))}`).join(', ');
  return {
    id: ID, process: slowest.p,
    evidence: `VCS stamping took ${formatDuration(spentNs)}, ${formatPercent(spentNs / goWallNs)} of ${processLabel(go)}'s ${formatDuration(goWallNs)}: ${each}`,
    hint: 'build with -buildvcs=false (GOFLAGS=-buildvcs=false) where the stamp is not needed (CI test builds, go run), ' +
      'or keep the checkout on a local filesystem and its work tree small (git status walks all of it)',
    weightNs: spentNs, supersedes: runs.map((r) => r.p),
    attributes: { 'gostall.cause.vcs': slowest.tool, 'gostall.vcs.stamping_ns': spentNs },
  };
}

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const [go, runs] of stampingByGo(root)) {
    const failed = runs.find((r) => exitedWithFailure(r.p));
    if (failed && exitedWithFailure(go)) {
      out.push(failureCause(go, failed.p, failed.tool, ctx));
      continue;
    }
    const slow = slowCause(go, runs, ctx);
    if (slow) out.push(slow);
  }
  return out;
};
