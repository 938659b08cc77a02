/**
 * gostall's own PID namespace, for the probe: the kernel reports pids of the initial
 * namespace, and gostall in a container (its own PID namespace, or a sidecar sharing a dev
 * container's) must both select and name processes as it sees them in /proc.
 */
import { readlinkSync } from 'node:fs';

/** Inode of the initial PID namespace (the kernel's PROC_PID_INIT_INO, fixed). */
export const INITIAL_PID_NAMESPACE = 0xeffffffc;

/** Inode number from a /proc/PID/ns/pid link text (`pid:[4026531836]`); undefined when not that form. */
export function parsePidNamespaceLink(text: string): number | undefined {
  const m = /^pid:\[(\d{1,10})\]$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 0 && n <= 0xffffffff ? n : undefined;
}

/**
 * The probe's PID-namespace parameter: 0 in the initial namespace (records carry kernel
 * pids, nothing to translate), else the inode of gostall's namespace. When the link cannot
 * be read (no /proc), 0: the host behaviour.
 */
export function ownPidNamespaceParam(readLink: (path: string) => string = readlinkSync): number {
  let ino: number | undefined;
  try {
    ino = parsePidNamespaceLink(readLink('/proc/self/ns/pid'));
  } catch {
    return 0;
  }
  return ino === undefined || ino === INITIAL_PID_NAMESPACE ? 0 : ino;
}
