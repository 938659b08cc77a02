/**
 * Reading a file a traced process named (its source files, its -debug-trace output) from a
 * process that may run as root: only a regular file, never through a final symlink, never
 * more than maxBytes, and — when an owner is required — only that user's own file. Anything
 * else reads as nothing (undefined), never as an error.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export function readRegularFile(path: string, opts: { maxBytes: number; ownerUid?: number }): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > opts.maxBytes || (opts.ownerUid !== undefined && st.uid !== opts.ownerUid)) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
