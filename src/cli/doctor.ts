/** gostall doctor: what works on this machine and how to fix what does not. */
import { existsSync } from 'node:fs';
import { bpftraceVersion, checkTracingEnvironment, findBpftrace, hasBtf, hasTracingPrivilege, tracefsReady } from '../probe-runner/environment.js';

const REQUIRED_TRACEPOINTS = [
  'raw_syscalls/sys_enter', 'raw_syscalls/sys_exit', 'sched/sched_switch', 'sched/sched_process_exec',
  'sched/sched_process_fork', 'sched/sched_process_exit', 'sched/sched_process_free', 'sched/sched_wakeup', 'sock/inet_sock_set_state',
  'oom/mark_victim',
];

function tracepointExists(tp: string): boolean {
  return ['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'].some((d) => existsSync(`${d}/${tp}`));
}

export async function doctorCommand(): Promise<{ exitCode: number }> {
  const lines: string[] = [];
  const ok = (what: string) => lines.push(`  ok    ${what}`);
  const bad = (what: string, fix: string) => lines.push(`  FAIL  ${what}\n        fix: ${fix}`);
  lines.push(`gostall doctor (${process.platform}, node ${process.version})`);
  const problems = checkTracingEnvironment();
  const bin = findBpftrace();
  if (bin) {
    const v = bpftraceVersion(bin);
    if (!v) bad(`bpftrace at ${bin} did not report a version`, 'reinstall bpftrace');
    else if (v[0] === 0 && v[1] < 17) bad(`bpftrace ${v.join('.')} at ${bin} is older than 0.17`, 'install bpftrace 0.17 or newer');
    else ok(`bpftrace ${v.join('.')} at ${bin}`);
  }
  ok(`privileges: ${hasTracingPrivilege() ? 'can load eBPF programs' : 'missing'}`.replace(': missing', ''));
  if (hasBtf()) ok('kernel BTF at /sys/kernel/btf/vmlinux (struct access for exit codes and run-queue delay)');
  if (tracefsReady()) {
    const missing = REQUIRED_TRACEPOINTS.filter((t) => !tracepointExists(t));
    if (missing.length === 0) ok(`tracepoints: ${REQUIRED_TRACEPOINTS.length} needed, all present`);
    else bad(`tracepoints missing: ${missing.join(', ')}`, 'use a kernel with CONFIG_FTRACE_SYSCALLS and sched/sock tracepoints; the evidence from the missing ones will be absent');
  }
  for (const p of problems) bad(p.what, p.fix);
  if (!hasTracingPrivilege()) lines.splice(lines.findIndex((l) => l.includes('privileges')), 1);
  lines.push(problems.length === 0 ? 'gostall run and gostall agent will work here.' : 'gostall run and gostall agent will not work until the failures above are fixed.');
  process.stdout.write(`${lines.join('\n')}\n`);
  return { exitCode: problems.length === 0 ? 0 : 2 };
}
