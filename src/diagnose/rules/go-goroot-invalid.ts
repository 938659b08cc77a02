/**
 * go.goroot_invalid: the go command failed because the GOROOT it used is missing, is not a
 * Go tree, or belongs to another Go version than the go binary (a GOROOT left over from a
 * manual install or another toolchain in a shell profile). Go says so on stderr ("cannot
 * find GOROOT directory"); gostall names the cause only when the GOROOT on disk agrees.
 */
import type { ProcessNode } from '../../model/process.js';
import type { Cause, DiagnosisContext, GoRootInfo, Rule } from '../types.js';
import { exitText, exitedWithFailure, isGoCommand, perProcess, processLabel, stderrLine, wallNs } from '../evidence.js';
import { absolutePath } from '../context-paths.js';

export const ID = 'go.goroot_invalid';

export const THRESHOLDS = {
  /**
   * Any failed go command whose GOROOT is wrong on disk counts: measured here, `GOROOT=/missing
   * go build` fails in ~10 ms with "go: cannot find GOROOT directory" (exit 2), and GOROOT at a
   * directory without src/ fails with "package fmt is not in GOROOT" (exit 1). A go that
   * succeeded had a usable GOROOT, whatever the variable says.
   */
  mustFail: true,
} as const;

/** GOROOT paths Go names in its own messages. */
const GOROOT_IN_STDERR = [/cannot find GOROOT directory: (\S+)/, /is not in GOROOT \((\/\S*?)\/src\//, /GOROOT=(\/\S+)/];
/** Lines of stderr worth quoting for this cause. */
const GOROOT_LINE = /GOROOT|does not match go tool version/;

const HINT = 'unset GOROOT (the go binary finds its own installation) or set it to the installation the go binary belongs to; ' +
  'check shell profiles and IDE settings (go.goroot) that export GOROOT';

/** The GOROOT the failing go used: the one Go named on stderr, else the process's variable. */
function gorootUsed(p: ProcessNode, ctx: DiagnosisContext): { path: string; source: string } | undefined {
  const stderr = stderrLine(p, GOROOT_LINE, 400);
  const own = ctx.envOf?.(p)?.GOROOT;
  for (const re of GOROOT_IN_STDERR) {
    const m = stderr ? re.exec(stderr) : null;
    const named = m?.[1]!.replace(/[):,]+$/, '');
    if (named) return { path: named, source: named === own ? 'set in its environment' : 'named by go' };
  }
  if (own) return { path: own, source: 'set in its environment' };
  return undefined;
}

/** What is wrong with a GOROOT, compared with the go binary's own installation; undefined if nothing. */
function problemWith(info: GoRootInfo, binaryRoot: GoRootInfo | undefined): string | undefined {
  if (!info.exists) return `${info.path} does not exist`;
  if (!info.isGoTree) return `${info.path} is not a Go installation (no src/runtime)`;
  if (binaryRoot && info.version && binaryRoot.version && info.version !== binaryRoot.version && binaryRoot.path !== info.path) {
    return `${info.path} is ${info.version} but the go binary is ${binaryRoot.version} (from ${binaryRoot.path})`;
  }
  return undefined;
}

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  if (!isGoCommand(p) || !exitedWithFailure(p) || !ctx.inspectGoroot) return undefined;
  const used = gorootUsed(p, ctx);
  if (!used) return undefined;
  const path = absolutePath(used.path, ctx.workspace) ?? used.path;
  const exe = absolutePath(p.exec!.filename, ctx.workspace);
  const binaryRootPath = exe ? ctx.gorootOfExecutable?.(exe) : undefined;
  const binaryRoot = binaryRootPath ? ctx.inspectGoroot(binaryRootPath) : undefined;
  const problem = problemWith(ctx.inspectGoroot(path), binaryRoot);
  if (!problem) return undefined;
  const said = stderrLine(p, GOROOT_LINE);
  const own = binaryRoot && binaryRoot.path !== path ? `; the go binary's own GOROOT is ${binaryRoot.path}` : '';
  return {
    id: ID, process: p,
    evidence: `GOROOT ${problem} (${used.source})${own}; ${processLabel(p)} ${exitText(p)}${said ? `: "${said}"` : ''}`,
    hint: binaryRoot && binaryRoot.path !== path ? `${HINT} (${binaryRoot.path} here)` : HINT,
    weightNs: wallNs(p, ctx), explainsFailure: true,
    attributes: { 'gostall.cause.path': path },
  };
}

export const rule: Rule = perProcess(judge);
