/**
 * The short tracepoint list bpftrace compiles against: exactly the tracepoints the program
 * attaches to, as the kernel lists them, and nothing the kernel does not have.
 */
import { describe, expect, it } from 'vitest';
import { renameHookUsable, shortEventList, tracepointsIn } from '../../src/probe-runner/event-list.js';
import { probeProgram } from '../../src/probe-runner/probe-text.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxProbeScript } from '../../src/paths.js';

const AVAILABLE = ['sched:sched_switch', 'sched:sched_wakeup', 'sched:sched_stat_runtime', 'syscalls:sys_enter_openat',
  'syscalls:sys_exit_openat', 'syscalls:sys_enter_read', 'raw_syscalls:sys_enter', ''].join('\n');

describe('the tracepoint list bpftrace is shown', () => {
  it('names each attach point, also in comma lists and multi-line headers', () => {
    const program = 'tracepoint:sched:sched_switch\n{ }\ntracepoint:syscalls:sys_exit_openat, tracepoint:syscalls:sys_exit_statx,\ntracepoint:syscalls:sys_exit_getdents64\n/@x/ { }\n';
    expect([...tracepointsIn(program)].sort()).toEqual(['sched:sched_switch', 'syscalls:sys_exit_getdents64', 'syscalls:sys_exit_openat', 'syscalls:sys_exit_statx']);
  });

  it('keeps the kernel\'s lines for those tracepoints only, and leaves out ones the kernel lacks', () => {
    const program = 'tracepoint:sched:sched_switch { }\ntracepoint:syscalls:sys_exit_openat, tracepoint:syscalls:sys_exit_nosuch { }\n';
    expect(shortEventList(AVAILABLE, program)).toBe('sched:sched_switch\nsyscalls:sys_exit_openat\n');
  });

  it('covers every tracepoint of both probe sets', () => {
    const source = readFileSync(linuxProbeScript(), 'latin1');
    const run = tracepointsIn(probeProgram(source, 'run', 'x64'));
    const agent = tracepointsIn(probeProgram(source, 'agent', 'x64', { stderr: true }));
    expect([...run]).toEqual(expect.arrayContaining(['raw_syscalls:sys_enter', 'raw_syscalls:sys_exit', 'sched:sched_switch', 'sched:sched_process_exit', 'sock:inet_sock_set_state']));
    expect([...agent]).toEqual(expect.arrayContaining(['syscalls:sys_enter_newfstatat', 'syscalls:sys_exit_socket', 'syscalls:sys_enter_write', 'syscalls:sys_enter_renameat']));
    expect(agent.has('raw_syscalls:sys_enter')).toBe(false);
  });
});

describe('the agent\'s rename hook (bin/gostall\'s named shim)', () => {
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

  it('is loaded where the tracepoint has the renamed task\'s pid and its new name, and left out where it does not', () => {
    const dirs = [tracefs(KERNEL_6), tracefs(KERNEL_6.filter((f) => !f.includes('pid_t'))), tracefs(['field:__data_loc char[] newcomm;\toffset:8;\tsize:4;\tsigned:0;']), tracefs(undefined)];
    try {
      expect(dirs.map((d) => renameHookUsable([d]))).toEqual([true, false, false, false]);
      // the first mount that has the tracepoint decides
      expect(renameHookUsable([dirs[3]!, dirs[0]!])).toBe(true);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
    const source = readFileSync(linuxProbeScript(), 'latin1');
    expect(tracepointsIn(probeProgram(source, 'agent', 'x64', { renameHook: true })).has('task:task_rename')).toBe(true);
    expect(tracepointsIn(probeProgram(source, 'agent', 'x64')).has('task:task_rename')).toBe(false);
    expect(tracepointsIn(probeProgram(source, 'run', 'x64', { renameHook: true })).has('task:task_rename')).toBe(false);
  });
});
