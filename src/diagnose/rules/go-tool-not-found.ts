/**
 * go.tool_not_found: a Go tool (go itself, gopls, dlv, staticcheck, …) was not found on the
 * PATH of the process that wanted it: a shell's or exec.LookPath's search found it in no
 * directory. Names the directories searched and, when the tool is installed elsewhere
 * (GOBIN, GOPATH/bin, ~/go/bin, GOROOT/bin), where — the usual fix is a PATH entry.
 * Other exec failures (not executable, wrong architecture, a configured path) stay
 * exec.failed.
 */
import type { ProcessNode } from '../../model/process.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { exitText, exitedWithFailure, perProcess, processLabel, stderrLine, wallNs } from '../evidence.js';
import { failedExecsByOwner, goToolDirs, missingGoTool, GO_TOOLS, SEARCH_FAILED, SEARCH_FAILED_ANY } from '../exec-attempts.js';
import { listSome } from '../format.js';

export const ID = 'go.tool_not_found';

export const THRESHOLDS = {
  /**
   * One fruitless search is enough when the kernel saw it (execve ENOENT in every PATH
   * directory, measured: dash tries each of 6 directories then exits 127). Go's own
   * exec.LookPath only stats (routine ENOENTs the probe counts but does not record), so
   * there the process must have failed saying so, and the tool must still be absent from
   * its PATH now.
   */
  minSearches: 1,
} as const;

const NOT_FOUND_LINE = /not found|no such file/i;

function hint(name: string, elsewhere: string | undefined): string {
  if (elsewhere) {
    const dir = elsewhere.slice(0, elsewhere.lastIndexOf('/'));
    return `add ${dir} to PATH where the tool is started (shell profile, IDE or service environment), e.g. export PATH="$PATH:${dir}"`;
  }
  if (name === 'go' || name === 'gofmt') return 'install Go and put its bin directory on PATH (e.g. /usr/local/go/bin), in the environment the tool is started from';
  return `install ${name} (go install …@latest puts it in $(go env GOPATH)/bin) and put that directory on PATH`;
}

function cause(owner: ProcessNode, name: string, searched: string[], elsewhere: string | undefined, how: string, ctx: DiagnosisContext): Cause {
  const failed = exitedWithFailure(owner);
  const said = stderrLine(owner, NOT_FOUND_LINE);
  const where = elsewhere ? `; it is installed at ${elsewhere}, which is not on that PATH` : '; it is not installed in GOBIN, GOPATH/bin or GOROOT/bin either';
  return {
    id: ID, process: owner,
    evidence: `${name} was not found on PATH (${how}: ${listSome(searched, 8) || 'no directory'})${where}` +
      `${failed ? `; ${processLabel(owner)} ${exitText(owner)}` : ''}${said ? `: "${said}"` : ''}`,
    hint: hint(name, elsewhere),
    weightNs: failed ? wallNs(owner, ctx) : 0, explainsFailure: failed,
    attributes: { 'gostall.cause.tool': name, ...(elsewhere ? { 'gostall.cause.path': elsewhere } : {}) },
  };
}

/**
 * Go's exec.LookPath or a shell searched PATH with stat (routine ENOENTs the probe counts)
 * and said the tool is missing; the process failed, and the PATH it had must agree.
 */
function lookPathFailure(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  if (!exitedWithFailure(p) || !ctx.findExecutable || p.sums.stat.enoent === 0) return undefined;
  const line = stderrLine(p, SEARCH_FAILED_ANY, 400);
  const name = line ? SEARCH_FAILED.map((re) => re.exec(line)?.[1]).find((n) => n !== undefined) : undefined;
  const path = ctx.envOf?.(p)?.PATH;
  if (!name || path === undefined) return undefined;
  const dirs = [...new Set(path.split(':').filter((d) => d.startsWith('/')))];
  if (ctx.findExecutable(name, dirs) !== undefined) return undefined;
  const elsewhere = ctx.findExecutable(name, goToolDirs(p, ctx).filter((d) => !dirs.includes(d)));
  if (!GO_TOOLS.has(name) && elsewhere === undefined) return undefined;
  return cause(p, name, dirs, elsewhere, `PATH searched, ${p.sums.stat.enoent} lookups failed with ENOENT`, ctx);
}

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  const claimed = new Set<ProcessNode>();
  for (const [owner, attempts] of failedExecsByOwner(root)) {
    const missing = missingGoTool(owner, attempts, ctx);
    if (!missing) continue;
    claimed.add(owner);
    out.push(cause(owner, missing.name, missing.searched, missing.elsewhere, `execve failed with ENOENT in`, ctx));
  }
  for (const c of perProcess((p, x) => (claimed.has(p) ? undefined : lookPathFailure(p, x)))(root, ctx)) out.push(c);
  return out;
};
