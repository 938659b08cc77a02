// The probe's records become typed events; bpftrace's own chatter is ignored; anything else
// is reported malformed with a reason. Strings arrive %r-escaped and must come back exact.
import { describe, expect, it } from 'vitest';
import { parseLine, type ParseResult } from '../../src/events/parse.js';
import { FIELDS, PROBE_STRLEN } from '../../src/events/schema.js';
import type { ProbeEvent } from '../../src/events/types.js';

/** What bpftrace's %r prints for these bytes: printable ASCII as is, every other byte as \xNN. */
function r(bytes: Buffer | string): string {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let out = '';
  for (const c of b) out += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

/** A NUL-padded buffer of n bytes, as buf(str, n) prints it. */
function padded(text: string | Buffer, n: number): Buffer {
  const b = Buffer.alloc(n);
  (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).copy(b, 0, 0, n);
  return b;
}

const line = (...f: (string | number)[]) => f.join('\t');

function event(l: string): ProbeEvent {
  const res = parseLine(l);
  if (res.ok !== true) throw new Error(`expected an event from ${JSON.stringify(l)}, got ${JSON.stringify(res)}`);
  return res.event;
}

function reason(l: string): string {
  const res: ParseResult = parseLine(l);
  if (res.ok !== false) throw new Error(`expected ${JSON.stringify(l.slice(0, 80))} to be malformed, got ${JSON.stringify(res)}`);
  return res.reason;
}

describe('parseLine: every record type', () => {
  it('R: ready, with the thresholds the probe runs with', () => {
    expect(event(line('R', 1000, 42, 1_000_000, 2_000_000))).toEqual({
      kind: 'ready', ts: 1000, rootPid: 42, syscallThresholdNs: 1_000_000, offcpuThresholdNs: 2_000_000,
    });
  });

  it('F: a task forked', () => {
    expect(event(line('F', 5, 10, 11, 12))).toEqual({ kind: 'fork', ts: 5, parentPid: 10, parentTid: 11, childTid: 12 });
  });

  it('E: an exec, with comm and filename unescaped and cut at their NUL', () => {
    expect(event(line('E', 7, 20, 21, 10, 1000, 12, r(padded('go', 16)), r(padded('/usr/bin/go', 128))))).toEqual({
      kind: 'exec', ts: 7, pid: 20, oldPid: 21, ppid: 10, uid: 1000, argvLen: 12, comm: 'go', filename: '/usr/bin/go',
      filenameTruncated: false,
    });
  });

  it('V: an argv chunk keeps every byte, NULs included', () => {
    const e = event(line('V', 20, 0, r(Buffer.from('go\0build\0./...\0'))));
    expect(e).toMatchObject({ kind: 'argv', pid: 20, offset: 0 });
    expect((e as { bytes: Buffer }).bytes.toString('latin1')).toBe('go\0build\0./...\0');
  });

  it('A: per-thread syscall sums with the latency buckets', () => {
    expect(event(line('A', 9, 20, 22, 3, 100, 5000, 300, 4, 2, 90, 8, 1, 1))).toEqual({
      kind: 'sum', ts: 9, pid: 20, tid: 22, cls: 3, count: 100, blockedNs: 5000, maxNs: 300, errors: 4, enoent: 2,
      buckets: [90, 8, 1, 1],
    });
  });

  it('Q: per-thread scheduler sums', () => {
    expect(event(line('Q', 9, 20, 22, 1, 2, 3, 4, 5, 6, 7))).toEqual({
      kind: 'sched', ts: 9, pid: 20, tid: 22, onCpuNs: 1, runqNs: 2, offSNs: 3, offDNs: 4, voluntarySwitches: 5,
      involuntarySwitches: 6, maxOffDNs: 7,
    });
  });

  it('X: exit with the wait status', () => {
    expect(event(line('X', 9, 20, 22, 256))).toEqual({ kind: 'exit', ts: 9, pid: 20, tid: 22, status: 256 });
  });

  it('K: chosen by the OOM killer', () => {
    expect(event(line('K', 9, 20))).toEqual({ kind: 'oom', ts: 9, pid: 20 });
  });

  it('S: a slow call on a path', () => {
    expect(event(line('S', 9, 20, 22, 1, 50_000_000, 1000, 0, -1, r(padded('/ws/go.mod', 128))))).toEqual({
      kind: 'syscall', ts: 9, pid: 20, tid: 22, sc: 1, latencyNs: 50_000_000, runqNs: 1000, ret: 0, fd: -1,
      path: '/ws/go.mod', pathTruncated: false,
    });
  });

  it('S: a failed call keeps its negative errno', () => {
    expect(event(line('S', 9, 20, 22, 10, 5, 0, -13, -1, r(padded('/root/x', 128))))).toMatchObject({ ret: -13, path: '/root/x' });
  });

  it('S: a read on an fd the probe saw opened carries the path in two 64-byte halves', () => {
    const path = `/cache/${'a'.repeat(70)}/file.go`;
    const field = r(padded(path.slice(0, 64), 64)) + r(padded(path.slice(64), 64));
    expect(event(line('S', 9, 20, 22, 20, 5, 0, 100, 3, field))).toMatchObject({ sc: 20, fd: 3, path, pathTruncated: false });
    const short = r(padded('/etc/hostname', 64));
    expect(event(line('S', 9, 20, 22, 20, 5, 0, 100, 3, short))).toMatchObject({ fd: 3, path: '/etc/hostname' });
  });

  it('S: a read on an fd the probe did not see opened has no path', () => {
    expect(event(line('S', 9, 20, 22, 20, 5, 0, 100, 7, ''))).toMatchObject({ fd: 7, path: undefined, pathTruncated: false });
    // A missing map value prints as zero bytes: still no path, not an empty one.
    expect(event(line('S', 9, 20, 22, 20, 5, 0, 100, 7, r(Buffer.alloc(64))))).toMatchObject({ path: undefined });
  });

  it('O: an off-CPU interval; state 3 (both bits) counts as D', () => {
    expect(event(line('O', 9, 20, 22, 1, 70_000_000, 1))).toEqual({ kind: 'offcpu', ts: 9, pid: 20, tid: 22, state: 1, durationNs: 70_000_000, sc: 1 });
    expect(event(line('O', 9, 20, 22, 3, 5, 0))).toMatchObject({ state: 2 });
  });

  it('C: a TCP handshake, v4 and v6', () => {
    expect(event(line('C', 9, 20, 22, 1_000_000, 1, '127.0.0.1', 8080))).toEqual({
      kind: 'connect', ts: 9, pid: 20, tid: 22, durationNs: 1_000_000, established: true, address: '127.0.0.1', port: 8080,
    });
    expect(event(line('C', 9, 20, 22, 5, 7, '::1', 443))).toMatchObject({ established: false, address: '::1' });
  });

  it('Lost N events: counted as lost, from either stream', () => {
    expect(event('Lost 17 events')).toEqual({ kind: 'lost', count: 17 });
  });

  it('covers every tag of the schema', () => {
    // Keeps this file honest when a record type is added to FIELDS.
    const tested = ['R', 'F', 'E', 'V', 'A', 'Q', 'X', 'K', 'S', 'O', 'C', 'G', 'N', 'M', 'W', 'H'];
    for (const tag of Object.keys(FIELDS)) expect(tested, `add a test for ${tag}`).toContain(tag);
  });

  it('G, N and M (agent mode records) parse to their kinds', () => {
    if ('G' in FIELDS) expect(event(line('G', 9, 20, 1))).toMatchObject({ kind: 'root', pid: 20 });
    // a process that named itself gostall-shim (bin/gostall's fork) is a root as an exec'd one is
    expect(event(line('N', 9, 21, 3))).toEqual({ kind: 'root', ts: 9, pid: 21, ppid: 3 });
    expect(parseLine(line('N', 9, 21)).ok).toBe(false);
    if ('M' in FIELDS) expect(event(line('M', 9, 1, 0))).toMatchObject({ kind: 'snapshot', snapshot: 1, phase: 0 });
  });

  it('H (build cache opens; more in test/model/gocache.test.ts) parses to its kind', () => {
    expect(event(line('H', 9, 20, -2, 0, 'ab/cd-a\\x00\\x00'))).toEqual({ kind: 'gocache', ts: 9, pid: 20, ret: -2, write: false, entry: 'ab/cd-a' });
  });

  it('W (stderr; more in stderr-record.test.ts) parses to its kind', () => {
    expect(event(line('W', 9, 20, 21, 0, 3, 0, 'go\\x0a'))).toMatchObject({ kind: 'stderr', pid: 20, tid: 21, n: 0, len: 3 });
  });
});

describe('parseLine: paths the kernel hands over', () => {
  const pathOf = (bytes: Buffer) => event(line('S', 1, 2, 2, 1, 5, 0, -2, -1, r(padded(bytes, 128)))) as { path?: string; pathTruncated: boolean };

  it.each([
    ['spaces', '/w s/my file.go'],
    ['double and single quotes', `/w/"quoted" and 'single'.go`],
    ['a TAB', '/w/tab\there'],
    ['a newline', '/w/line\nbreak'],
    ['a literal backslash-x sequence', '/w/not\\x41an escape'],
    ['UTF-8', '/w/é/日本/файл.go'],
    ['a carriage return and DEL', '/w/cr\r\x7f'],
  ])('keeps %s exactly', (_what, p) => {
    expect(pathOf(Buffer.from(p, 'utf8')).path).toBe(p);
  });

  it('keeps bytes that are not UTF-8 visible as \\xNN instead of replacing them', () => {
    const bytes = Buffer.concat([Buffer.from('/w/'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('.go')]);
    expect(pathOf(bytes).path).toBe('/w/\\xff\\xfe\\xc3.go');
  });

  it('flags a path that filled the probe buffer as truncated, and a shorter one as not', () => {
    expect(pathOf(Buffer.from(`/${'x'.repeat(PROBE_STRLEN - 1)}`))).toMatchObject({ pathTruncated: true });
    expect(pathOf(Buffer.from(`/${'x'.repeat(PROBE_STRLEN - 3)}`))).toMatchObject({ pathTruncated: false });
    const e = event(line('E', 7, 20, 20, 10, 0, 0, r(padded('x', 16)), r(Buffer.from('/'.repeat(PROBE_STRLEN))))) as { filenameTruncated: boolean };
    expect(e.filenameTruncated).toBe(true);
  });
});

describe('parseLine: what is not a record', () => {
  it.each([
    [''],
    ['Attaching 53 probes...'],
    ['@ts[1234]: 5678'],
    ['ERROR: Unknown error -1: couldn\'t set RLIMIT_MEMLOCK for bpftrace. If your program is not loading, you can try "ulimit -l 8192" to fix the problem'],
  ])('ignores bpftrace chatter %j', (l) => {
    expect(parseLine(l)).toEqual({ ok: 'ignored' });
  });

  it.each([
    ['no TAB at all', 'hello world', /not a record/],
    ['an unknown tag', line('Z', 1, 2), /unknown record/],
    ['a missing field', line('F', 1, 2, 3), /F record has 3 fields, expected 4/],
    ['an extra field', line('X', 1, 2, 3, 4, 5), /X record has 5 fields, expected 4/],
    ['an empty number', line('X', '', 2, 3, 4), /bad ts/],
    ['letters in a number', line('X', '12a', 2, 3, 4), /bad ts/],
    ['a negative count', line('K', 1, -2), /bad pid/],
    ['a float', line('K', '1.5', 2), /bad ts/],
    ['a pid beyond pid_max', line('K', 1, 4_194_305), /pid out of range/],
    ['a timestamp beyond 2^53', line('K', '9007199254740993', 2), /ts out of range/],
    ['a 21-digit number', line('K', '1'.repeat(21), 2), /bad ts/],
    ['a syscall class out of range', line('A', 1, 2, 2, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1), /cls out of range/],
    ['an off-CPU state of 0', line('O', 1, 2, 2, 0, 1, 0), /bad state/],
    ['a port beyond 65535', line('C', 1, 2, 2, 1, 1, '127.0.0.1', 70000), /port out of range/],
    ['an address with letters', line('C', 1, 2, 2, 1, 1, 'evil.example', 80), /bad address/],
    ['a raw non-ASCII byte in an escaped field', line('S', 1, 2, 2, 1, 5, 0, 0, -1, '/w/\u00e9'), /bad path/],
    ['U+FFFD (a line that was not UTF-8) in an escaped field', line('E', 1, 2, 2, 1, 0, 0, 'go', '/\uFFFD'), /bad filename/],
    ['an absurd lost count', 'Lost 12345678901234567890 events', /not a record/],
  ])('reports %s as malformed', (_what, l, why) => {
    expect(reason(l)).toMatch(why);
  });
});
