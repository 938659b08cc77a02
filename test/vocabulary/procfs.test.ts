import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readStat } from '../../src/vocabulary/procfs.js';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'gostall-procfs-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A /proc/PID/stat line as the kernel writes it, fields 3.. after the comm. */
function writeStat(pid: number, comm: string, state: string): void {
  mkdirSync(join(root, String(pid)));
  // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss
  writeFileSync(join(root, String(pid), 'stat'), `${pid} (${comm}) ${state} 1 2 3 0 -1 4194560 10 0 0 0 7 5 0 0 20 0 3 0 12345 1000 42 18446744073709551615\n`);
}

describe('readStat', () => {
  it('reads the state, so an exited process (a zombie) is told from a live one', () => {
    writeStat(100, 'go', 'S');
    writeStat(101, 'go', 'Z');
    expect(readStat(100, root)).toMatchObject({ comm: 'go', state: 'S', ppid: 1, utime: 7, stime: 5, threads: 3, startTicks: 12345, rssPages: 42 });
    expect(readStat(101, root)?.state).toBe('Z');
  });

  it('splits after the last parenthesis: a comm may hold spaces and parentheses', () => {
    writeStat(102, 'a) Z (b', 'R');
    expect(readStat(102, root)).toMatchObject({ comm: 'a) Z (b', state: 'R', startTicks: 12345 });
  });

  it('is undefined for a process that is gone', () => {
    expect(readStat(103, root)).toBeUndefined();
  });
});
