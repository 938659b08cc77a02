/**
 * Output files are private (spans, pages and diagnoses carry command lines and paths), but
 * only files gostall writes are made so. A path the user names can be a device or a pipe —
 * `--out /dev/null`, `--json /dev/stdout`, a shell's `>(…)` — and gostall often runs as
 * root: a chmod there changed the node for everyone (/dev/null at 0600 broke every other
 * user's `go build`: "open /dev/null: permission denied").
 */
import { fchmodSync, fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Give an opened file this mode (and group) if it is a regular file; leave anything else as it is. */
export async function restrictRegularFile(fh: FileHandle, mode: number, group?: number): Promise<void> {
  if (!(await fh.stat()).isFile()) return;
  if (group !== undefined) await fh.chown(-1, group);
  await fh.chmod(mode);
}

/** restrictRegularFile for a descriptor (a write stream's). */
export function restrictRegularFileSync(fd: number, mode: number): void {
  if (fstatSync(fd).isFile()) fchmodSync(fd, mode);
}
