/**
 * Failed execve calls grouped by the process that wanted the program, and the reading of a
 * group as a PATH search that found nothing (every directory tried, ENOENT in each). Shared
 * by go.tool_not_found (a Go tool missing from PATH) and exec.failed (every other failure),
 * so that one failure is never both.
 */
import { SC } from '../vocabulary/syscalls.js';
import { walk } from '../model/tree.js';
import { errnoName } from '../events/schema.js';
import type { SlowSyscallEvent } from '../events/types.js';
import type { ProcessNode } from '../model/process.js';
import type { DiagnosisContext } from './types.js';
import { absolutePath } from './context-paths.js';
import { stderrText } from '../model/stderr.js';

const EXECVE = SC.execve;

/** How Go's exec.LookPath, dash, bash, zsh and env say a PATH search found nothing (group 1: the name). */
export const NAME_RE_SOURCE = '([A-Za-z0-9._+-]{1,64})';
export const SEARCH_FAILED = [
  new RegExp(`exec: "${NAME_RE_SOURCE}": executable file not found in \\$PATH`),
  new RegExp(`^\\S*sh: (?:\\d+: |line \\d+: )?${NAME_RE_SOURCE}: (?:command )?not found`),
  new RegExp(`^zsh: command not found: ${NAME_RE_SOURCE}`),
  new RegExp(`^env: ['\u2018]?${NAME_RE_SOURCE}['\u2019]?: No such file or directory`),
];
export const SEARCH_FAILED_ANY = new RegExp(SEARCH_FAILED.map((r) => r.source).join('|'));

export interface ExecAttempt { p: ProcessNode; e: SlowSyscallEvent }

/**
 * The process a failure belongs to: a child forked to exec the tool that never ran a program
 * of its own (it still shows its parent's, exec'd before the fork) is its parent's attempt.
 */
export function attemptOwner(p: ProcessNode): ProcessNode {
  const ownExec = p.exec !== undefined && p.exec.ts >= p.startNs;
  return !ownExec && p.parent ? p.parent : p;
}

/** Failed execve calls of the tree by owner (successful PATH searches were already dropped by the model). */
export function failedExecsByOwner(root: ProcessNode): Map<ProcessNode, ExecAttempt[]> {
  const byOwner = new Map<ProcessNode, ExecAttempt[]>();
  for (const p of walk(root)) {
    for (const e of p.failedSyscalls) {
      if (e.sc !== EXECVE || e.ret >= 0) continue;
      const o = attemptOwner(p);
      const list = byOwner.get(o) ?? [];
      list.push({ p, e });
      byOwner.set(o, list);
    }
  }
  return byOwner;
}

/** Programs written in Go that developers install with `go install` (or that are Go itself). */
export const GO_TOOLS = new Set(['go', 'gofmt', 'gopls', 'dlv', 'dlv-dap', 'staticcheck', 'golangci-lint', 'goimports', 'gotests',
  'gomodifytags', 'impl', 'govulncheck', 'revive', 'mockgen', 'stringer', 'gotestsum', 'goreleaser', 'protoc-gen-go',
  'protoc-gen-go-grpc', 'air', 'ko', 'gofumpt', 'golint', 'godoc', 'guru', 'gorename', 'fillstruct', 'go-outline', 'gocode']);

export interface MissingTool {
  name: string;
  /** directories the kernel saw tried, in order */
  searched: string[];
  attempts: ExecAttempt[];
}

/** The attempts as a fruitless search for one program name: ENOENT for <dir>/<name> (or bare name) each time. */
export function asPathSearch(attempts: ExecAttempt[], ctx: DiagnosisContext): MissingTool | undefined {
  let name: string | undefined;
  const searched: string[] = [];
  for (const { e } of attempts) {
    if (errnoName(-e.ret) !== 'ENOENT' || e.path === undefined || e.pathTruncated) return undefined;
    const slash = e.path.lastIndexOf('/');
    const base = e.path.slice(slash + 1);
    if (name !== undefined && base !== name) return undefined;
    name = base;
    if (slash > 0) searched.push(absolutePath(e.path.slice(0, slash), ctx.workspace) ?? e.path.slice(0, slash));
  }
  if (name === undefined || name === '') return undefined;
  // One directory tried (once or again and again) is a configured location (GOROOT/pkg/tool,
  // -toolexec, a setting), not a search, unless it is on PATH or the program that tried says
  // its search found nothing.
  if (new Set(searched).size === 1 && searched.length === attempts.length) {
    const a = attempts[0]!;
    const pathDirs = (ctx.envOf?.(a.p)?.PATH ?? '').split(':');
    const said = stderrText(attemptOwner(a.p).stderr) ?? stderrText(a.p.stderr) ?? '';
    if (!pathDirs.includes(searched[0]!) && !said.split('\n').some((l) => SEARCH_FAILED_ANY.test(l))) return undefined;
  }
  return { name, searched: [...new Set(searched)], attempts };
}

/** Where `go install` and Go installations put programs, for a process's Go environment. */
export function goToolDirs(p: ProcessNode, ctx: DiagnosisContext): string[] {
  const go = ctx.goEnvOf?.(p) ?? ctx.go;
  const env = ctx.envOf?.(p);
  const dirs = [env?.GOBIN, ...(go?.GOPATH?.split(':').map((d) => `${d}/bin`) ?? []),
    go?.HOME ? `${go.HOME}/go/bin` : undefined, go?.GOROOT ? `${go.GOROOT}/bin` : undefined, '/usr/local/go/bin'];
  return [...new Set(dirs.filter((d): d is string => d !== undefined && d.startsWith('/')))];
}

/** A fruitless PATH search for a Go tool (a known one, or one `go install` put elsewhere), with where it is. */
export function missingGoTool(owner: ProcessNode, attempts: ExecAttempt[], ctx: DiagnosisContext): (MissingTool & { elsewhere: string | undefined }) | undefined {
  const search = asPathSearch(attempts, ctx);
  if (!search) return undefined;
  const elsewhere = ctx.findExecutable?.(search.name, goToolDirs(owner, ctx).filter((d) => !search.searched.includes(d)));
  if (!GO_TOOLS.has(search.name) && elsewhere === undefined) return undefined;
  return { ...search, elsewhere };
}
