/** The mount table, for naming the filesystem behind a path (fuse, virtiofs, 9p, nfs, ext4…). */
import { readProcText } from '../vocabulary/procfs.js';

export interface MountEntry {
  mountPoint: string; fsType: string; source: string; majMin: string;
  /** the directory of the filesystem that is mounted here ("/" unless a bind mount or a cgroup namespace) */
  root: string;
  /** per-superblock options; for cgroup v1 mounts they name the controllers ("rw,cpu") */
  superOptions: string;
}

/** Undo the octal escapes mountinfo uses for space, tab, newline and backslash. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * A mountinfo line's fields before the ` - ` separator (ID PARENT MAJ:MIN ROOT MOUNTPOINT
 * OPTIONS, then the optional propagation fields) and after it (FSTYPE SOURCE SUPER-OPTIONS);
 * undefined for a line that is not one.
 */
function mountinfoFields(line: string): { left: string[]; right: string[] } | undefined {
  const sep = line.indexOf(' - ');
  if (sep === -1) return undefined;
  const left = line.slice(0, sep).split(' ');
  const right = line.slice(sep + 3).split(' ');
  return left.length < 5 || right.length < 2 ? undefined : { left, right };
}

/** Parse /proc/PID/mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = mountinfoFields(line);
    if (!fields) continue;
    const { left, right } = fields;
    out.push({
      majMin: left[2]!, root: unescapeMountField(left[3]!), mountPoint: unescapeMountField(left[4]!), fsType: right[0]!, source: unescapeMountField(right[1]!),
      superOptions: right[2] ?? '',
    });
  }
  return out;
}

/**
 * Whether the root mount of a mountinfo text propagates to peers (shared:N among its optional
 * fields). The last mount on / is the one in use (a root mounted over another).
 */
export function rootMountShared(text: string): boolean {
  let shared = false;
  for (const line of text.split('\n')) {
    const fields = mountinfoFields(line);
    if (fields && unescapeMountField(fields.left[4]!) === '/') shared = fields.left.slice(6).some((f) => f.startsWith('shared:'));
  }
  return shared;
}

export interface MountTable {
  entries: MountEntry[];
  /** the mount holding an absolute path (longest mount-point prefix; later mounts shadow earlier ones) */
  lookup(path: string): MountEntry | undefined;
}

export function createMountTable(entries: MountEntry[]): MountTable {
  return {
    entries,
    lookup(path) {
      if (!path.startsWith('/')) return undefined;
      let best: MountEntry | undefined;
      for (const m of entries) {
        const mp = m.mountPoint;
        const inside = mp === '/' || path === mp || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
        if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
      }
      return best;
    },
  };
}

/** The mount table of a process (default: this one); empty when it cannot be read. */
export function readMountTable(pid: number | 'self' = 'self'): MountTable {
  const text = readProcText(`/proc/${pid}/mountinfo`);
  return createMountTable(text === undefined ? [] : parseMountinfo(text));
}
