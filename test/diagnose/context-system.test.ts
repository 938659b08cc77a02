// Machine-wide CPU time and limits.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseNofile, parseProcStat, readLimits, readOwnCpuNs } from '../../src/diagnose/context-system.js';

describe('system facts', () => {
  it('sums busy CPU time from /proc/stat (ticks of 10 ms), steal separately', () => {
    expect(parseProcStat('cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 2 3\n')).toEqual({ busyNs: 161 * 1e7, stealNs: 3 * 1e7 });
    expect(parseProcStat('intr 1\n')).toBeUndefined();
  });
  it('reads RLIMIT_NOFILE from /proc/PID/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(parseNofile(text)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseNofile('Max open files            unlimited            unlimited            files\n')).toEqual({ soft: undefined, hard: undefined });
  });
  it('reads the live limits of this process and the inotify sysctls', () => {
    const l = readLimits(process.pid);
    expect(l.nofileSoft).toBeGreaterThan(0);
    expect(l.maxUserWatches).toBeGreaterThan(0);
    expect(l.maxUserInstances).toBeGreaterThan(0);
  });
  it('counts its own CPU time (gostall is never "other work")', () => {
    const before = readOwnCpuNs(-1);
    let x = 0;
    for (let i = 0; i < 3e7; i++) x += i;
    expect(x).toBeGreaterThan(0);
    expect(readOwnCpuNs(-1)).toBeGreaterThan(before);
  });
  it('counts the CPU of the children it started (its tracer), but not the traced root\'s', async () => {
    // a child that burns ~0.3 s of CPU, then waits to be read
    const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 300); setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const withChild = readOwnCpuNs(-1);
      const withoutIt = readOwnCpuNs(child.pid!);
      expect(withChild - withoutIt).toBeGreaterThanOrEqual(200e6);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
