/**
 * exec.failed: a process of the tree tried to start a program and the kernel refused: the
 * tool is not installed where PATH, GOROOT or -toolexec say (ENOENT), not executable or on a
 * noexec mount (EACCES), or not a program for this machine (ENOEXEC).
 */
import { errnoName } from '../../events/schema.js';
import type { Cause, Rule } from '../types.js';
import { failedExecsByOwner, missingGoTool } from '../exec-attempts.js';
import { absolutePath } from '../context-paths.js';
import { distinct, exitedWithFailure, wallNs } from '../evidence.js';
import { listSome, plural } from '../format.js';

export const ID = 'exec.failed';

export const THRESHOLDS = {
  /**
   * Any failed execve that was not followed by a successful one in the same process counts:
   * a shell's PATH search fails in every directory before the one holding the program, and
   * the process tree drops those failures once the exec succeeds.
   */
  minFailures: 1,
} as const;

const MEANING: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied: not executable, or on a noexec mount',
  ENOEXEC: 'not an executable for this machine',
  ETXTBSY: 'the file is open for writing',
};

const HINTS: Record<string, string> = {
  ENOENT: 'install the missing tool or fix the path that names it: PATH, GOROOT (`go env GOROOT`; Go\'s own tools live in $GOROOT/pkg/tool/), GOBIN, or the -toolexec / go.toolsGopath settings',
  EACCES: 'make the file executable (chmod +x) or remount its filesystem without noexec',
  ENOEXEC: 'the file is for another architecture or a script without a #! line: reinstall the tool for this platform',
};

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const [o, list] of failedExecsByOwner(root)) {
    if (list.length < THRESHOLDS.minFailures) continue;
    // A Go tool missing from PATH is go.tool_not_found's, with the PATH and where the tool is.
    if (missingGoTool(o, list, ctx)) continue;
    const errnos = distinct(list.map((x) => errnoName(-x.e.ret)));
    const paths = distinct(list.map((x) => (x.e.path !== undefined ? absolutePath(x.e.path, ctx.workspace) ?? x.e.path : '?')));
    const children = distinct(list.filter((x) => x.p !== o).map((x) => x.p.pid));
    const goroot = ctx.go?.GOROOT;
    const inGoroot = goroot && paths.some((x) => x.startsWith(`${goroot}/`)) ? ` (GOROOT is ${goroot})` : '';
    const failed = exitedWithFailure(o) || list.some((x) => exitedWithFailure(x.p));
    const evidence = `could not start ${listSome(paths)}${inGoroot}: execve failed with ` +
      `${errnos.map((n) => `${n} (${MEANING[n] ?? 'error'})`).join(', ')} ${plural(list.length, 'time')}` +
      `${children.length > 0 ? ` in forked ${children.length === 1 ? 'child' : 'children'} ${listSome(children.map(String))}` : ''}` +
      `${failed ? '; the command failed' : ''}`;
    out.push({
      id: ID, process: o, evidence, hint: HINTS[errnos[0]!] ?? HINTS.ENOENT!,
      weightNs: failed ? wallNs(o, ctx) : list.reduce((s, x) => s + x.e.latencyNs, 0), explainsFailure: failed,
      attributes: { 'gostall.cause.path': paths[0]! },
    });
  }
  return out;
};
