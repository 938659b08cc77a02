// W records carry the first bytes of a traced process's first writes to stderr. The parser
// accepts only what the probe can print (write 0..3, chunks at 0 and 128, never more bytes
// than the write had), and the model turns them into text that is safe to show and export.
import { describe, expect, it } from 'vitest';
import { parseLine } from '../../src/events/parse.js';
import type { StderrEvent } from '../../src/events/types.js';
import { createProcessTree } from '../../src/model/tree.js';
import { stderrText } from '../../src/model/stderr.js';
import { redactUrlsInText } from '../../src/model/redact.js';

/** bpftrace's %r: printable ASCII as is, other bytes as \xNN. */
function r(bytes: Buffer | string): string {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let out = '';
  for (const c of b) out += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

const w = (pid: number, n: number, len: number, offset: number, chunk: Buffer | string) =>
  ['W', 5000, pid, pid, n, len, offset, r(chunk)].join('\t');

function stderrEvent(line: string): StderrEvent {
  const res = parseLine(line);
  if (res.ok !== true || res.event.kind !== 'stderr') throw new Error(`not a stderr event: ${JSON.stringify(res)}`);
  return res.event;
}

describe('W records', () => {
  it('carry the bytes of a write to stderr exactly, escapes and all', () => {
    const e = stderrEvent(w(42, 0, 34, 0, 'go: cannot find GOROOT directory\n\x00'));
    expect(e).toMatchObject({ pid: 42, n: 0, len: 34, offset: 0 });
    expect(e.bytes.toString('utf8')).toBe('go: cannot find GOROOT directory\n\x00');
  });

  it('are refused when they claim more than the probe prints', () => {
    expect(parseLine(w(42, 4, 10, 0, 'x'))).toMatchObject({ ok: false }); // only writes 0..3
    expect(parseLine(w(42, 0, 10, 64, 'x'))).toMatchObject({ ok: false }); // chunks start at 0 or 128
    expect(parseLine(w(42, 0, 3, 0, 'four'))).toMatchObject({ ok: false }); // longer than the write
    expect(parseLine(w(42, 0, 100, 128, 'x'))).toMatchObject({ ok: false }); // a second chunk of a short write
    expect(parseLine(w(42, 0, 500, 128, 'y'.repeat(73)))).toMatchObject({ ok: false }); // 128 + 72 at most
    expect(parseLine(['W', 1, 42, 42, 0, 5, 0, 'a\tb'].join('\t'))).toMatchObject({ ok: false });
    expect(parseLine(['W', 1, 42, 42, 0, 5, 0, 'h\u00e9'].join('\t'))).toMatchObject({ ok: false }); // raw non-ASCII: corrupt
  });
});

function captured(lines: string[]): string | undefined {
  const tree = createProcessTree();
  const root = tree.addRoot(42, 1000);
  for (const l of lines) {
    const res = parseLine(l);
    if (res.ok === true) tree.add(res.event);
  }
  return stderrText(root.stderr);
}

describe('what a process wrote to stderr, as gostall shows it', () => {
  it('joins the writes in order and marks a write that was longer than what was read', () => {
    const long = `${'a'.repeat(128)}`;
    const text = captured([
      w(42, 1, 6, 0, 'second'),
      w(42, 0, 300, 0, long),
      w(42, 0, 300, 128, 'b'.repeat(72)),
    ]);
    expect(text).toBe(`${'a'.repeat(128)}${'b'.repeat(72)}…\nsecond`);
  });

  it('drops terminal escape sequences and control characters, keeps invalid UTF-8 visible', () => {
    const bytes = Buffer.concat([
      Buffer.from('\x1b[31mred\x1b[0m \x1b]0;title\x07ok\x08\r\n'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(' caf\u00e9\n'),
    ]);
    expect(captured([w(42, 0, bytes.length, 0, bytes)])).toBe('red ok\n\\xff\\xfe caf\u00e9\n');
  });

  it('never keeps credentials of a URL', () => {
    const msg = "fatal: unable to access 'https://user:s3cret@git.example.com/repo.git/': Could not resolve host\n" +
      'go: https://proxy.example.com/mod/@v/list?token=abc: 403\n';
    const text = captured([w(42, 0, 128, 0, msg.slice(0, 128)), w(42, 1, msg.length - 128, 0, msg.slice(128))]);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('token=abc');
    expect(text).toContain('https://REDACTED@git.example.com/repo.git/');
    expect(text).toContain('https://proxy.example.com/mod/@v/list?REDACTED');
  });

  it('is undefined for a process that wrote nothing to stderr', () => {
    expect(captured([])).toBeUndefined();
  });

  it('redacts URLs in free text without needing them to parse', () => {
    expect(redactUrlsInText('see git+ssh://me:pw@[::1]:22/x and http://a@b')).toBe('see git+ssh://REDACTED@[::1]:22/x and http://REDACTED@b');
    expect(redactUrlsInText('no url here: user:pw@host')).toBe('no url here: user:pw@host');
  });
});
