#!/usr/bin/python3
"""Passthrough FUSE filesystem that sleeps in selected operations.

Test fixture for gostall (see slowFuse.ts). It mirrors BACKING_DIR at
MOUNT_POINT and adds a fixed delay to getattr / read / readdir / open so a
traced Go tool spends real, off-CPU time inside those syscalls. It must be run
with the Debian interpreter (/usr/bin/python3), because python3-fusepy installs
the module `fusepy` there only.

Usage: slowfs.py BACKING_DIR MOUNT_POINT [--getattr-delay-ms N]
                 [--read-delay-ms N] [--readdir-delay-ms N] [--open-delay-ms N]

Runs in the foreground until the mount point is unmounted
(fusermount3 -u MOUNT_POINT).
"""

import argparse
import errno
import os
import sys
import time

from fusepy import FUSE, FuseOSError, Operations


class SlowPassthrough(Operations):
    """Mirrors a directory; every call goes straight to the backing file."""

    # Times are passed as integer nanoseconds (utimens) instead of floats.
    use_ns = True

    def __init__(self, root, delays_ms):
        self.root = os.path.realpath(root)
        self.delays = {op: ms / 1000.0 for op, ms in delays_ms.items() if ms > 0}

    def _full(self, path):
        # FUSE paths are absolute inside the mount; map them under the backing root.
        return os.path.join(self.root, path.lstrip('/'))

    def _delay(self, op):
        # The whole point of this filesystem: make the kernel wait for us.
        seconds = self.delays.get(op)
        if seconds:
            time.sleep(seconds)

    # --- metadata -----------------------------------------------------------

    def getattr(self, path, fh=None):
        self._delay('getattr')
        st = os.fstat(fh) if fh is not None else os.lstat(self._full(path))
        return {
            'st_mode': st.st_mode,
            'st_ino': st.st_ino,
            'st_nlink': st.st_nlink,
            'st_uid': st.st_uid,
            'st_gid': st.st_gid,
            'st_size': st.st_size,
            'st_blocks': st.st_blocks,
            'st_blksize': st.st_blksize,
            'st_rdev': st.st_rdev,
            'st_atime': st.st_atime_ns,
            'st_mtime': st.st_mtime_ns,
            'st_ctime': st.st_ctime_ns,
        }

    def access(self, path, mode):
        if not os.access(self._full(path), mode):
            raise FuseOSError(errno.EACCES)
        return 0

    def readlink(self, path):
        return os.readlink(self._full(path))

    def statfs(self, path):
        sv = os.statvfs(self._full(path))
        return {key: getattr(sv, key) for key in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail',
            'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def chmod(self, path, mode):
        os.chmod(self._full(path), mode)
        return 0

    def chown(self, path, uid, gid):
        # fusepy already turned the "unchanged" marker into -1, which os.lchown keeps.
        os.lchown(self._full(path), uid, gid)
        return 0

    def utimens(self, path, times=None):
        if times is None:
            os.utime(self._full(path), follow_symlinks=False)
        else:
            os.utime(self._full(path), ns=tuple(times), follow_symlinks=False)
        return 0

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._full(path), length)
        return 0

    # --- directories --------------------------------------------------------

    def readdir(self, path, fh):
        self._delay('readdir')
        return ['.', '..'] + os.listdir(self._full(path))

    def mkdir(self, path, mode):
        os.mkdir(self._full(path), mode)
        return 0

    def rmdir(self, path):
        os.rmdir(self._full(path))
        return 0

    # --- names --------------------------------------------------------------

    def mknod(self, path, mode, dev):
        os.mknod(self._full(path), mode, dev)
        return 0

    def unlink(self, path):
        os.unlink(self._full(path))
        return 0

    def rename(self, old, new):
        os.rename(self._full(old), self._full(new))
        return 0

    def symlink(self, target, source):
        # fusepy's naming: create the link `target` whose content is `source`.
        os.symlink(source, self._full(target))
        return 0

    def link(self, target, source):
        os.link(self._full(source), self._full(target))
        return 0

    # --- file contents ------------------------------------------------------

    def open(self, path, flags):
        self._delay('open')
        return os.open(self._full(path), flags)

    def create(self, path, mode, fi=None):
        self._delay('open')
        # Without raw_fi fusepy does not pass the open flags; O_RDWR serves both
        # readers and writers of the new file (the kernel already enforced access).
        return os.open(self._full(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, size, offset, fh):
        self._delay('read')
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('backing_dir')
    parser.add_argument('mount_point')
    for op in ('getattr', 'read', 'readdir', 'open'):
        parser.add_argument('--%s-delay-ms' % op, type=float, default=0.0)
    args = parser.parse_args()

    # The kernel already applied the caller's umask to modes it sends us;
    # do not apply ours a second time.
    os.umask(0)
    delays = {
        'getattr': args.getattr_delay_ms,
        'read': args.read_delay_ms,
        'readdir': args.readdir_delay_ms,
        'open': args.open_delay_ms,
    }
    print('slowfs: mounting %s at %s with delays %r' % (
        args.backing_dir, args.mount_point, delays), file=sys.stderr, flush=True)
    FUSE(
        SlowPassthrough(args.backing_dir, delays),
        args.mount_point,
        foreground=True,
        fsname='slowfs',
        subtype='slowfs',
        use_ino=True,
        # Zero timeouts: the kernel must ask us (and wait) on every lookup and
        # stat instead of answering from its dentry/attribute caches.
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
    )


if __name__ == '__main__':
    main()
