/** What a process's mount namespace holds, for the tests of bpftrace's launcher (shim/gostall-bpftrace). */
import { readMountTable } from '../../src/diagnose/mounts.js';
import { AVAILABLE_EVENTS_PATHS } from '../../src/probe-runner/event-list.js';

/** The mount points a live process sees (its /proc/PID/mountinfo); throws when that cannot be read. */
export function mountPointsOf(pid: number): string[] {
  const entries = readMountTable(pid).entries;
  if (entries.length === 0) throw new Error(`cannot read the mounts of process ${pid}`);
  return entries.map((m) => m.mountPoint);
}

/** Whether the process sees a tracepoint list mounted over the kernel's: the launcher's short one. */
export function hasOwnEventList(pid: number): boolean {
  return mountPointsOf(pid).some((p) => AVAILABLE_EVENTS_PATHS.includes(p));
}
