/**
 * What the tracer needs from this machine, checked before anything is started so a
 * missing piece is one clear line with its fix (exit 2), never a half-traced command.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { readProcText } from '../vocabulary/procfs.js';
import { delimiter, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { SUPPORTED_ARCHS, syscallNumbers } from '../vocabulary/syscalls.js';

export interface Problem { what: string; fix: string }

/** The bpftrace binary: $GOSTALL_BPFTRACE, else the first on PATH. */
export function findBpftrace(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.GOSTALL_BPFTRACE;
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  return findExecutable('bpftrace', (env.PATH ?? '').split(delimiter));
}

/**
 * util-linux's setpriv (Essential on Debian and Ubuntu), used to give bpftrace a parent-death
 * signal: if gostall is killed outright, its probes must not stay attached behind its back.
 * The system copy first: it runs as root, before bpftrace.
 */
export function findSetpriv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findExecutable('setpriv', ['/usr/bin', '/bin', ...(env.PATH ?? '').split(delimiter)]);
}

function findExecutable(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** bpftrace's version as [major, minor, patch], or undefined when it will not say. */
export function bpftraceVersion(bin: string): [number, number, number] | undefined {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(out);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  } catch {
    return undefined;
  }
}

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** Effective capabilities of this process from /proc/self/status. */
function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readProcText('/proc/self/status') ?? '');
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Whether this process may load BPF programs and attach tracepoints. */
export function hasTracingPrivilege(): boolean {
  if (process.geteuid?.() === 0) return true;
  const caps = effectiveCaps();
  const has = (c: bigint) => (caps >> c) & 1n;
  return Boolean(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)));
}

export const TRACEFS = '/sys/kernel/tracing';

/** Whether tracepoint definitions are visible (tracefs mounted). */
export function tracefsReady(): boolean {
  return existsSync(join(TRACEFS, 'events/syscalls')) || existsSync('/sys/kernel/debug/tracing/events/syscalls');
}

/** Mount tracefs when it is missing (root only). bpftrace 0.17 does not do it itself. */
export function mountTracefs(): boolean {
  if (tracefsReady()) return true;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return tracefsReady();
}

export function hasBtf(): boolean {
  return existsSync('/sys/kernel/btf/vmlinux');
}

/** Problems that stop `gostall run`/`agent`, each with its fix; empty when tracing can start. */
export function checkTracingEnvironment(env: NodeJS.ProcessEnv = process.env): Problem[] {
  if (process.platform !== 'linux') {
    return [{ what: `gostall's eBPF probes need Linux (this is ${process.platform})`, fix: 'on macOS use the dtrace probes in probes/darwin; elsewhere run gostall inside a Linux VM or container' }];
  }
  const problems: Problem[] = [];
  if (!syscallNumbers()) {
    problems.push({ what: `gostall does not know the syscall numbers of the ${process.arch} architecture`, fix: `run it on ${SUPPORTED_ARCHS.join(' or ')} (add a table to src/vocabulary/syscalls.ts for another one)` });
  }
  const bin = findBpftrace(env);
  if (!bin && env.GOSTALL_BPFTRACE) {
    problems.push({ what: `GOSTALL_BPFTRACE=${env.GOSTALL_BPFTRACE} is not an executable file`, fix: 'point it at bpftrace (e.g. /usr/bin/bpftrace) or unset it' });
  } else if (!bin) {
    problems.push({ what: 'bpftrace not found on PATH', fix: 'install it: sudo apt-get install -y bpftrace (or set GOSTALL_BPFTRACE=/path/to/bpftrace)' });
  }
  if (!hasTracingPrivilege()) problems.push({ what: 'no privilege to load eBPF programs', fix: 'run gostall as root (sudo gostall …) or grant CAP_BPF and CAP_PERFMON' });
  else if (!mountTracefs()) problems.push({ what: 'tracefs is not mounted, so no tracepoints are visible', fix: 'mount it: sudo mount -t tracefs nodev /sys/kernel/tracing' });
  if (!hasBtf()) problems.push({ what: 'the kernel has no BTF (/sys/kernel/btf/vmlinux)', fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.4 are)' });
  return problems;
}
