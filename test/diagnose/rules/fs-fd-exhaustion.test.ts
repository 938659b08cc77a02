// fs.fd_exhaustion: EMFILE/ENFILE when opening files or sockets.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/fs-fd-exhaustion.js';
import { ERRNO, context, failure, proc } from '../fixtures.js';

const limits = { maxUserWatches: 8192, maxUserInstances: 128, nofileSoft: 1024, nofileHard: 4096, fileMax: 9_223_372 };

describe('fs.fd_exhaustion', () => {
  it('blames openat EMFILE, quoting RLIMIT_NOFILE', () => {
    const p = proc({ exitCode: 1 });
    failure(p, { sc: 'openat', errno: ERRNO.EMFILE, path: '/workspace/a.go' });
    failure(p, { sc: 'socket', errno: ERRNO.EMFILE });
    const [c] = rule(p, context({ limits }));
    expect(c!.evidence).toBe('openat, socket failed with EMFILE 2 times, e.g. /workspace/a.go: the process hit its open-file limit ' +
      '(RLIMIT_NOFILE 1,024 soft / 4,096 hard, as gostall started it); the process failed');
    expect(c!.hint).toContain('ulimit -n');
  });

  it('says the system table is full for ENFILE', () => {
    const p = proc();
    failure(p, { sc: 'openat', errno: ERRNO.ENFILE, path: '/x' });
    expect(rule(p, context({ limits }))[0]!.evidence).toContain('fs.file-max = 9,223,372');
  });

  it('leaves inotify_init1 EMFILE to fs.watch_limit', () => {
    const p = proc();
    failure(p, { sc: 'inotify_init1', errno: ERRNO.EMFILE });
    expect(rule(p, context({ limits }))).toEqual([]);
  });
});
