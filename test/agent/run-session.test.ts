/**
 * Whose environment the agent reads for a run it builds itself (src/agent/run-session.ts):
 * the client's — the shim's parent — only when that is the requesting user's own process,
 * and still the same process once read. The trace goes back to that user.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clientEnvironment } from '../../src/agent/run-session.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A /proc with the shim (pid 200) whose parent is 100, run by these uids. */
function fakeProc(parentUids: [number, number, number], opts: { environ?: string } = {}): string {
  root = mkdtempSync(join(tmpdir(), 'gostall-procenv-'));
  const stat = (pid: number, ppid: number, start: number) => `${pid} (x y) S ${ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0\n`;
  mkdirSync(join(root, '200'));
  mkdirSync(join(root, '100'));
  writeFileSync(join(root, '200/stat'), stat(200, 100, 5000));
  writeFileSync(join(root, '100/stat'), stat(100, 1, 4000));
  writeFileSync(join(root, '100/status'), `Name:\tgostall\nUid:\t${parentUids.join('\t')}\t${parentUids[0]}\n`);
  writeFileSync(join(root, '100/environ'), opts.environ ?? 'GOFLAGS=-mod=mod\0odd.name=1\0HOME=/home/u\0');
  return root;
}

describe('the client\'s environment', () => {
  it('is read from the shim\'s parent when that is the requesting user\'s process', () => {
    expect(clientEnvironment(200, 1000, fakeProc([1000, 1000, 1000]))).toEqual({ GOFLAGS: '-mod=mod', 'odd.name': '1', HOME: '/home/u' });
  });

  it('is empty when the parent runs as anyone else, even by one of its uids (a set-uid program)', () => {
    expect(clientEnvironment(200, 1000, fakeProc([1000, 0, 1000]))).toEqual({});
    expect(clientEnvironment(200, 1000, fakeProc([0, 0, 0]))).toEqual({});
    expect(clientEnvironment(200, 1000, fakeProc([1000, 1000, 0]))).toEqual({});
  });

  it('is empty when the processes are gone', () => {
    fakeProc([1000, 1000, 1000]);
    expect(clientEnvironment(300, 1000, root)).toEqual({});
    rmSync(join(root, '100'), { recursive: true });
    expect(clientEnvironment(200, 1000, root)).toEqual({});
  });
});
