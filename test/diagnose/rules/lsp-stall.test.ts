// lsp.stall: gopls waited on a child of its own that was blocked; a quick child is no stall.
import { describe, expect, it } from 'vitest';
import { rule, THRESHOLDS } from '../../../src/diagnose/rules/lsp-stall.js';
import { MS, S, context, offCpu, proc, record } from '../fixtures.js';

describe('lsp.stall', () => {
  it('names the child, how long gopls waited and what the child was blocked on', () => {
    const gopls = proc({ name: 'gopls', wallNs: 60 * S });
    const list = proc({ parent: gopls, name: 'go', args: ['go', 'list', '-e', '-json', './...'], wallNs: 12 * S });
    list.slowSyscalls.push(record(list, { sc: 'openat', latencyNs: 11.9 * S, path: '/run/user/1000/fifo' }));
    const [c, ...rest] = rule(gopls, context());
    expect(rest).toEqual([]);
    expect(c!.process).toBe(gopls);
    expect(c!.evidence).toBe(`gopls (pid ${gopls.pid}) waited 12.00 s for its child go list (pid ${list.pid}) ` +
      '(`go list -e -json ./...`); it was blocked 11.90 s in openat of /run/user/1000/fifo');
  });

  it('says what a grandchild waited on, and that the child was still running', () => {
    const gopls = proc({ name: 'gopls', wallNs: 60 * S });
    const list = proc({ parent: gopls, name: 'go', args: ['go', 'list'], wallNs: 30 * S });
    list.endNs = undefined;
    list.status = undefined;
    const git = proc({ parent: list, name: 'git', args: ['git', 'ls-remote'], wallNs: 29 * S });
    offCpu(git, { state: 1, durationNs: 28 * S, sc: 'connect' });
    const [c] = rule(gopls, context({ endNs: list.startNs + 30 * S }));
    expect(c!.evidence).toContain(`git (pid ${git.pid}) was blocked 28.00 s off-CPU asleep (S) in connect; it was still running when tracing stopped`);
  });

  it('is not a stall when the children answer within the threshold, or the tool is not long-lived', () => {
    const gopls = proc({ name: 'gopls', wallNs: 60 * S });
    proc({ parent: gopls, name: 'go', args: ['go', 'list'], wallNs: THRESHOLDS.minChildWaitNs - 500 * MS });
    expect(rule(gopls, context())).toEqual([]);
    const busy = proc({ name: 'gopls', wallNs: 60 * S });
    const computing = proc({ parent: busy, name: 'go', args: ['go', 'list', './...'], wallNs: 8 * S });
    computing.sched.onCpuNs = 7 * S; // a huge workspace: slow, but working
    expect(rule(busy, context())).toEqual([]);
    const build = proc({ name: 'go', args: ['go', 'build'], wallNs: 60 * S });
    proc({ parent: build, name: 'compile', args: ['compile'], wallNs: 30 * S });
    expect(rule(build, context())).toEqual([]);
  });
});
