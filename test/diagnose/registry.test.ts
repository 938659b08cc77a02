// The public cause ids: every one of them has a rule module, and diagnose ranks by weight.
import { describe, expect, it } from 'vitest';
import { CAUSE_IDS, RULE_MODULES } from '../../src/diagnose/rules/index.js';
import { diagnose, rankedIds } from '../../src/diagnose/diagnose.js';
import { ERRNO, S, context, failure, offCpu, proc } from './fixtures.js';

describe('cause rules', () => {
  it('cover the public ids of DESIGN.md, one module each', () => {
    expect([...CAUSE_IDS].sort()).toEqual([
      'cpu.contention', 'cpu.throttled', 'exec.failed', 'fs.fd_exhaustion', 'fs.oversized_walk', 'fs.permission_denied',
      'fs.slow_io', 'fs.slow_metadata', 'fs.symlink_loop', 'fs.watch_limit', 'net.connect_failed', 'net.slow_connect',
      'proc.oom_killed', 'sched.uninterruptible', 'go.goroot_invalid', 'go.tool_not_found', 'go.toolchain_mismatch',
      'net.dns_failed', 'net.module_fetch_failed', 'lsp.stall', 'go.vcs_stamping', 'go.cache_churn',
    ].sort());
    for (const m of RULE_MODULES) expect(Object.keys(m.THRESHOLDS).length).toBeGreaterThan(0);
  });

  it('a tree with nothing wrong has no cause', () => {
    const root = proc({ wallNs: 0.6 * S });
    proc({ parent: root, name: 'compile', args: ['compile'] });
    expect(diagnose(root, context())).toEqual([]);
  });

  it('ranks causes by the time they explain', () => {
    const root = proc({ wallNs: 10 * S });
    root.sched.offDNs = 4 * S;
    offCpu(root, { state: 2, durationNs: 3 * S });
    const child = proc({ parent: root, name: 'vet', args: ['vet'], exitCode: 0 });
    failure(child, { sc: 'newfstatat', errno: ERRNO.ELOOP, path: '/workspace/a' });
    expect(rankedIds(diagnose(root, context()))).toEqual(['sched.uninterruptible', 'fs.symlink_loop']);
  });
});

describe('ranking when the command failed', () => {
  it('puts the cause that explains the failure first, even when a slowness cause explains more time', () => {
    const root = proc({ wallNs: 10 * S, exitCode: 1, uid: 1001 });
    root.sched.offDNs = 8 * S;
    offCpu(root, { state: 2, durationNs: 8 * S });
    const child = proc({ parent: root, name: 'compile', args: ['compile'], exitCode: 1, wallNs: 0.1 * S });
    failure(child, { sc: 'mkdirat', errno: ERRNO.EACCES, path: '/home/dev/.cache/go-build/00' });
    expect(rankedIds(diagnose(root, context()))).toEqual(['fs.permission_denied', 'sched.uninterruptible']);
  });
});
