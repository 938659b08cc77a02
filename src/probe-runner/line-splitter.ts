/**
 * Splits a byte stream into lines without trusting it: a line longer than maxBytes is
 * reported once as too long and skipped to its newline (never buffered whole, so a 10 GB
 * "line" costs maxBytes of memory), bytes are decoded as Latin-1 so that invalid UTF-8 or
 * binary garbage stays visible to the validator instead of being silently replaced, and a
 * trailing CR (captures copied through Windows tools) is dropped.
 */

export interface LineSink {
  line(text: string): void;
  /** a line longer than maxBytes was skipped */
  tooLong(): void;
}

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** the stream ended: a last line without newline still counts */
  end(): void;
}

export function createLineSplitter(maxBytes: number, sink: LineSink): LineSplitter {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;

  function emit(buf: Buffer): void {
    let end = buf.length;
    if (end > 0 && buf[end - 1] === 0x0d) end--;
    sink.line(buf.toString('latin1', 0, end));
  }

  function take(piece: Buffer): void {
    if (skipping) return;
    if (size + piece.length > maxBytes) {
      skipping = true;
      parts = [];
      size = 0;
      sink.tooLong();
      return;
    }
    parts.push(piece);
    size += piece.length;
  }

  return {
    push(chunk) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl === -1) {
          if (start < chunk.length) take(chunk.subarray(start));
          return;
        }
        take(chunk.subarray(start, nl));
        if (!skipping) emit(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
        parts = [];
        size = 0;
        skipping = false;
        start = nl + 1;
      }
    },
    end() {
      if (!skipping && size > 0) emit(Buffer.concat(parts, size));
      parts = [];
      size = 0;
      skipping = false;
    },
  };
}
