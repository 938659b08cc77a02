/** Causes: the public contract of the diagnose stage (ids never change once published). */
import type { GoPhases } from '../model/go-phases.js';
import type { ProcessNode } from '../model/process.js';
import type { RebuildFindings } from './rebuild-diff.js';

export interface Cause {
  /** public id, e.g. fs.slow_metadata (see docs/root-causes.md) */
  id: string;
  /** process whose span carries the evidence */
  process: ProcessNode;
  /** short, with numbers: "p50 newfstatat 41 ms on fuse /workspace" */
  evidence: string;
  /** the fix to print */
  hint: string;
  /** ranking weight: nanoseconds of the run's wall time the cause explains (higher first) */
  weightNs: number;
  /** extra attributes for the span (e.g. gostall.cause.scope) */
  attributes?: Record<string, string | number>;
  /**
   * the cause explains why its process failed (not only why it was slow): when the traced
   * command failed, these rank first, so the primary cause is the one behind the failure
   */
  explainsFailure?: boolean;
  /**
   * processes whose other causes this one explains (slow stamping explains the slow mount
   * its git commands hit): causes of other ids on them are dropped
   */
  supersedes?: ProcessNode[];
}

/** What a path is to a Go tool; the most specific match wins (GOCACHE inside HOME is gocache). */
export type PathRole = 'workspace' | 'gomodcache' | 'gocache' | 'goroot' | 'gopath' | 'tmp' | 'home' | 'other';

export interface MountInfo { fsType: string; mountPoint: string; source: string }

/** The Go environment the traced command ran with, Go's defaults filled in. */
export interface GoEnv {
  GOMODCACHE: string | undefined;
  GOCACHE: string | undefined;
  GOPATH: string | undefined;
  GOROOT: string | undefined;
  GOFLAGS: string | undefined;
  /** GOMAXPROCS in effect: the variable, else the number of usable CPUs */
  GOMAXPROCS: number;
  /** whether GOMAXPROCS came from the environment (false: Go's default, the CPU count) */
  GOMAXPROCS_SET: boolean;
  /** credentials and query strings removed */
  GOPROXY: string | undefined;
  GOPRIVATE: string | undefined;
  CGO_ENABLED: string | undefined;
  GOTOOLCHAIN: string | undefined;
  HOME: string | undefined;
  /** where the variables were read: the environment gostall launched CMD with, or /proc/PID/environ */
  source: 'launch' | 'environ';
}

/** CPU quota and throttling of the cgroup the traced root ran in, measured over the run. */
export interface CgroupCpuUsage {
  version: 1 | 2;
  /** cgroup path as in /proc/PID/cgroup */
  path: string;
  /** the smallest quota on the path to the root, in CPUs (undefined: no quota) */
  quotaCpus: number | undefined;
  quotaUs: number | undefined;
  periodUs: number | undefined;
  /** deltas between the first and the last reading */
  periods: number;
  throttledPeriods: number;
  throttledNs: number;
  /** the root was moved into this cgroup after it started (e.g. `echo $$ > cgroup.procs`) */
  movedDuringRun: boolean;
}

/** Machine-wide CPU time over the run (from /proc/stat), to tell contention from a busy build. */
export interface CpuTimes {
  cpus: number;
  /** monotonic span the readings cover */
  spanNs: number;
  /** CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal) */
  busyNs: number;
  /** time the hypervisor ran someone else while this VM wanted to run */
  stealNs: number;
  /** CPU time gostall itself (and its bpftrace) used over the span: not "other work" */
  selfNs?: number;
}

export interface Limits {
  maxUserWatches: number | undefined;
  maxUserInstances: number | undefined;
  /** RLIMIT_NOFILE of the traced root */
  nofileSoft: number | undefined;
  nofileHard: number | undefined;
  /** fs.file-max */
  fileMax: number | undefined;
}

/** A directory tree that Go tooling walks but that holds no Go code (node_modules, bazel-*). */
export interface HeavyDirectory { path: string; directories: number; capped: boolean }

/** Ownership of the nearest existing ancestor of a path (for permission evidence). */
export interface PathOwner { path: string; uid: number; gid: number; mode: number }

/** The memory limit of the cgroup a process ran in. */
export interface MemoryLimit { version: 1 | 2; path: string; limitBytes: number }

/** A GOROOT as found on disk. */
export interface GoRootInfo { path: string; exists: boolean; isGoTree: boolean; version: string | undefined }

/** The go.mod that governs a directory, with the directives that say which Go it needs. */
export interface GoModule { file: string; module: string | undefined; go: string | undefined; toolchain: string | undefined }

/** What rules may look at besides the process tree. Filled by src/diagnose/context. */
export interface DiagnosisContext {
  /** monotonic ns when the trace ended (for processes still running) */
  endNs: number;
  /** filesystem of a path: type and mount point, when known */
  mountOf(path: string): MountInfo | undefined;
  /** extra facts gathered during the run, by name */
  facts: Record<string, unknown>;
  /** cwd of the traced root (absolute), when known */
  workspace?: string;
  go?: GoEnv;
  cgroupCpu?: CgroupCpuUsage;
  cpuTimes?: CpuTimes;
  limits?: Limits;
  /** role of an absolute path, and the directory that gave it that role */
  roleOf?(path: string): { role: PathRole; base: string | undefined };
  /** known non-Go trees under a directory (looked at on demand, bounded) */
  heavyDirectories?(dir: string): HeavyDirectory[];
  /** owner and mode of the path or its nearest existing ancestor (looked at on demand) */
  ownerOf?(path: string): PathOwner | undefined;
  /** whether resolving the path now still fails with ELOOP (looked at on demand) */
  pathLoops?(path: string): boolean;
  /**
   * A process's own environment (Go's variables, HOME, PATH, proxies), read while it lived;
   * else its nearest ancestor's; undefined when none was read (replay).
   */
  envOf?(p: ProcessNode): NodeJS.ProcessEnv | undefined;
  /** the directory a go process exec'd in, read at its exec (undefined: not read) */
  cwdOf?(p: ProcessNode): string | undefined;
  /** RLIMIT_NOFILE of a process as it exec'd (or of its nearest ancestor read) */
  nofileOf?(p: ProcessNode): { soft: number | undefined; hard: number | undefined } | undefined;
  /** the memory limit of the cgroup the process exec'd in (looked at on demand) */
  memoryLimitOf?(p: ProcessNode): MemoryLimit | undefined;
  /** a go process's own phases, from the -debug-trace file it was asked to write (live only) */
  goDebugTraceOf?(p: ProcessNode): GoPhases | undefined;
  /** nameservers of the resolv.conf the process saw (read at exec for go and VCS tools) */
  resolversOf?(p: ProcessNode): string[] | undefined;
  /** The Go environment of that process (its own HOME, GOCACHE, GOMODCACHE, GOPATH); else `go`. */
  goEnvOf?(p: ProcessNode): GoEnv | undefined;
  /** role of an absolute path judged with that process's own Go environment */
  roleFor?(p: ProcessNode, path: string): { role: PathRole; base: string | undefined };
  /** GOROOT of a go binary as cmd/go finds it (its real path, two levels up), if that is a Go tree */
  gorootOfExecutable?(executable: string): string | undefined;
  /** the user name of a uid, when the password database has it */
  userName?(uid: number): string | undefined;
  /** a GOROOT on disk (looked at on demand) */
  inspectGoroot?(goroot: string): GoRootInfo;
  /** the go.mod governing a directory (looked at on demand) */
  goModuleOf?(dir: string): GoModule | undefined;
  /** the first of dirs holding an executable name (looked at on demand) */
  findExecutable?(name: string, dirs: string[]): string | undefined;
  /**
   * What changed since the last recorded build of the same packages, for a building go
   * command (issue 13; run and agent keep a history, replay has none: undefined)
   */
  rebuildOf?(go: ProcessNode): RebuildFindings | undefined;
}

/** One cause rule: looks at a whole tree, returns what it can prove. */
export type Rule = (root: ProcessNode, ctx: DiagnosisContext) => Cause[];
