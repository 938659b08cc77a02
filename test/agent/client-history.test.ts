// The agent's side of a user's build history kept by bin/gostall: it asks for the records its
// builds compare with and takes only those, once; anything else a client sends is an error,
// and a client that does not answer leaves the build uncompared instead of holding the trace.
import { describe, expect, it } from 'vitest';
import { linkClientHistory } from '../../src/agent/client-history.js';
import type { RunReply } from '../../src/agent/run-protocol.js';

const A = `${'a'.repeat(32)}.json`;
const B = `${'b'.repeat(32)}.json`;
const history = (records: Record<string, unknown>) => ({ v: 1, type: 'history', records });

describe('the build records a client sends the agent', () => {
  it('asks for the files by name and hands over exactly the ones the client had', async () => {
    const sent: RunReply[] = [];
    const link = linkClientHistory(1000, (r) => sent.push(r));
    const got = link.history.fetch([A, B]);
    expect(sent).toEqual([{ v: 1, type: 'want-history', files: [A, B] }]);
    expect(link.receive(history({ [A]: '{"v":1}' }))).toBeUndefined();
    const records = await got;
    expect([...records!.keys()]).toEqual([A]);
    expect(records!.get(A)!.toString()).toBe('{"v":1}');
    expect(link.receive(history({ [A]: '{"v":1}' }))).toMatch(/sent twice/);
    link.history.write(B, 'new record ✓');
    expect(link.outgoing()).toEqual([{ file: B, bytes: Buffer.from('new record ✓') }]);
  });

  it('refuses records sent unasked, not asked for, or malformed', () => {
    const link = linkClientHistory(1000, () => {});
    expect(link.receive(history({ [A]: '{}' }))).toMatch(/sent unasked/);
    void link.history.fetch([A]);
    expect(link.receive(history({ [B]: '{}' }))).toMatch(new RegExp(`not asked for \\(${B}\\)`));
    expect(link.receive(history({ '../../etc/passwd': '{}' }))).toMatch(/malformed build records/);
    expect(link.receive(history({ [A]: 42 }))).toMatch(/malformed build records/);
    expect(link.receive({ v: 1, type: 'history' })).toMatch(/malformed build records: records/);
    link.close();
  });

  it('a client that does not answer in time leaves the build uncompared; its late records are ignored', async () => {
    const link = linkClientHistory(1000, () => {}, 20);
    expect(await link.history.fetch([A])).toBeUndefined();
    expect(link.receive(history({ [A]: '{}' }))).toBeUndefined();
    expect(link.receive(history({ [A]: '{}' }))).toMatch(/sent twice/);
  });

  it('a client that goes away ends the wait at once, and any wait after', async () => {
    const link = linkClientHistory(1000, () => {}, 60_000);
    const got = link.history.fetch([A]);
    link.close();
    expect(await got).toBeUndefined();
    expect(await link.history.fetch([A])).toBeUndefined(); // and one asked after it, at once
  });
});
