/**
 * Synthetic process trees and contexts for the rule tests: processes shaped like the ones
 * measured in the real-fault scenarios (test/scenarios), with the numbers a rule looks at
 * set directly. No kernel involved; the scenarios prove the same rules on real faults.
 */
import type { ConnectEvent, OffCpuEvent, SlowSyscallEvent } from '../../src/events/types.js';
import { ERRNO } from '../../src/vocabulary/errno.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { createProcess, type ProcessNode } from '../../src/model/process.js';
import { addSlowCall } from '../../src/model/slow-sample.js';
import { createDiagnosisContext } from '../../src/diagnose/context.js';
import { createMountTable, type MountEntry } from '../../src/diagnose/mounts.js';
import type { CgroupCpuUsage, CpuTimes, DiagnosisContext, GoEnv, Limits } from '../../src/diagnose/types.js';
import { resolveGoEnv } from '../../src/diagnose/context-go-env.js';

export const MS = 1e6;
export const S = 1e9;
/** Process start in the synthetic monotonic clock. */
export const T0 = 1_000 * S;

export const MOUNTS: MountEntry[] = [
  { mountPoint: '/', fsType: 'ext4', source: '/dev/vda1', majMin: '254:1', root: '/', superOptions: 'rw' },
  { mountPoint: '/workspace', fsType: 'fuse.grpcfuse', source: 'grpcfuse', majMin: '0:50', root: '/', superOptions: 'rw' },
  { mountPoint: '/mnt/slow', fsType: 'ext4', source: '/dev/loop3', majMin: '7:3', root: '/', superOptions: 'rw' },
  { mountPoint: '/mnt/nfs', fsType: 'nfs4', source: 'server:/export', majMin: '0:60', root: '/', superOptions: 'rw' },
];

/** The Go environment of a dev-container user: HOME=/home/dev, everything else defaulted. */
export function devGoEnv(over: Partial<GoEnv> = {}): GoEnv {
  return { ...resolveGoEnv({ HOME: '/home/dev' }, { source: 'launch', cpus: 8, runGoEnv: false }), GOROOT: '/usr/local/go', ...over };
}

export function context(x: {
  endNs?: number; workspace?: string; go?: GoEnv; cgroupCpu?: CgroupCpuUsage; cpuTimes?: CpuTimes; limits?: Limits;
  loops?: (path: string) => boolean;
  /** each process's own environment (as read from /proc/PID/environ while it lived) */
  envOf?: (p: ProcessNode) => NodeJS.ProcessEnv | undefined;
} = {}): DiagnosisContext {
  const ctx = createDiagnosisContext({
    endNs: x.endNs ?? T0 + 100 * S, mounts: createMountTable(MOUNTS), workspace: x.workspace ?? '/workspace',
    go: x.go ?? devGoEnv(), cgroupCpu: x.cgroupCpu, cpuTimes: x.cpuTimes, limits: x.limits,
    processEnvs: x.envOf ? { envOf: x.envOf } : undefined,
  });
  ctx.heavyDirectories = () => [];
  ctx.ownerOf = () => undefined;
  ctx.pathLoops = x.loops ?? (() => false);
  // Nothing of this machine leaks into a rule test: its files and users are stubbed.
  ctx.userName = () => undefined;
  ctx.inspectGoroot = (path) => ({ path, exists: false, isGoTree: false, version: undefined });
  ctx.gorootOfExecutable = () => undefined;
  ctx.goModuleOf = () => undefined;
  ctx.findExecutable = () => undefined;
  return ctx;
}

let nextPid = 1000;

/** A finished process that ran for wallNs and exited with code (wait status code << 8). */
export function proc(opts: { name?: string; wallNs?: number; exitCode?: number; parent?: ProcessNode; args?: string[]; uid?: number } = {}): ProcessNode {
  const pid = nextPid++;
  const start = opts.parent ? opts.parent.startNs + MS : T0;
  const p = createProcess(pid, opts.parent, start);
  const name = opts.name ?? 'go';
  const argv = opts.args ?? (name === 'go' ? ['go', 'list', './...'] : [name]);
  const argvBytes = Buffer.from(`${argv.join('\0')}\0`);
  p.exec = {
    ts: start, filename: `/usr/local/go/bin/${name}`, filenameTruncated: false, comm: name,
    argvLen: argvBytes.length, argvParts: [argvBytes], argvBytes: argvBytes.length,
  };
  p.endNs = start + (opts.wallNs ?? 1 * S);
  p.status = (opts.exitCode ?? 0) << 8;
  p.uid = opts.uid ?? 0;
  return p;
}

const SYSCALL_IDS = SC;
export type SyscallName = keyof typeof SC;

/** One syscall record as the probe prints it (ts = its end). */
export function record(p: ProcessNode, x: { sc: SyscallName; latencyNs: number; path?: string; ret?: number; ts?: number; tid?: number; fd?: number }): SlowSyscallEvent {
  return {
    kind: 'syscall', ts: x.ts ?? p.startNs + x.latencyNs, pid: p.pid, tid: x.tid ?? p.pid, sc: SYSCALL_IDS[x.sc],
    latencyNs: x.latencyNs, runqNs: 0, ret: x.ret ?? 0, fd: x.fd ?? -1, path: x.path, pathTruncated: false,
  };
}

/** n slow calls of the same kind, as the model sees them (totals and sample; the slowest kept). */
export function slowCalls(p: ProcessNode, n: number, x: { sc: SyscallName; latencyNs: number; path: (i: number) => string; tid?: number }): void {
  for (let i = 0; i < n; i++) {
    const e = record(p, { sc: x.sc, latencyNs: x.latencyNs, path: x.path(i), ts: p.startNs + (i + 1) * x.latencyNs, tid: x.tid });
    addSlowCall(p.slowCalls, e);
    if (p.slowSyscalls.length < 64) p.slowSyscalls.push(e);
  }
}

/** A failed call as the model keeps it (failedSyscalls and errno counts). */
export function failure(p: ProcessNode, x: { sc: SyscallName; errno: number; path?: string; latencyNs?: number }): void {
  p.failedSyscalls.push(record(p, { sc: x.sc, latencyNs: x.latencyNs ?? 5_000, path: x.path, ret: -x.errno }));
}

export function offCpu(p: ProcessNode, x: { state: 1 | 2; durationNs: number; sc?: SyscallName; ts?: number; tid?: number }): OffCpuEvent {
  const o: OffCpuEvent = {
    kind: 'offcpu', ts: x.ts ?? p.startNs + x.durationNs, pid: p.pid, tid: x.tid ?? p.pid, state: x.state,
    durationNs: x.durationNs, sc: x.sc ? SYSCALL_IDS[x.sc] : 0,
  };
  p.offCpu.push(o);
  return o;
}

export function connect(p: ProcessNode, x: { durationNs: number; established: boolean; address?: string; port?: number; ts?: number }): ConnectEvent {
  const c: ConnectEvent = {
    kind: 'connect', ts: x.ts ?? p.startNs + x.durationNs, pid: p.pid, tid: p.pid, durationNs: x.durationNs,
    established: x.established, address: x.address ?? '127.0.0.1', port: x.port ?? 8080,
  };
  p.connects.push(c);
  return c;
}

export { ERRNO };
