/**
 * gostall doctor: what works on this machine and how to fix what does not. The blocking
 * checks are those of run/agent (checkTracingEnvironment), so doctor never says "will work"
 * where run then fails; capabilities that only cost evidence are warnings.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CAPABILITIES, missingCapabilities } from '../probe-runner/capabilities.js';
import {
  bpftraceVersion, capabilityWarnings, checkTracingEnvironment, findBpftrace, findSetpriv, hasBtf,
  installHint, privilegeProblem, renameHookUsable, TRACEFS_MOUNTS, tracefsReady,
} from '../probe-runner/environment.js';
import { kernelLayoutParams, LAYOUT_FIELDS } from '../probe-runner/kernel-layout.js';
import { VERSION } from './version.js';
import { agentStatusLine, askAgentStatus } from './agent-status.js';
import { runSocketPath } from '../agent/run-protocol.js';

const REQUIRED_TRACEPOINTS = [
  'raw_syscalls/sys_enter', 'raw_syscalls/sys_exit', 'sched/sched_switch', 'sched/sched_process_exec',
  'sched/sched_process_fork', 'sched/sched_process_exit', 'sched/sched_process_free', 'sched/sched_wakeup', 'sock/inet_sock_set_state',
  'oom/mark_victim',
];

function tracepointExists(tp: string): boolean {
  return TRACEFS_MOUNTS.some((d) => existsSync(`${d}/events/${tp}`));
}

interface Report { ok(what: string): void; note(what: string, fix: string): void; warn(what: string, fix: string): void; bad(what: string, fix: string): void; lines: string[] }

function createReport(): Report {
  const lines: string[] = [];
  return {
    lines,
    ok: (what) => lines.push(`  ok    ${what}`),
    note: (what, fix) => lines.push(`  note  ${what}\n        ${fix}`),
    warn: (what, fix) => lines.push(`  WARN  ${what}\n        fix: ${fix}`),
    bad: (what, fix) => lines.push(`  FAIL  ${what}\n        fix: ${fix}`),
  };
}

/** The tracer and the helper it runs under, with the package that provides each. */
function checkTools(r: Report): void {
  const bin = findBpftrace();
  if (bin) {
    const v = bpftraceVersion(bin);
    if (!v) r.bad(`bpftrace at ${bin} did not report a version`, `reinstall it: ${installHint('bpftrace')}`);
    else if (v[0] === 0 && v[1] < 17) r.bad(`bpftrace ${v.join('.')} at ${bin} is older than 0.17`, 'install bpftrace 0.17 or newer');
    else r.ok(`bpftrace ${v.join('.')} at ${bin}`);
  }
  const setpriv = findSetpriv();
  if (setpriv) r.ok(`setpriv at ${setpriv} (ends bpftrace if gostall is killed)`);
  else r.warn('setpriv not found: if gostall is killed outright its probes stay attached until bpftrace notices', installHint('util-linux', 'util-linux-core'));
  // shim/gostall-bpftrace: the short tracepoint list needs a mount namespace of bpftrace's own
  const ns = spawnSync('unshare', ['--mount', '--propagation', 'slave', 'true'], { stdio: 'ignore' });
  if (ns.status === 0) r.ok('bpftrace compiles against a short tracepoint list (a mount namespace of its own): ~0.4 s faster per gostall run, ~2 s faster agent start where the agent uses it (tracer.mountNamespace)');
  else r.warn('no mount namespace for bpftrace (unshare refused or missing): it compiles against the kernel\'s whole tracepoint list, ~0.4 s slower per gostall run, ~2 s slower agent start', 'allow unshare and mount for gostall (seccomp/AppArmor profile), or install util-linux');
  // the agent's hook on renames: bin/gostall's shim, a fork that names itself
  if (renameHookUsable()) r.ok('an agent sees bin/gostall\'s shim start from the kernel\'s task_rename tracepoint (no second perl start per run)');
  else r.warn('the kernel\'s task_rename tracepoint lacks the fields the agent reads: gostall run through an agent goes through Node (~0.2 s more per command)', 'none needed; a kernel with task:task_rename (pid, newcomm[16]) gives the faster path');
}

/** One line per capability of the list: held, or missing and what that costs. */
function checkCapabilities(r: Report): void {
  const missing = new Set(missingCapabilities().map((c) => c.name));
  const held = CAPABILITIES.filter((c) => !missing.has(c.name)).map((c) => `CAP_${c.name}`);
  if (held.length > 0) r.ok(`capabilities: ${held.join(', ')}`);
  for (const w of capabilityWarnings()) r.warn(w.what, w.fix);
}

function checkKernel(r: Report): void {
  if (hasBtf()) {
    // where the probe reads exit codes, run-queue delay, parents and namespace ids (kernel-layout.ts)
    try {
      kernelLayoutParams();
      r.ok(`kernel BTF at /sys/kernel/btf/vmlinux: the ${LAYOUT_FIELDS.length} task, pid and namespace fields the probe reads are there`);
    } catch (err) {
      r.bad(`kernel BTF: ${(err as Error).message}`, "gostall's probe cannot read this kernel's tasks: report the kernel (uname -r) and this line");
    }
  }
  // Tracepoints are only visible with the privilege to read tracefs: without it, say nothing
  // about them rather than "tracefs is not mounted" (the privilege line names the cause).
  if (privilegeProblem() === undefined && tracefsReady()) {
    const missing = REQUIRED_TRACEPOINTS.filter((t) => !tracepointExists(t));
    if (missing.length === 0) r.ok(`tracepoints: ${REQUIRED_TRACEPOINTS.length} needed, all present`);
    else r.bad(`tracepoints missing: ${missing.join(', ')}`, 'use a kernel with CONFIG_FTRACE_SYSCALLS and sched/sock tracepoints; the evidence from the missing ones will be absent');
  }
}

/** Whether run goes through an agent here (GOSTALL_AGENT_SOCKET, else the default socket): never a failure. */
async function checkAgent(r: Report): Promise<void> {
  const path = runSocketPath();
  const line = agentStatusLine(path, await askAgentStatus(path));
  if (line.level === 'ok') r.ok(line.what);
  else r[line.level](line.what, line.fix);
}

export async function doctorCommand(): Promise<{ exitCode: number }> {
  const r = createReport();
  r.lines.push(`gostall ${VERSION} doctor (${process.platform}, node ${process.version})`);
  const problems = checkTracingEnvironment();
  if (process.platform === 'linux') {
    checkTools(r);
    checkCapabilities(r);
    checkKernel(r);
    await checkAgent(r);
  }
  for (const p of problems) r.bad(p.what, p.fix);
  r.lines.push(problems.length === 0 ? 'gostall run and gostall agent will work here.' : 'gostall run and gostall agent will not work until the failures above are fixed.');
  process.stdout.write(`${r.lines.join('\n')}\n`);
  return { exitCode: problems.length === 0 ? 0 : 2 };
}
