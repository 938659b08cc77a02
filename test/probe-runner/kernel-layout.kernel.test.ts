/**
 * The offsets gostall finds in this kernel's BTF read the same values as bpftrace's own
 * struct access (`curtask->field`, bpftrace resolving the types itself), on a real process:
 * the probe's exit codes, parents, argv, CPU time, run-queue delay and, in a PID namespace,
 * the ids of every task come from them.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { findBpftrace } from '../../src/probe-runner/environment.js';
import { kernelLayoutParams, LAYOUT_FIELDS } from '../../src/probe-runner/kernel-layout.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-layout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** $1 = the pid to look at; $2.. = kernelLayoutParams() in order. Each line: name, bpftrace's value, the offset's value. */
const PROGRAM = `
BEGIN { printf("attached\\n"); }
tracepoint:syscalls:sys_enter_exit_group /pid == $1/ {
  $t = (uint64)curtask;
  printf("real_parent %llu %llu\\n", (uint64)curtask->real_parent, *(uint64 *)($t + $2));
  printf("tgid %d %d\\n", curtask->tgid, *(int32 *)($t + $3));
  printf("mm %llu %llu\\n", (uint64)curtask->mm, *(uint64 *)($t + $4));
  printf("arg_start %llu %llu\\n", curtask->mm->arg_start, *(uint64 *)(*(uint64 *)($t + $4) + $5));
  printf("arg_end %llu %llu\\n", curtask->mm->arg_end, *(uint64 *)(*(uint64 *)($t + $4) + $6));
  printf("sum_exec_runtime %llu %llu\\n", curtask->se.sum_exec_runtime, *(uint64 *)($t + $7));
  printf("run_delay %llu %llu\\n", curtask->sched_info.run_delay, *(uint64 *)($t + $8));
  printf("nvcsw %llu %llu\\n", curtask->nvcsw, *(uint64 *)($t + $9));
  printf("nivcsw %llu %llu\\n", curtask->nivcsw, *(uint64 *)($t + $10));
  printf("signal %llu %llu\\n", (uint64)curtask->signal, *(uint64 *)($t + $11));
  printf("syscr %llu %llu\\n", curtask->ioac.syscr, *(uint64 *)($t + $14));
  printf("stack %llu %llu\\n", (uint64)curtask->stack, *(uint64 *)($t + $15));
  $regs = (struct pt_regs *)((uint64)curtask->stack + 16384 - sizeof(struct pt_regs));
  printf("pt_regs_size %d %d\\n", sizeof(struct pt_regs), $18);
  printf("orig_ax %llu %llu\\n", $regs->orig_ax, *(uint64 *)((uint64)$regs + $16));
  printf("di %llu %llu\\n", $regs->di, *(uint64 *)((uint64)$regs + $17));
  printf("thread_pid %llu %llu\\n", (uint64)curtask->thread_pid, *(uint64 *)($t + $19));
  printf("group_leader %llu %llu\\n", (uint64)curtask->group_leader, *(uint64 *)($t + $20));
  $tp = curtask->thread_pid;
  printf("pid_level %d %d\\n", $tp->level, *(uint32 *)((uint64)$tp + $21));
  $u = (struct upid *)((uint64)$tp + sizeof(struct pid) + $tp->level * sizeof(struct upid));
  $v = (uint64)$tp + $22 + $tp->level * $23;
  printf("upid_nr %d %d\\n", $u->nr, *(int32 *)($v + $24));
  printf("ns_inum %u %u\\n", $u->ns->ns.inum, *(uint32 *)(*(uint64 *)($v + $25) + $26));
}
tracepoint:sched:sched_process_exit /pid == $1/ {
  $t = (uint64)curtask;
  printf("live %d %d\\n", curtask->signal->live.counter, *(int32 *)(*(uint64 *)($t + $11) + $12));
  printf("exit_code %d %d\\n", curtask->exit_code, *(int32 *)($t + $13));
  exit();
}
`;

describe('task field offsets on this kernel', () => {
  it('read what bpftrace reads through the kernel\'s types, field by field', async () => {
    expect(process.arch, 'this check is written for x86_64 (pt_regs.orig_ax)').toBe('x64');
    const bpftrace = findBpftrace();
    if (!bpftrace) throw new Error('bpftrace not found');
    const params = kernelLayoutParams();
    expect(params).toHaveLength(LAYOUT_FIELDS.length);
    const script = join(dir, 'layout.bt');
    writeFileSync(script, PROGRAM);
    // a process that waits for its go, burns a little CPU, then exits 7 with exit_group
    const child = spawn('bash', ['-c', 'read -r _; for i in $(seq 3000); do :; done; exit 7'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = once(child, 'exit');
    try {
      const tracer = execa(bpftrace, [script, String(child.pid), ...params], { reject: false, all: true, buffer: true, timeout: 120_000 });
      let out = '';
      tracer.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        // BEGIN runs once every probe is attached ("Attaching N probes" comes before)
        if (/^attached$/m.test(out) && !child.stdin!.writableEnded) child.stdin!.end('go\n');
      });
      const r = await tracer;
      await exited;
      const rows = new Map(out.split('\n').filter((l) => /^[a-z_]+ -?\d+ -?\d+$/.test(l)).map((l) => { const [n, a, b] = l.split(' '); return [n!, [a!, b!]]; }));
      expect([...rows.keys()].sort(), r.all).toEqual(['arg_end', 'arg_start', 'di', 'exit_code', 'group_leader', 'live', 'mm', 'nivcsw', 'ns_inum', 'nvcsw', 'orig_ax',
        'pid_level', 'pt_regs_size', 'real_parent', 'run_delay', 'signal', 'stack', 'sum_exec_runtime', 'syscr', 'tgid', 'thread_pid', 'upid_nr'].sort());
      for (const [name, [viaTypes, viaOffset]] of rows) expect(viaOffset, name).toBe(viaTypes);
      // and the values are the process's own, not two equal zeros
      expect(Number(rows.get('tgid')![0])).toBe(child.pid);
      expect(Number(rows.get('exit_code')![0])).toBe(7 << 8);
      expect(Number(rows.get('sum_exec_runtime')![0])).toBeGreaterThan(0);
      expect(Number(rows.get('arg_end')![0])).toBeGreaterThan(Number(rows.get('arg_start')![0]));
      expect(Number(rows.get('syscr')![0])).toBeGreaterThan(0);
      // the process's id in its own (the innermost) PID namespace, and that namespace's inode
      expect(Number(rows.get('upid_nr')![0])).toBe(child.pid);
      expect(Number(rows.get('ns_inum')![0])).toBe(Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1]));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
