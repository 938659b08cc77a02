import { describe, expect, it } from 'vitest';
import { INITIAL_PID_NAMESPACE, ownPidNamespaceParam, parsePidNamespaceLink } from '../../src/probe-runner/pid-namespace.js';
import { tracerArgs } from '../../src/probe-runner/bpftrace.js';

describe('gostall\'s PID namespace for the probe', () => {
  it('is 0 on the host and the inode inside a container', () => {
    expect(ownPidNamespaceParam(() => `pid:[${INITIAL_PID_NAMESPACE}]`)).toBe(0);
    expect(ownPidNamespaceParam(() => 'pid:[4026532175]')).toBe(4026532175);
  });

  it('falls back to the host behaviour when /proc cannot tell', () => {
    expect(ownPidNamespaceParam(() => { throw new Error('ENOENT'); })).toBe(0);
    expect(ownPidNamespaceParam(() => 'net:[4026531840] ; rm -rf /')).toBe(0);
    expect(parsePidNamespaceLink('pid:[99999999999]')).toBeUndefined();
  });

  it('reaches bpftrace only as a validated number', () => {
    const base = { rootPid: 1, syscallThresholdNs: 1, offcpuThresholdNs: 1 };
    expect(() => tracerArgs('p.bt', { ...base, pidNamespace: -1 }, 'x64')).toThrow(/pidNamespace/);
    expect(() => tracerArgs('p.bt', { ...base, pidNamespace: 2 ** 33 }, 'x64')).toThrow(/pidNamespace/);
  });
});
