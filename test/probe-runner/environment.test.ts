/**
 * Whether the agent loads its hook on renames (bin/gostall's shim, a fork that names itself):
 * only where the kernel's task_rename tracepoint has the fields the hook reads, so a kernel
 * with another format never fails the agent's whole program (src/probe-runner/environment.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renameHookUsable } from '../../src/probe-runner/environment.js';

/** a tracefs mount whose task_rename format has these field lines */
function tracefs(fields: string[] | undefined): string {
  const d = mkdtempSync(join(tmpdir(), 'gostall-tracefs-'));
  if (fields) {
    mkdirSync(join(d, 'events/task/task_rename'), { recursive: true });
    writeFileSync(join(d, 'events/task/task_rename/format'), ['name: task_rename', 'format:', ...fields.map((f) => `\t${f}`)].join('\n'));
  }
  return d;
}
const KERNEL_6 = ['field:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;', 'field:char oldcomm[16];\toffset:12;\tsize:16;\tsigned:0;',
  'field:char newcomm[16];\toffset:28;\tsize:16;\tsigned:0;', 'field:short oom_score_adj;\toffset:44;\tsize:2;\tsigned:1;'];

describe('the agent\'s rename hook (bin/gostall\'s named shim)', () => {
  it('is usable where the tracepoint has the renamed task\'s pid and its new name, and not where it does not', () => {
    const dirs = [tracefs(KERNEL_6), tracefs(KERNEL_6.filter((f) => !f.includes('pid_t'))), tracefs(['field:__data_loc char[] newcomm;\toffset:8;\tsize:4;\tsigned:0;']), tracefs(undefined)];
    try {
      expect(dirs.map((d) => renameHookUsable([d]))).toEqual([true, false, false, false]);
      // the first mount that has the tracepoint decides
      expect(renameHookUsable([dirs[3]!, dirs[0]!])).toBe(true);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
