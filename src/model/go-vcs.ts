/**
 * The version-control commands the go command runs to stamp a binary with VCS information
 * (-buildvcs, on by default since Go 1.18 when building a main package inside a checkout).
 * Go 1.19 (cmd/go/internal/vcs) runs, in the module's repository root:
 *   git status --porcelain; git -c log.showsignature=false show -s --format=%H:%ct
 *   hg status; hg log -l1 -T {node}:{date|hgdate}
 *   bzr version-info; bzr status          fossil info; fossil changes --differ
 * (newer Go: git … log -1 --format=%H:%ct). Module downloads also run git and hg under the
 * go command, with other subcommands (ls-remote, fetch, clone): those are not stamping.
 */
import { argvOf, executableName, type ProcessNode } from './process.js';

export type VcsTool = 'git' | 'hg' | 'bzr' | 'fossil';

const STAMPING: Record<VcsTool, (args: string[]) => boolean> = {
  git: (a) => (a.includes('status') && a.includes('--porcelain')) || a.includes('--format=%H:%ct'),
  hg: (a) => (a.length === 1 && a[0] === 'status') || a.includes('{node}:{date|hgdate}'),
  bzr: (a) => a.length === 1 && (a[0] === 'version-info' || a[0] === 'status'),
  fossil: (a) => (a.length === 1 && a[0] === 'info') || (a[0] === 'changes' && a.includes('--differ')),
};

/** The VCS tool p runs to stamp its parent go command's build, or undefined. */
export function vcsStampingTool(p: ProcessNode): VcsTool | undefined {
  if (!p.exec || !p.parent?.exec || executableName(p.parent) !== 'go') return undefined;
  const name = executableName(p);
  if (!(name in STAMPING)) return undefined;
  const args = argvOf(p).argv.slice(1);
  return STAMPING[name as VcsTool](args) ? (name as VcsTool) : undefined;
}
