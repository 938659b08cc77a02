/**
 * The short tracepoint list bpftrace compiles against: exactly the tracepoints the program
 * attaches to, as the kernel lists them, and nothing the kernel does not have.
 */
import { describe, expect, it } from 'vitest';
import { shortEventList, tracepointsIn } from '../../src/probe-runner/event-list.js';
import { probeProgram } from '../../src/probe-runner/probe-text.js';
import { readFileSync } from 'node:fs';
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
