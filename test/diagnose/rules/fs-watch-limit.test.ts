// fs.watch_limit: inotify watches or instances used up.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/fs-watch-limit.js';
import { ERRNO, context, failure, proc } from '../fixtures.js';

const limits = { maxUserWatches: 8192, maxUserInstances: 128, nofileSoft: 1024, nofileHard: 4096, fileMax: 1e6 };

describe('fs.watch_limit', () => {
  it('blames inotify_add_watch ENOSPC, quoting max_user_watches', () => {
    const p = proc({ name: 'gopls', exitCode: 0, args: ['gopls'] });
    failure(p, { sc: 'inotify_add_watch', errno: ERRNO.ENOSPC, path: '/workspace/node_modules/x' });
    const [c] = rule(p, context({ limits }));
    expect(c!.evidence).toBe('inotify_add_watch failed with ENOSPC 1 time, first for /workspace/node_modules/x: the user\'s inotify ' +
      'watches are used up (fs.inotify.max_user_watches = 8,192, shared by all processes of the user)');
    expect(c!.hint).toContain('fs.inotify.max_user_watches=524288');
    expect(c!.attributes!['gostall.cause.limit']).toBe(8192);
  });

  it('blames inotify_init1 EMFILE as the instance limit', () => {
    const p = proc({ exitCode: 1 });
    failure(p, { sc: 'inotify_init1', errno: ERRNO.EMFILE });
    const [c] = rule(p, context({ limits }));
    expect(c!.evidence).toContain('max_user_instances = 128');
    expect(c!.hint).toContain('max_user_instances');
  });

  it('has no cause for other ENOSPC (a full disk is not a watch limit)', () => {
    const p = proc({ exitCode: 1 });
    failure(p, { sc: 'openat', errno: ERRNO.ENOSPC, path: '/tmp/x' });
    failure(p, { sc: 'inotify_add_watch', errno: ERRNO.ENOENT, path: '/gone' });
    expect(rule(p, context({ limits }))).toEqual([]);
  });
});
