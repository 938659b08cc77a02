/**
 * Linux errno numbers and names gostall reports (x86_64 / generic numbering, the same on
 * arm64). Rules, spans and test fixtures name errnos through ERRNO, never by number.
 */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, ENOEXEC: 8, EBADF: 9, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24,
  ETXTBSY: 26, ENOSPC: 28, EROFS: 30, ENAMETOOLONG: 36, ELOOP: 40, ENETUNREACH: 101,
  ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTUNREACH: 113, EINPROGRESS: 115, ESTALE: 116, EDQUOT: 122,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** Errno number → name. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** Name of an errno, or E<n> when gostall has no name for it. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}
