// Unit tests of the cleanup plumbing every fixture relies on.
import { describe, expect, it } from 'vitest';
import { RestoreStack, buildWithRollback, findMount } from '../support/faults/common.js';

describe('RestoreStack', () => {
  it('undoes in reverse order, keeps going past failures, and retries only the failed steps', async () => {
    const stack = new RestoreStack();
    const done: string[] = [];
    let flaky = 1;
    stack.push('a', () => void done.push('a'));
    stack.push('b', () => {
      if (flaky-- > 0) throw new Error('busy');
      done.push('b');
    });
    stack.push('c', () => void done.push('c'));

    await expect(stack.restore()).rejects.toThrow(/b: busy/);
    expect(done).toEqual(['c', 'a']);
    await stack.restore(); // retries b only
    expect(done).toEqual(['c', 'a', 'b']);
    await stack.restore(); // nothing left
    expect(done).toEqual(['c', 'a', 'b']);
  });

  it('shares one run between concurrent restore() calls', async () => {
    const stack = new RestoreStack();
    let runs = 0;
    stack.push('slow', async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
    });
    await Promise.all([stack.restore(), stack.restore()]);
    expect(runs).toBe(1);
  });
});

describe('buildWithRollback', () => {
  it('undoes the registered steps and rethrows the original error when building fails', async () => {
    const done: string[] = [];
    await expect(
      buildWithRollback(async (stack) => {
        stack.push('first', () => void done.push('first'));
        throw new Error('setup broke');
      }),
    ).rejects.toThrow('setup broke');
    expect(done).toEqual(['first']);
  });

  it('mentions a failing rollback in the original error', async () => {
    await expect(
      buildWithRollback(async (stack) => {
        stack.push('undo', () => {
          throw new Error('cannot undo');
        });
        throw new Error('setup broke');
      }),
    ).rejects.toThrow(/setup broke[\s\S]*rollback failed[\s\S]*cannot undo/);
  });
});

describe('findMount', () => {
  it('finds the root filesystem in /proc/self/mountinfo', async () => {
    expect((await findMount('/'))?.mountPoint).toBe('/');
    expect(await findMount('/no/such/mount/point')).toBeUndefined();
  });
});
