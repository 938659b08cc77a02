// A collector running as its own user reads gostall's --out files only when they are readable by
// its group: GOSTALL_OUT_GROUP opts in to 0640 with that group; without it files stay 0600.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOtlpJsonFile, outGroupFromEnv } from '../../src/export/file.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'gostall-outgroup-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('the --out file for a collector of another user', () => {
  it('is private (0600) by default, even when it existed with a wider mode', async () => {
    const path = join(dir, 'default.otlp.jsonl');
    await writeFile(path, '', { mode: 0o644 });
    const f = await openOtlpJsonFile(path, { group: undefined });
    await f.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('is 0640 and owned by the group GOSTALL_OUT_GROUP names (a gid here: one of our own groups)', async () => {
    const gid = process.getgid!();
    const path = join(dir, 'group.otlp.jsonl');
    const f = await openOtlpJsonFile(path, { group: outGroupFromEnv({ GOSTALL_OUT_GROUP: String(gid) }) });
    await f.close();
    const st = await stat(path);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.gid).toBe(gid);
  });

  it('resolves a group name from the group database and names a group that does not exist', async () => {
    const groups = join(dir, 'group');
    await writeFile(groups, 'root:x:0:\notelcol-contrib:x:998:\n');
    expect(outGroupFromEnv({ GOSTALL_OUT_GROUP: 'otelcol-contrib' }, groups)).toBe(998);
    expect(outGroupFromEnv({}, groups)).toBeUndefined();
    expect(() => outGroupFromEnv({ GOSTALL_OUT_GROUP: 'nobody-here' }, groups)).toThrow(/GOSTALL_OUT_GROUP="nobody-here" is not a group of this machine/);
  });
});
