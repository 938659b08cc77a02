// When the agent may give bpftrace a mount namespace of its own: never where that would keep
// a file system mounted after the user unmounts it (src/agent/mount-namespace.ts).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rootMountShared } from '../../src/diagnose/mounts.js';
import { mountNamespaceHarmless } from '../../src/agent/mount-namespace.js';

const NO_MARKS = '/nonexistent-root';

const SHARED_ROOT = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw',
  '40 22 7:0 / /mnt/usb rw,relatime shared:30 - vfat /dev/sdb1 rw',
].join('\n');
const PRIVATE_ROOT = [
  '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw',
  '23 22 0:21 / /proc rw,nosuid - proc proc rw',
].join('\n');

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A /proc with what the check reads: our mount namespace, PID 1's, our PID namespace (the host's by default), and our mountinfo. */
function fakeProc(own: string, init: string | undefined, mountinfo: string, pidNs = 'pid:[4026531836]'): string {
  const root = mkdtempSync(join(tmpdir(), 'gostall-fakeproc-'));
  dirs.push(root);
  mkdirSync(join(root, 'self/ns'), { recursive: true });
  symlinkSync(own, join(root, 'self/ns/mnt'));
  symlinkSync(pidNs, join(root, 'self/ns/pid'));
  if (init !== undefined) {
    mkdirSync(join(root, '1/ns'), { recursive: true });
    symlinkSync(init, join(root, '1/ns/mnt'));
  }
  writeFileSync(join(root, 'self/mountinfo'), mountinfo);
  return root;
}

/** A root file system holding empty files at the given paths (the marks container engines leave). */
function fakeRoot(...files: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'gostall-fakeroot-'));
  dirs.push(root);
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), '');
  }
  return root;
}

describe('rootMountShared', () => {
  it('reads the shared peer group of the root mount, not of the others', () => {
    expect(rootMountShared(SHARED_ROOT)).toBe(true);
    expect(rootMountShared(PRIVATE_ROOT)).toBe(false);
    expect(rootMountShared(PRIVATE_ROOT.replace('/proc rw,nosuid -', '/proc rw,nosuid shared:3 -'))).toBe(false);
    // a slave root (a container's, propagation rslave) receives, but a copy of it does not
    expect(rootMountShared('22 1 8:1 / / rw master:1 - ext4 /dev/sda1 rw')).toBe(false);
  });

  it('takes the last mount on / (a root mounted over another)', () => {
    expect(rootMountShared(`${SHARED_ROOT}\n90 22 0:50 / / rw - overlay overlay rw`)).toBe(false);
    expect(rootMountShared(`${PRIVATE_ROOT}\n90 22 0:50 / / rw shared:7 - overlay overlay rw`)).toBe(true);
  });
});

describe('mountNamespaceHarmless', () => {
  const host = (mountinfo: string): string => fakeProc('mnt:[4026531841]', 'mnt:[4026531841]', mountinfo);

  it('yes on a host whose mounts are shared (systemd makes them so)', () => {
    expect(mountNamespaceHarmless(host(SHARED_ROOT), NO_MARKS, {})).toBe(true);
  });

  it('no on a host whose mounts are private: bpftrace\'s copy would keep them mounted', () => {
    expect(mountNamespaceHarmless(host(PRIVATE_ROOT), NO_MARKS, {})).toBe(false);
    // whatever marks a host built from a container image still carries (/.dockerenv on a VM):
    // PID 1 is the host's and in this namespace
    const marked = fakeRoot('.dockerenv');
    expect(mountNamespaceHarmless(host(PRIVATE_ROOT), marked, { KUBERNETES_SERVICE_HOST: '10.0.0.1', container: 'docker' })).toBe(false);
    // or the kernel names the namespace the initial one (Linux 6.18 on), PID 1's unreadable
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026531832]', undefined, PRIVATE_ROOT), marked, {})).toBe(false);
  });

  it('yes in a container, whatever its propagation: the container keeps its copies already', () => {
    // a namespace other than PID 1's
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026532500]', 'mnt:[4026531841]', PRIVATE_ROOT), NO_MARKS, {})).toBe(true);
    // PID 1's, in a PID namespace of its own: the container's init
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026532500]', 'mnt:[4026532500]', PRIVATE_ROOT, 'pid:[4026532600]'), NO_MARKS, {})).toBe(true);
    // PID 1's unreadable (the host's PIDs, as the image runs), and the engine's mark
    const marked = fakeRoot('run/.containerenv');
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026532500]', undefined, PRIVATE_ROOT), marked, {})).toBe(true);
    // a pod
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026532500]', undefined, PRIVATE_ROOT), NO_MARKS, { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toBe(true);
    // the variable podman sets (its read-only containers have no /run/.containerenv)
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026532500]', undefined, PRIVATE_ROOT), NO_MARKS, { container: 'podman' })).toBe(true);
  });

  it('no when it cannot tell', () => {
    expect(mountNamespaceHarmless(fakeProc('mnt:[4026531841]', undefined, PRIVATE_ROOT), NO_MARKS, {})).toBe(false);
    expect(mountNamespaceHarmless('/nonexistent-proc', NO_MARKS, {})).toBe(false);
  });
});
