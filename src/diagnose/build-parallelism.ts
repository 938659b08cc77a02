/**
 * A Go build's parallelism against the CPUs it may use (issue 13): the go command runs up to
 * `-p` actions at once (default GOMAXPROCS, which before Go 1.25 is the machine's CPU count,
 * not the container's quota). When more compiles ran at once than the quota or cpuset gives
 * CPUs, they queue for CPU time, memory use multiplies, and a quota throttles: the verdict
 * says so, with the numbers, on the build's root span and in the summary. Evidence for
 * cpu.throttled and memory pressure, not a cause of its own.
 */
import type { BuildInsight } from '../model/build-insight.js';
import { flagValue } from '../model/go-action.js';
import { argvOf, executableName, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import type { DiagnosisContext } from './types.js';

export interface BuildParallelism {
  /** most compiles that ran at once */
  maxParallelCompiles: number;
  /** what the go command allowed: its -p flag, else GOMAXPROCS */
  limit: number | undefined;
  limitSource: '-p' | 'GOMAXPROCS' | undefined;
  /** CPUs the build may use: the cgroup quota, else the CPUs gostall can run on */
  cpusAvailable: number;
  cpusSource: 'cpu quota' | 'cpus';
  verdict: 'above_cpus' | 'within_cpus';
}

/** The -p of the first go command in the tree that names one (`-p 8` or `-p=8`). */
function goParallelFlag(root: ProcessNode): number | undefined {
  for (const p of walk(root)) {
    if (!p.exec || executableName(p) !== 'go') continue;
    const v = flagValue(argvOf(p).argv, '-p');
    if (v !== undefined && /^[1-9]\d{0,5}$/.test(v)) return Number(v);
  }
  return undefined;
}

/** The verdict on the tree's build (summarizeBuild's, computed once per trace), or undefined when it ran no compile or the CPUs are not known. */
export function buildParallelism(root: ProcessNode, build: BuildInsight | undefined, ctx: DiagnosisContext): BuildParallelism | undefined {
  if (!build || build.compiles === 0) return undefined;
  const quota = ctx.cgroupCpu?.quotaCpus;
  const cpus = ctx.cpuTimes?.cpus;
  const byQuota = quota !== undefined && (cpus === undefined || quota < cpus);
  const cpusAvailable = byQuota ? quota : cpus;
  if (cpusAvailable === undefined || !(cpusAvailable > 0)) return undefined;
  const flag = goParallelFlag(root);
  const limit = flag ?? ctx.go?.GOMAXPROCS;
  return {
    maxParallelCompiles: build.maxParallelCompiles,
    limit, limitSource: flag !== undefined ? '-p' : limit !== undefined ? 'GOMAXPROCS' : undefined,
    cpusAvailable, cpusSource: byQuota ? 'cpu quota' : 'cpus',
    // a compile is mostly one busy thread: more of them at once than CPUs means they queue
    verdict: build.maxParallelCompiles > Math.ceil(cpusAvailable) ? 'above_cpus' : 'within_cpus',
  };
}

/** The verdict as root-span attributes (docs/attributes.md). */
export function buildParallelismAttributes(v: BuildParallelism | undefined): Record<string, string | number> {
  if (!v) return {};
  return {
    'gostall.go.parallelism_verdict': v.verdict,
    'gostall.go.cpus_available': v.cpusAvailable,
    'gostall.go.cpus_source': v.cpusSource,
    ...(v.limit !== undefined ? { 'gostall.go.parallelism_limit': v.limit, 'gostall.go.parallelism_limit_source': v.limitSource! } : {}),
  };
}
