/**
 * What the tracer needs from this machine, checked before anything is started so a
 * missing piece is one clear line with its fix (exit 2), never a half-traced command.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { readProcText } from '../vocabulary/procfs.js';
import { delimiter, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { release as osRelease } from 'node:os';
import { capabilityNames, isEssentialHere, missingCapabilities, ownCapabilitySets, type CapabilitySets } from './capabilities.js';
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

/** Whether this process can start the tracer: uid 0 (bpftrace 0.17 refuses others) with the essential capabilities. */
export function hasTracingPrivilege(sets: CapabilitySets = ownCapabilitySets()): boolean {
  return process.geteuid?.() === 0 && missingCapabilities(sets).every((c) => !isEssentialHere(c));
}

/** The install command for a system package on Debian/Ubuntu and on Fedora. */
export function installHint(debian: string, fedora: string = debian): string {
  return `install it: sudo apt-get install -y ${debian} (Debian/Ubuntu) or sudo dnf install -y ${fedora} (Fedora)`;
}

const CAPABILITY_LIST = capabilityNames().join(', ');

/** The privilege problem that stops tracing, if any: never a wrong cause (checked before tracefs). */
export function privilegeProblem(sets: CapabilitySets = ownCapabilitySets()): Problem | undefined {
  const essential = missingCapabilities(sets).filter((c) => isEssentialHere(c));
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) {
    const held = essential.length === 0 ? 'it holds the capabilities, but ' : `it lacks ${essential.map((c) => `CAP_${c.name}`).join(', ')}, and `;
    return {
      what: `no privilege to load eBPF programs: gostall runs as uid ${uid}; ${held}bpftrace 0.17 runs only as root (uid 0)`,
      fix: `run gostall as root (sudo gostall …); to limit root, bound it to the capabilities ${CAPABILITY_LIST} (docs/deploy.md)`,
    };
  }
  if (essential.length === 0) return undefined;
  return {
    what: `missing capability ${essential.map((c) => `CAP_${c.name}`).join(', ')}: ${essential.map((c) => c.without).join('; ')}`,
    fix: `grant ${CAPABILITY_LIST} (container: --cap-add for each; systemd: CapabilityBoundingSet; Kubernetes: securityContext.capabilities.add)`,
  };
}

/** Capabilities whose absence costs evidence but does not stop tracing. */
export function capabilityWarnings(sets: CapabilitySets = ownCapabilitySets()): Problem[] {
  return missingCapabilities(sets).filter((c) => !isEssentialHere(c)).map((c) => ({
    what: `missing capability CAP_${c.name} (${c.why}): ${c.without}`,
    fix: `grant CAP_${c.name} as well (the full list: ${CAPABILITY_LIST})`,
  }));
}

/**
 * Before Linux 5.11 eBPF maps count against RLIMIT_MEMLOCK, and bpftrace can raise it only
 * with CAP_SYS_RESOURCE (not in the list: newer kernels charge the memory cgroup instead).
 */
export function memlockProblem(release: string = osRelease(), limits?: string): Problem | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m || Number(m[1]) * 1000 + Number(m[2]) >= 5011) return undefined;
  const text = limits ?? (readProcText('/proc/self/limits') ?? '');
  const soft = /^Max locked memory\s+(\S+)/m.exec(text)?.[1];
  if (soft === 'unlimited') return undefined;
  return {
    what: `kernel ${release} counts eBPF maps against the locked-memory limit (${soft ?? '?'} bytes)`,
    fix: 'raise it: systemd LimitMEMLOCK=infinity, podman/docker --ulimit memlock=-1:-1, or ulimit -l unlimited before gostall',
  };
}

export const TRACEFS = '/sys/kernel/tracing';
/** Where tracefs may be seen: its own mount, or under debugfs on older set-ups. */
export const TRACEFS_MOUNTS = [TRACEFS, '/sys/kernel/debug/tracing'];

/** Whether tracepoint definitions are visible (tracefs mounted). */
export function tracefsReady(): boolean {
  return TRACEFS_MOUNTS.some((d) => existsSync(join(d, 'events/syscalls')));
}

/**
 * Whether the kernel's task:task_rename tracepoint has the fields the agent's rename hook
 * reads (the renamed task's pid and its new name as 16 chars): the hook that sees
 * bin/gostall's shim, a fork that names itself (probes/linux/gostall.bt). A kernel whose
 * format differs, or a tracefs that cannot be read, leaves the hook out rather than failing
 * the agent's whole program; that agent refuses named shims, and run uses an exec'd one.
 */
export function renameHookUsable(mounts: readonly string[] = TRACEFS_MOUNTS): boolean {
  for (const d of mounts) {
    const format = readProcText(join(d, 'events/task/task_rename/format'));
    if (format !== undefined) return /\bfield:pid_t pid;/.test(format) && /\bfield:char newcomm\[16\];/.test(format);
  }
  return false;
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
    return [{ what: `gostall's eBPF probes need Linux (this is ${process.platform})`, fix: 'run gostall inside a Linux VM or container (Docker Desktop, Colima, WSL2; see docs/deploy.md): it traces the Go tools that run in that VM; there is no macOS tracer yet' }];
  }
  const problems: Problem[] = [];
  if (!syscallNumbers()) {
    problems.push({ what: `gostall does not know the syscall numbers of the ${process.arch} architecture`, fix: `run it on ${SUPPORTED_ARCHS.join(' or ')} (add a table to src/vocabulary/syscalls.ts for another one)` });
  }
  const bin = findBpftrace(env);
  if (!bin && env.GOSTALL_BPFTRACE) {
    problems.push({ what: `GOSTALL_BPFTRACE=${env.GOSTALL_BPFTRACE} is not an executable file`, fix: 'point it at bpftrace (e.g. /usr/bin/bpftrace) or unset it' });
  } else if (!bin) {
    problems.push({ what: 'bpftrace not found on PATH', fix: `${installHint('bpftrace')}, or set GOSTALL_BPFTRACE=/path/to/bpftrace` });
  }
  const privilege = privilegeProblem();
  if (privilege) problems.push(privilege);
  else if (!mountTracefs()) problems.push({ what: 'tracefs is not mounted, so no tracepoints are visible', fix: 'mount it: sudo mount -t tracefs nodev /sys/kernel/tracing' });
  const memlock = memlockProblem();
  if (memlock) problems.push(memlock);
  if (!hasBtf()) problems.push({ what: 'the kernel has no BTF (/sys/kernel/btf/vmlinux)', fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.4 are)' });
  return problems;
}
