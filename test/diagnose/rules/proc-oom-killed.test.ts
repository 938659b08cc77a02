// proc.oom_killed: the OOM killer chose a process of the tree.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/proc-oom-killed.js';
import { S, context, proc } from '../fixtures.js';

describe('proc.oom_killed', () => {
  it('blames the victim, weighted by the whole run', () => {
    const root = proc({ wallNs: 10 * S, exitCode: 1 });
    const compile = proc({ parent: root, name: 'compile', args: ['compile'], wallNs: 3.2 * S });
    compile.oomKilled = true;
    compile.status = 9; // SIGKILL
    const [c, ...rest] = rule(root, context());
    expect(rest).toEqual([]);
    expect(c!.process).toBe(compile);
    expect(c!.evidence).toBe('killed by the kernel\'s out-of-memory killer after 3.20 s (the machine or its memory cgroup ran out of memory)');
    expect(c!.weightNs).toBe(10 * S);
  });

  it('has no cause without an OOM kill, even for a SIGKILL', () => {
    const root = proc({ wallNs: 1 * S });
    root.status = 9;
    expect(rule(root, context())).toEqual([]);
  });
});
