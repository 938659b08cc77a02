/**
 * A directory in a user's home that `gostall run`, as root under sudo, makes or uses on that
 * user's behalf: ~/.local/state/gostall/traces (the default trace) and …/builds (the build
 * history). The user may change anything below their home, so no path there is trusted: a link
 * they plant, or a directory they swap for one between a check and an open, would lead root's
 * writes (and the chown that makes the file theirs) into /etc. Each part is made or opened
 * relative to the directory opened before it — through /proc/self/fd, since Node has no
 * openat — never through a link, and must be the user's (or root's and closed to others). What
 * is then opened through the returned openPath stays inside the directories checked.
 */
import { closeSync, constants, fchownSync, fstatSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

export interface UserDirectory {
  /** the directory's path, for messages */
  path: string;
  /** the same directory, reached through the descriptor held open (/proc/self/fd/N): open files below it through this */
  openPath: string;
}

const DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY;
const isLink = (path: string): boolean => { try { return lstatSync(path).isSymbolicLink(); } catch { return false; } };

/** Opens home/parts… (making missing parts, 0700 and the owner's) without following a link; throws with the reason. */
export function openUserDirectory(home: string, parts: string[], owner: { uid: number; gid: number }): UserDirectory {
  let fd = openSync(home, DIRECTORY);
  let path = home;
  try {
    for (const part of parts) {
      if (part === '' || part === '.' || part === '..' || part.includes('/')) throw new Error(`${join(path, part)}: not a plain name`);
      path = join(path, part);
      const at = `/proc/self/fd/${fd}/${part}`;
      let made = true;
      try { mkdirSync(at, 0o700); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; made = false; }
      let next: number;
      try {
        next = openSync(at, DIRECTORY | constants.O_NOFOLLOW);
      } catch (err) {
        // (with O_DIRECTORY a link is ENOTDIR, not ELOOP)
        const code = (err as NodeJS.ErrnoException).code;
        const link = code === 'ELOOP' || (code === 'ENOTDIR' && isLink(at));
        throw new Error(`${path}: ${link ? 'a symbolic link' : code === 'ENOTDIR' ? 'not a directory' : (err as Error).message}`);
      }
      closeSync(fd);
      fd = next;
      if (made) fchownSync(fd, owner.uid, owner.gid);
      const st = fstatSync(fd);
      const usable = st.uid === owner.uid || (st.uid === 0 && (st.mode & 0o022) === 0);
      if (!usable) throw new Error(`${path}: owned by uid ${st.uid}${st.uid === 0 ? ' and writable by others' : ''}, not the user's (uid ${owner.uid})`);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  // held until gostall exits (a run's few files are opened through it)
  return { path, openPath: `/proc/self/fd/${fd}` };
}
