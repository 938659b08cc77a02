// The spool directory the agent keeps undelivered spans in: made private when the agent
// creates it, never chmod'ed when it exists (the agent runs as root: `--spool-dir /var/lib`
// must not close a system directory), and refused when other users may write in it.
import { chmod, mkdir, mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSpool } from '../../src/export/spool.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'gostall-spool-dir-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o7777;

describe('the spool directory', () => {
  it('is created with mode 0700, parents included', async () => {
    const spoolDir = join(dir, 'state', 'spool');
    await openSpool({ dir: spoolDir, maxBytes: 1 << 20 });
    expect(await modeOf(spoolDir)).toBe(0o700);
  });

  it('is taken as it is when it exists: its mode and the files in it stay', async () => {
    const shared = join(dir, 'readable');
    await mkdir(shared);
    await chmod(shared, 0o755);
    await writeFile(join(shared, 'someone-elses.conf'), 'keep me\n');
    const spool = await openSpool({ dir: shared, maxBytes: 1 << 20 });
    expect(spool.spans()).toBe(0);
    expect(await modeOf(shared)).toBe(0o755);
    expect(await readFile(join(shared, 'someone-elses.conf'), 'utf8')).toBe('keep me\n');
  });

  it('is refused, unchanged, when other users may write in it (a /tmp)', async () => {
    const open = join(dir, 'sticky');
    await mkdir(open);
    await chmod(open, 0o1777);
    await expect(openSpool({ dir: open, maxBytes: 1 << 20 })).rejects.toThrow(/other users may write in it \(mode 1777\)/);
    expect(await modeOf(open)).toBe(0o1777);
  });
});
