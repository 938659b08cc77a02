// A user's state directory as `gostall run` uses it under sudo (as root, for that user): made
// part by part, the user's, never through a link they planted, and files opened through it
// stay in it even when the user swaps the directory for a link afterwards.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openUserDirectory } from '../../src/cli/user-directory.js';

const USER = { uid: 4242, gid: 4343 };
let home: string;
let elsewhere: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'gostall-home-'));
  elsewhere = mkdtempSync(join(tmpdir(), 'gostall-elsewhere-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('a state directory opened for the user gostall runs for under sudo (as root, as the tests run)', () => {
  it('is made part by part, 0700 and the user\'s, and files opened through it land in it', () => {
    const dir = openUserDirectory(home, ['.local', 'state', 'gostall', 'traces'], USER);
    expect(dir.path).toBe(join(home, '.local/state/gostall/traces'));
    for (const p of ['.local', '.local/state', '.local/state/gostall', '.local/state/gostall/traces']) {
      const st = statSync(join(home, p));
      expect([p, st.uid, st.gid, st.mode & 0o777]).toEqual([p, USER.uid, USER.gid, 0o700]);
    }
    writeFileSync(join(dir.openPath, 'x.jsonl'), 'x');
    expect(readdirSync(dir.path)).toEqual(['x.jsonl']);
  });

  it('refuses a link the user planted, and a directory of another user\'s', () => {
    mkdirSync(join(home, '.local/state/gostall'), { recursive: true });
    symlinkSync(elsewhere, join(home, '.local/state/gostall/traces'));
    expect(() => openUserDirectory(home, ['.local', 'state', 'gostall', 'traces'], { uid: 0, gid: 0 })).toThrow(`${join(home, '.local/state/gostall/traces')}: a symbolic link`);
    mkdirSync(join(home, '.local/state/gostall/builds'));
    expect(() => openUserDirectory(home, ['.local', 'state', 'gostall', 'builds'], USER)).not.toThrow(); // root's, closed to others
    mkdirSync(join(home, 'other'));
    chmodSync(join(home, 'other'), 0o777);
    expect(() => openUserDirectory(home, ['other'], USER)).toThrow(/owned by uid 0 and writable by others, not the user's/);
    expect(() => openUserDirectory(home, ['..'], USER)).toThrow(/not a plain name/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('keeps what is opened through it in the directory it opened, when the user swaps that for a link', () => {
    const dir = openUserDirectory(home, ['.local', 'state', 'gostall', 'builds'], USER);
    renameSync(dir.path, join(home, 'moved'));
    symlinkSync(elsewhere, dir.path);
    writeFileSync(join(dir.openPath, 'record.json'), '{}');
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(existsSync(join(home, 'moved/record.json'))).toBe(true);
  });
});
