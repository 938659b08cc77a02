/**
 * `gostall run --raw FILE`: the probe's stdout saved as it was read, in the format
 * `gostall replay` reads: a "#gostall clock_offset_ns=N" header (this machine's offset from
 * the probe's monotonic clock to the epoch), then every line unchanged. Created 0600: the
 * records hold command lines and paths.
 */
import { createWriteStream, chmodSync } from 'node:fs';

export interface RawCapture {
  path: string;
  line(text: string): void;
  close(): Promise<void>;
}

/** Open FILE for the capture (truncating it); rejects when it cannot be created. */
export async function openRawCapture(path: string, clockOffsetNs: number): Promise<RawCapture> {
  const out = createWriteStream(path, { flags: 'w', mode: 0o600 });
  await new Promise<void>((res, rej) => out.once('open', () => res()).once('error', rej));
  // An existing file keeps its mode on open(); make sure it is private too.
  chmodSync(path, 0o600);
  let failed: Error | undefined;
  out.on('error', (err) => { failed ??= err; });
  out.write(`#gostall clock_offset_ns=${Math.round(clockOffsetNs)}\n`);
  return {
    path,
    // Lines are Latin-1 decoded bytes (see the line splitter): written back byte for byte.
    line: (text) => { if (!failed) out.write(`${text}\n`, 'latin1'); },
    close: () => new Promise<void>((res, rej) => out.end(() => (failed ? rej(failed) : res()))),
  };
}
