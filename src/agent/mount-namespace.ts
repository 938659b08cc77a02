/**
 * Whether bpftrace may live in a mount namespace of its own for as long as the agent runs
 * (shim/gostall-bpftrace: the short tracepoint list). A new mount namespace holds a copy of
 * every mount there is when it is made. The launcher makes its copies slaves, so an unmount
 * in the namespace gostall runs in reaches them too, but only for mounts that are shared
 * there (systemd makes every mount of a host shared at boot). A private mount of the host's
 * own namespace would stay mounted in bpftrace's copy after the user unmounts it: the file
 * system kept alive, its loop device or USB stick still busy, until bpftrace exits. For a
 * `gostall run` that is the command's lifetime; for the agent it can be weeks.
 *
 * In a container's namespace (a sidecar, the image) every mount is already such a copy,
 * kept by the container itself: one more copy changes nothing.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { rootMountShared } from '../diagnose/mounts.js';
import { ownPidNamespaceParam } from '../probe-runner/pid-namespace.js';

/** Inode of the initial mount namespace where the kernel fixes it (PROC_MNT_INIT_INO, Linux 6.18 on). */
const INITIAL_MOUNT_NAMESPACE = 0xeffffff8;

/**
 * Whether gostall runs in a container's mount namespace rather than the host's:
 * - the initial mount namespace, where the kernel names it: the host's;
 * - a PID namespace of its own: a container's (or a sidecar's);
 * - else (the host's PIDs) a mount namespace other than PID 1's is a container's, PID 1's the host's;
 * - PID 1's is often unreadable from a container that shares the host's PIDs (the image as the
 *   docs run it): then the marks container engines leave decide, the ones
 *   `systemd-detect-virt --container` reads (the `container` variable podman and
 *   systemd-nspawn set, podman's /run/.containerenv, Docker's /.dockerenv), or a Kubernetes
 *   pod's service variables.
 */
export function inContainer(procRoot = '/proc', fsRoot = '/', env: NodeJS.ProcessEnv = process.env): boolean {
  const link = (path: string): string => readlinkSync(path.replace(/^\/proc\//, `${procRoot}/`));
  let own: string;
  try { own = link('/proc/self/ns/mnt'); } catch { return false; }
  if (own === `mnt:[${INITIAL_MOUNT_NAMESPACE}]`) return false;
  if (ownPidNamespaceParam(link) !== 0) return true;
  try {
    return own !== link('/proc/1/ns/mnt');
  } catch {
    return Boolean(env.container) || existsSync(join(fsRoot, 'run/.containerenv')) || existsSync(join(fsRoot, '.dockerenv')) ||
      env.KUBERNETES_SERVICE_HOST !== undefined;
  }
}

/**
 * True when a long-lived bpftrace in a mount namespace of its own keeps no file system
 * mounted that the user unmounts: in a container, or where the root mount is shared.
 * False when it cannot tell.
 */
export function mountNamespaceHarmless(procRoot = '/proc', fsRoot = '/', env: NodeJS.ProcessEnv = process.env): boolean {
  if (inContainer(procRoot, fsRoot, env)) return true;
  try {
    return rootMountShared(readFileSync(`${procRoot}/self/mountinfo`, 'latin1'));
  } catch {
    return false;
  }
}
