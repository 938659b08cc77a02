/**
 * Decoding of bpftrace's %r output: printable ASCII stays as it is, every other byte is
 * written as \xNN. A backslash is printable, so "\x41" in the output is the literal text
 * "\x41" (the probe would have printed "A" for the byte 0x41); only \xNN with a
 * non-printable NN is an escape.
 */

const BACKSLASH = 0x5c;
const LOWER_X = 0x78;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

/** Bytes of a %r field, all of them (NULs included). */
export function unescapeBytes(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH && text.charCodeAt(i + 1) === LOWER_X && i + 3 < text.length + 0) {
      const hi = hexValue(text.charCodeAt(i + 2));
      const lo = hexValue(text.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        const byte = hi * 16 + lo;
        if (byte < 0x20 || byte > 0x7e) {
          out[n++] = byte;
          i += 3;
          continue;
        }
      }
    }
    out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

/** A C string from a %r field: the bytes before the first NUL, and whether it filled the field. */
export function unescapeCString(text: string, fieldBytes: number): { value: string; truncated: boolean } {
  const bytes = unescapeBytes(text);
  const nul = bytes.indexOf(0);
  const body = nul === -1 ? bytes : bytes.subarray(0, nul);
  return { value: bytesToText(body), truncated: body.length >= fieldBytes - 1 };
}

/** UTF-8 text of bytes; bytes that are not valid UTF-8 are kept visible as \xNN. */
export function bytesToText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  if (!text.includes('\uFFFD')) return text;
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const len = utf8SequenceLength(bytes, i);
    if (len > 0) {
      out += bytes.subarray(i, i + len).toString('utf8');
      i += len;
    } else {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence at i, or 0 when the byte there starts none. */
function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (need === 0 || i + need > b.length) return 0;
  for (let k = 1; k < need; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const decoded = b.subarray(i, i + need).toString('utf8');
  return decoded.includes('\uFFFD') ? 0 : need;
}
