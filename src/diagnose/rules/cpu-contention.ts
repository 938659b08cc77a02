/**
 * cpu.contention: the tool's processes were ready to run but waited for a CPU because other
 * work (other processes, other VMs on the host) was using the CPUs. A build that saturates
 * the CPUs by itself is not contention: the rule requires the machine's CPU time to have
 * gone elsewhere (or to the hypervisor's steal), and no cgroup throttling (cpu.throttled).
 */
import { walk } from '../../model/tree.js';
import type { Rule } from '../types.js';
import { wallNs } from '../evidence.js';
import { formatDuration, formatPercent } from '../format.js';
import { THRESHOLDS as THROTTLE } from './cpu-throttled.js';

export const ID = 'cpu.contention';

export const THRESHOLDS = {
  /**
   * Run-queue wait of all processes of the tree, summed. A healthy cold go build here waited
   * 180 ms (against 778 ms on CPU), its own compiles competing for the two CPUs.
   */
  minRunqNs: 2e9,
  /** …at least as long as they ran: each CPU-second of work took two or more. */
  minRunqPerOnCpu: 1,
  /**
   * The rest of the machine was busy: CPU time not used by the traced tree, over the machine's
   * capacity (CPUs × wall). A build alone on the machine leaves this near the tracer's own
   * few percent.
   */
  minOthersShareOfCapacity: 0.5,
  /** Or the hypervisor ran other guests instead of this VM this much of the time (steal). */
  minStealShareOfCapacity: 0.1,
} as const;

export const rule: Rule = (root, ctx) => {
  const t = ctx.cpuTimes;
  if (!t || t.cpus <= 0 || t.spanNs <= 0) return [];
  const cg = ctx.cgroupCpu;
  if (cg && cg.periods > 0 && cg.throttledPeriods / cg.periods >= THROTTLE.minThrottledPeriodShare / 2) return [];
  let runq = 0, onCpu = 0;
  for (const p of walk(root)) { runq += p.sched.runqNs; onCpu += p.sched.onCpuNs; }
  if (runq < THRESHOLDS.minRunqNs || runq < THRESHOLDS.minRunqPerOnCpu * onCpu) return [];
  const capacity = t.cpus * t.spanNs;
  const others = Math.max(0, t.busyNs - onCpu - (t.selfNs ?? 0));
  const othersShare = others / capacity;
  const stealShare = t.stealNs / capacity;
  if (othersShare < THRESHOLDS.minOthersShareOfCapacity && stealShare < THRESHOLDS.minStealShareOfCapacity) return [];
  const wall = wallNs(root, ctx);
  const evidence = `the traced processes waited ${formatDuration(runq)} for a CPU while running ` +
    `${formatDuration(onCpu)}; meanwhile other work used ${formatPercent(othersShare)} of the machine's ${t.cpus} CPUs` +
    `${stealShare >= 0.01 ? ` and the hypervisor took ${formatPercent(stealShare)} (steal)` : ''}`;
  const hint = stealShare >= THRESHOLDS.minStealShareOfCapacity
    ? 'the VM does not get the CPUs it was promised (steal time): move it to a less loaded host or give it dedicated CPUs'
    : 'the machine is busy with other work: give the VM or container more CPUs, stop duplicate gopls or IDE tasks, or lower build parallelism (-p)';
  return [{ id: ID, process: root, evidence, hint, weightNs: Math.min(wall, runq) }];
};
