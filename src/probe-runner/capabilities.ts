/**
 * The Linux capabilities gostall needs, defined once. doctor, the preflight of run/agent,
 * the README, the systemd unit, the DaemonSet, the Helm chart and the dev-container files all
 * use this list (test/deploy checks that every manifest grants exactly these).
 *
 * Measured on Linux 6.18 with Debian's bpftrace 0.17, as uid 0 with the bounding set cut
 * down (`setpriv --bounding-set -all,+…`), see docs/deploy.md "Capabilities":
 * - {SYS_ADMIN} alone: `run` of root's own commands and `agent` start and trace.
 * - without SYS_ADMIN (even with BPF + PERFMON): bpftrace fails with "unknown type name
 *   'pid_t'": it enumerates kernel BTF with bpf(BPF_BTF_GET_NEXT_ID), which the kernel
 *   allows only with CAP_SYS_ADMIN (strace: EPERM), so it has no types at all.
 * - SYS_PTRACE and DAC_READ_SEARCH: /proc/PID/{environ,syscall,fd,mem} of a process of
 *   another user are mode 0400 owned by that user (DAC) and guarded by the ptrace access
 *   check (SYS_PTRACE): both are needed, either alone gets EACCES/EPERM.
 * - IPC_LOCK: bpftrace mmaps one perf ring buffer per CPU (the agent: 1024 pages = 4 MiB each).
 *   Past the per-user perf allowance (perf_event_mlock_kb x CPUs, shared by every root
 *   tracer on the machine) the pages count against RLIMIT_MEMLOCK (8 MiB here), and the
 *   kernel refuses the mmap ("mmap: Operation not permitted", "Failed to open perf buffer")
 *   unless the process has CAP_IPC_LOCK. Measured: with SYS_ADMIN alone it worked while no
 *   other tracer ran and failed once others did; with IPC_LOCK it always worked. Not
 *   needed where RLIMIT_MEMLOCK is unlimited (systemd LimitMEMLOCK=infinity).
 * - SYS_RESOURCE is not needed: it is not even in this machine's bounding set. Since 5.11
 *   the kernel charges BPF memory to the memory cgroup instead of RLIMIT_MEMLOCK; doctor
 *   checks the limit on older kernels.
 * - bpftrace 0.17 refuses any uid but 0 ("only supports running as the root user") whatever
 *   its capabilities, so gostall runs as uid 0 with exactly these capabilities. bpftrace
 *   upstream replaced that check with a capability check (PR #4773, October 2025).
 */
import { readProcText } from '../vocabulary/procfs.js';

export interface Capability {
  /** Name without the CAP_ prefix, as Kubernetes and podman --cap-add write it. */
  name: string;
  /** Bit number in /proc/PID/status masks (include/uapi/linux/capability.h). */
  bit: number;
  /** Whether tracing cannot start at all without it (otherwise: less evidence). */
  essential: boolean;
  /** Why gostall needs it, in the words doctor uses. */
  why: string;
  /** What the user loses without it. */
  without: string;
}

export const CAPABILITIES: readonly Capability[] = [
  {
    name: 'SYS_ADMIN', bit: 21, essential: true,
    why: 'bpftrace 0.17 reads the kernel BTF through bpf(BPF_BTF_GET_NEXT_ID), which needs CAP_SYS_ADMIN; it also covers loading eBPF programs and opening tracepoints (CAP_BPF, CAP_PERFMON)',
    without: 'bpftrace cannot compile the probes ("unknown type name \'pid_t\'"): nothing is traced',
  },
  {
    name: 'IPC_LOCK', bit: 14, essential: true,
    why: "bpftrace's perf ring buffers (one per CPU) are locked memory beyond RLIMIT_MEMLOCK once the per-user perf allowance is used up",
    without: 'bpftrace cannot open its perf buffers ("mmap: Operation not permitted") unless the locked-memory limit is unlimited',
  },
  {
    name: 'SYS_PTRACE', bit: 19, essential: false,
    why: "read /proc/PID/{syscall,mem,fd,environ} of traced processes that belong to other users (the kernel's ptrace access check)",
    without: "processes of other users are traced, but calls stuck in the kernel get no path and their Go environment (GOCACHE, GOFLAGS…) is unknown",
  },
  {
    name: 'DAC_READ_SEARCH', bit: 2, essential: false,
    why: "the same /proc files are mode 0400 and owned by the traced process's user: reading them passes the file permission check only with this capability",
    without: 'as for SYS_PTRACE: less evidence about processes of other users',
  },
];

/** Whether RLIMIT_MEMLOCK is unlimited (then IPC_LOCK is not needed). */
export function memlockUnlimited(limits: string = readProcText('/proc/self/limits') ?? ''): boolean {
  return /^Max locked memory\s+unlimited\s/m.test(limits);
}

/** Whether tracing cannot start without this capability on this machine. */
export function isEssentialHere(c: Capability, limits?: string): boolean {
  return c.essential && !(c.name === 'IPC_LOCK' && memlockUnlimited(limits));
}

/** `CAP_SYS_ADMIN` style names, in list order. */
export function capabilityNames(prefix = ''): string[] {
  return CAPABILITIES.map((c) => `${prefix}${c.name}`);
}

export interface CapabilitySets { effective: bigint; bounding: bigint }

/** CapEff and CapBnd of a /proc/PID/status text (missing fields read as no capability). */
export function parseCapabilitySets(status: string): CapabilitySets {
  const read = (field: string): bigint => {
    const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  };
  return { effective: read('CapEff'), bounding: read('CapBnd') };
}

/** This process's capability sets. */
export function ownCapabilitySets(): CapabilitySets {
  return parseCapabilitySets(readProcText('/proc/self/status') ?? '');
}

/**
 * Capabilities of the list that children of this process will not have. bpftrace is started
 * by exec as uid 0, so it gets the bounding set whatever our effective set is; a capability
 * missing from either set is missing for gostall's own /proc reads or for bpftrace.
 */
export function missingCapabilities(sets: CapabilitySets = ownCapabilitySets()): Capability[] {
  return CAPABILITIES.filter((c) => ((sets.effective & sets.bounding) >> BigInt(c.bit) & 1n) === 0n);
}
