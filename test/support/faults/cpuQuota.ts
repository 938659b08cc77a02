// Fixture: a cgroup with a CFS CPU quota, so a busy process gets throttled (runnable but not run).
// Prefers cgroup v1 (/sys/fs/cgroup/cpu); falls back to the v2 hierarchy at /sys/fs/cgroup/unified.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildWithRollback, randomTag } from './common.js';
import {
  SpawnedChildren,
  TEST_CGROUP_PREFIX,
  removeCgroupDir,
  runInCgroup,
  spawnInCgroup,
  type CgroupRunResult,
} from './cgroups.js';

/** Mount point of the cgroup v1 cpu controller on our machines. */
export const CPU_V1_ROOT = '/sys/fs/cgroup/cpu';
/** Mount point of the cgroup v2 hierarchy in the hybrid layout. */
export const CGROUP_V2_ROOT = '/sys/fs/cgroup/unified';

export type CgroupLayout = 'v1' | 'v2';

/** Throttling counters, normalised across both layouts. */
export interface CpuStat {
  /** Enforcement periods that elapsed while the group had runnable tasks. */
  nrPeriods: number;
  /** Periods in which the group ran out of quota. */
  nrThrottled: number;
  /** Total time the group's tasks were held back, in nanoseconds. */
  throttledTimeNs: number;
}

export interface CpuQuotaOptions {
  /** CPU time the group may use per period, in microseconds. */
  quotaUs: number;
  /** Length of a period in microseconds (default 100000). */
  periodUs?: number;
  /** Force a layout; by default v1 if its cpu controller is mounted, else v2. */
  layout?: CgroupLayout;
}

export interface CpuQuotaCgroup {
  layout: CgroupLayout;
  /** The cgroup directory. */
  cgroupDir: string;
  /** Write a pid here to move that process into the group. */
  cgroupProcsPath: string;
  quotaUs: number;
  periodUs: number;
  /** Spawns `cmd args…` inside the group; restore() stops it if still running. */
  spawnInCgroup: (cmd: string, args?: readonly string[], opts?: SpawnOptions) => ChildProcess;
  /** Runs `cmd args…` inside the group to completion. */
  runInCgroup: (
    cmd: string,
    args?: readonly string[],
    opts?: Parameters<typeof runInCgroup>[3],
  ) => Promise<CgroupRunResult>;
  /** Current throttling counters of the group. */
  readCpuStat: () => Promise<CpuStat>;
  /** Stops leftover children we spawned and removes the group (and undoes +cpu if we enabled it). */
  restore: () => Promise<void>;
}

/** Parses a cpu.stat file: v1 reports throttled_time in ns, v2 reports throttled_usec. */
export function parseCpuStat(text: string, layout: CgroupLayout): CpuStat {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) fields.set(key, Number(value));
  }
  const need = (key: string): number => {
    const v = fields.get(key);
    if (v === undefined || Number.isNaN(v)) throw new Error(`cpu.stat (${layout}) has no ${key}:\n${text}`);
    return v;
  };
  return {
    nrPeriods: need('nr_periods'),
    nrThrottled: need('nr_throttled'),
    throttledTimeNs: layout === 'v1' ? need('throttled_time') : need('throttled_usec') * 1000,
  };
}

/** Reads and parses `cpu.stat` of a cgroup directory in the given layout. */
export async function readCpuStat(cgroupDir: string, layout: CgroupLayout): Promise<CpuStat> {
  return parseCpuStat(await readFile(join(cgroupDir, 'cpu.stat'), 'utf8'), layout);
}

/** Which layout can host a CPU quota here: v1 if its cpu controller is mounted, else v2 if it offers cpu. */
export async function detectCpuLayout(): Promise<CgroupLayout> {
  if (await exists(join(CPU_V1_ROOT, 'cpu.cfs_quota_us'))) return 'v1';
  const controllers = await readFile(join(CGROUP_V2_ROOT, 'cgroup.controllers'), 'utf8').catch(() => '');
  if (controllers.split(/\s+/).includes('cpu')) return 'v2';
  throw new Error(
    `no cpu controller: ${CPU_V1_ROOT} is not a v1 cpu hierarchy and ${CGROUP_V2_ROOT}/cgroup.controllers lacks cpu`,
  );
}

/** Creates a cgroup limited to quotaUs of CPU every periodUs. */
export async function createCpuQuotaCgroup(opts: CpuQuotaOptions): Promise<CpuQuotaCgroup> {
  const periodUs = opts.periodUs ?? 100_000;
  if (!(opts.quotaUs >= 1000)) throw new Error('quotaUs must be >= 1000 (kernel minimum)');
  const layout = opts.layout ?? (await detectCpuLayout());
  return buildWithRollback(async (stack) => {
    const root = layout === 'v1' ? CPU_V1_ROOT : CGROUP_V2_ROOT;
    if (layout === 'v2') {
      // In v2 a child only gets cpu.max if its parent delegates the controller.
      const subtree = join(root, 'cgroup.subtree_control');
      const enabled = (await readFile(subtree, 'utf8')).split(/\s+/).includes('cpu');
      if (!enabled) {
        await writeFile(subtree, '+cpu\n');
        stack.push(`disable cpu in ${subtree}`, () => writeFile(subtree, '-cpu\n'));
      }
    }

    const cgroupDir = join(root, `${TEST_CGROUP_PREFIX}${randomTag()}`);
    await mkdir(cgroupDir);
    const children = new SpawnedChildren();
    stack.push(`remove cgroup ${cgroupDir}`, async () => {
      await children.stopAll();
      await removeCgroupDir(cgroupDir);
    });

    if (layout === 'v1') {
      // Period first: the kernel validates the quota against the current period.
      await writeFile(join(cgroupDir, 'cpu.cfs_period_us'), `${periodUs}\n`);
      await writeFile(join(cgroupDir, 'cpu.cfs_quota_us'), `${opts.quotaUs}\n`);
    } else {
      await writeFile(join(cgroupDir, 'cpu.max'), `${opts.quotaUs} ${periodUs}\n`);
    }
    const cgroupProcsPath = join(cgroupDir, 'cgroup.procs');

    return {
      layout,
      cgroupDir,
      cgroupProcsPath,
      quotaUs: opts.quotaUs,
      periodUs,
      spawnInCgroup: (cmd, args = [], spawnOpts = {}) =>
        children.track(spawnInCgroup(cgroupProcsPath, cmd, args, spawnOpts)),
      runInCgroup: (cmd, args = [], runOpts = {}) =>
        runInCgroup(cgroupProcsPath, cmd, args, {
          ...runOpts,
          onSpawn: (child) => {
            children.track(child);
            runOpts.onSpawn?.(child);
          },
        }),
      readCpuStat: () => readCpuStat(cgroupDir, layout),
      restore: () => stack.restore(),
    };
  });
}

/** True if the path exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
