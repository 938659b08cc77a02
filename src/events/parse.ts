/**
 * Parser for probe output lines. Validation happens here, at the boundary: a line either
 * becomes a typed event, is recognised as bpftrace's own chatter, or is reported malformed
 * with a reason (the caller counts it and moves on; one bad line never costs its neighbours).
 */
import { FIELDS, GOCACHE_ENTRY_BYTES, PROBE_STRLEN, STDERR_BYTES_PER_WRITE, STDERR_CHUNK_OFFSETS, STDERR_WRITES_PER_PROCESS, type RecordTag } from './schema.js';
import type { ProbeEvent } from './types.js';
import { unescapeBytes, unescapeCString } from './unescape.js';

export type ParseResult =
  | { ok: true; event: ProbeEvent }
  | { ok: false; reason: string }
  /** bpftrace's own output (banner, blank line, map dumps at exit): not a record, not an error */
  | { ok: 'ignored' };

/** Longest line worth looking at: the widest record (S with a 128-byte path, all escaped) is < 700 bytes. */
export const MAX_LINE_LENGTH = 4096;

const LOST_RE = /^Lost (\d{1,15}) events$/;
const IGNORED: ParseResult = { ok: 'ignored' };

/** Expected TAB-separated field count per tag, tag included. */
const FIELD_COUNT: Record<string, number> = Object.fromEntries(
  Object.entries(FIELDS).map(([tag, f]) => [tag, f.length + 1]),
);

class Malformed extends Error {}

/** A non-negative integer field; rejects anything but digits and values beyond 2^53. */
function uint(text: string | undefined, name: string): number {
  if (text === undefined || text.length === 0 || text.length > 20) throw new Malformed(`bad ${name}`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new Malformed(`bad ${name}`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Malformed(`${name} out of range`);
  return n;
}

/** A signed integer field (syscall return values, fds). */
function int(text: string | undefined, name: string): number {
  if (text !== undefined && text.charCodeAt(0) === 0x2d) return -uint(text.slice(1), name);
  return uint(text, name);
}

/**
 * A %r field as text: bpftrace prints printable ASCII and \xNN escapes only, so anything
 * else (a raw byte, or U+FFFD where the line was not valid UTF-8) means the line is corrupt.
 */
function escaped(text: string, name: string): string {
  if (!PRINTABLE_ASCII.test(text)) throw new Malformed(`bad ${name}`);
  return text;
}
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A pid or tid: the kernel's pid_max is at most 2^22. */
function pid(text: string | undefined, name: string): number {
  const n = uint(text, name);
  if (n > 4_194_304) throw new Malformed(`${name} out of range`);
  return n;
}

/** Parse one line of probe output (without its newline). */
export function parseLine(line: string): ParseResult {
  if (line.length === 0) return IGNORED;
  if (line.length > MAX_LINE_LENGTH) return { ok: false, reason: 'line too long' };
  const tab = line.indexOf('\t');
  if (tab === -1) {
    const lost = LOST_RE.exec(line);
    if (lost) return { ok: true, event: { kind: 'lost', count: Number(lost[1]) } };
    if (line.startsWith('Attaching ') || line.startsWith('@') || line.startsWith('ERROR: Unknown error -1: couldn')) {
      return IGNORED;
    }
    return { ok: false, reason: 'not a record' };
  }
  const tag = line.slice(0, tab);
  const expected = FIELD_COUNT[tag];
  if (expected === undefined) return { ok: false, reason: `unknown record ${JSON.stringify(tag.slice(0, 8))}` };
  const f = line.split('\t');
  if (f.length !== expected) return { ok: false, reason: `${tag} record has ${f.length - 1} fields, expected ${expected - 1}` };
  try {
    return { ok: true, event: toEvent(tag as RecordTag, f) };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, reason: `${tag} record: ${err.message}` };
    throw err;
  }
}

function toEvent(tag: RecordTag, f: string[]): ProbeEvent {
  switch (tag) {
    case 'R':
      return { kind: 'ready', ts: uint(f[1], 'ts'), rootPid: pid(f[2], 'rootPid'), syscallThresholdNs: uint(f[3], 'threshold'), offcpuThresholdNs: uint(f[4], 'threshold') };
    case 'F':
      return { kind: 'fork', ts: uint(f[1], 'ts'), parentPid: pid(f[2], 'pid'), parentTid: pid(f[3], 'tid'), childTid: pid(f[4], 'child') };
    case 'E': {
      const comm = unescapeCString(escaped(f[7]!, 'comm'), 16);
      const file = unescapeCString(escaped(f[8]!, 'filename'), PROBE_STRLEN);
      return {
        kind: 'exec', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), oldPid: pid(f[3], 'oldPid'), ppid: pid(f[4], 'ppid'),
        uid: uint(f[5], 'uid'), argvLen: uint(f[6], 'argvLen'), comm: comm.value, filename: file.value, filenameTruncated: file.truncated,
      };
    }
    case 'V':
      return { kind: 'argv', pid: pid(f[1], 'pid'), offset: uint(f[2], 'offset'), bytes: unescapeBytes(escaped(f[3]!, 'argv')) };
    case 'A':
      return {
        kind: 'sum', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), cls: classId(f[4]), count: uint(f[5], 'count'),
        blockedNs: uint(f[6], 'ns'), maxNs: uint(f[7], 'max'), errors: uint(f[8], 'errors'), enoent: uint(f[9], 'enoent'),
        buckets: [uint(f[10], 'bucket'), uint(f[11], 'bucket'), uint(f[12], 'bucket'), uint(f[13], 'bucket')],
      };
    case 'Q':
      return {
        kind: 'sched', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), onCpuNs: uint(f[4], 'oncpu'), runqNs: uint(f[5], 'runq'),
        offSNs: uint(f[6], 'offS'), offDNs: uint(f[7], 'offD'), voluntarySwitches: uint(f[8], 'nvcsw'), involuntarySwitches: uint(f[9], 'nivcsw'),
        maxOffDNs: uint(f[10], 'maxOffD'),
      };
    case 'X':
      return { kind: 'exit', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), status: int(f[4], 'status') };
    case 'K':
      return { kind: 'oom', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid') };
    case 'S': {
      // Empty for calls without a path, and for reads on an fd the probe saw no open for.
      const raw = escaped(f[9]!, 'path');
      const path = raw.length > 0 ? unescapeCString(raw, PROBE_STRLEN) : undefined;
      return {
        kind: 'syscall', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), sc: uint(f[4], 'sc'), latencyNs: uint(f[5], 'latency'),
        runqNs: uint(f[6], 'runq'), ret: int(f[7], 'ret'), fd: int(f[8], 'fd'), path: path?.value || undefined, pathTruncated: path?.truncated ?? false,
      };
    }
    case 'O': {
      const state = uint(f[4], 'state');
      if (state !== 1 && state !== 2 && state !== 3) throw new Malformed('bad state');
      return {
        kind: 'offcpu', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), state: state & 2 ? 2 : 1,
        durationNs: uint(f[5], 'duration'), sc: uint(f[6], 'sc'),
      };
    }
    case 'C': {
      const address = f[6]!;
      if (!/^[0-9a-fA-F.:]{2,45}$/.test(address)) throw new Malformed('bad address');
      const port = uint(f[7], 'port');
      if (port > 65535) throw new Malformed('port out of range');
      return {
        kind: 'connect', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), durationNs: uint(f[4], 'duration'),
        established: f[5] === '1', address, port,
      };
    }
    case 'G':
    case 'N':
      return { kind: 'root', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), ppid: pid(f[3], 'ppid') };
    case 'W':
      return stderrEvent(f);
    case 'H':
      return goCacheEvent(f);
  }
}

/** A W record: which write, where in it, and at most the bytes the probe could have read there. */
function stderrEvent(f: string[]): ProbeEvent {
  const n = uint(f[4], 'n');
  if (n >= STDERR_WRITES_PER_PROCESS) throw new Malformed('n out of range');
  const offset = uint(f[6], 'offset');
  if (!(STDERR_CHUNK_OFFSETS as readonly number[]).includes(offset)) throw new Malformed('bad offset');
  const bytes = unescapeBytes(escaped(f[7]!, 'chunk'));
  const len = uint(f[5], 'len');
  const room = Math.min(len, STDERR_BYTES_PER_WRITE) - offset;
  if (bytes.length > Math.max(0, room) || (offset > 0 && room <= 0)) throw new Malformed('chunk longer than the write');
  return { kind: 'stderr', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), tid: pid(f[3], 'tid'), n, len, offset, bytes };
}

/** An H record: only the two results the probe prints (a fd, or ENOENT), and an entry path that fits its read. */
function goCacheEvent(f: string[]): ProbeEvent {
  const ret = int(f[3], 'ret');
  if (ret < -2 || ret === -1) throw new Malformed('ret out of range');
  if (f[4] !== '0' && f[4] !== '1') throw new Malformed('bad write');
  const entry = unescapeCString(escaped(f[5]!, 'path'), GOCACHE_ENTRY_BYTES);
  if (entry.value.length === 0 || entry.value.length > GOCACHE_ENTRY_BYTES) throw new Malformed('bad entry length');
  return { kind: 'gocache', ts: uint(f[1], 'ts'), pid: pid(f[2], 'pid'), ret, write: f[4] === '1', entry: entry.value };
}

function classId(text: string | undefined): number {
  const n = uint(text, 'cls');
  if (n > 4) throw new Malformed('cls out of range');
  return n;
}
