/**
 * Output files are private (spans, pages and diagnoses carry command lines and paths), but
 * only files gostall writes are made so. A path the user names can be a device or a pipe —
 * `--out /dev/null`, `--json /dev/stdout`, a shell's `>(…)` — and gostall often runs as
 * root: a chmod there changed the node for everyone (/dev/null at 0600 broke every other
 * user's `go build`: "open /dev/null: permission denied"). For the same reason a directory
 * gostall keeps files in is never chmod'ed when it exists; one that others may write in is
 * refused instead (sharedDirectoryMode).
 */
import { open, type FileHandle } from 'node:fs/promises';

/** Give an opened file this mode (and owner, group) if it is a regular file; leave anything else as it is. */
export async function restrictRegularFile(fh: FileHandle, mode: number, owner: { uid?: number; gid?: number } = {}): Promise<void> {
  if (!(await fh.stat()).isFile()) return;
  if (owner.uid !== undefined || owner.gid !== undefined) await fh.chown(owner.uid ?? -1, owner.gid ?? -1);
  await fh.chmod(mode);
}

/** Open a file for writing (truncated), created 0600 or made so when it is a regular file. */
export async function openPrivate(path: string): Promise<FileHandle> {
  const fh = await open(path, 'w', 0o600);
  try {
    await restrictRegularFile(fh, 0o600); // an existing file keeps its mode on open()
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** Write text to a private file (see openPrivate). */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const fh = await openPrivate(path);
  try { await fh.writeFile(text); } finally { await fh.close(); }
}

/** writePrivateFile, or stdout for `-`. */
export async function writePrivate(target: string, text: string): Promise<void> {
  if (target === '-') process.stdout.write(text);
  else await writePrivateFile(target, text);
}

/**
 * A directory's mode as four octal digits when users other than its owner may write in it
 * (they could plant or replace what gostall keeps there); undefined when only the owner may.
 */
export function sharedDirectoryMode(mode: number): string | undefined {
  return (mode & 0o022) === 0 ? undefined : (mode & 0o7777).toString(8).padStart(4, '0');
}
