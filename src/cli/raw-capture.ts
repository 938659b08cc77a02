/**
 * `gostall run --raw FILE`: the probe's stdout saved as it was read, in the format
 * `gostall replay` reads (src/pipeline/recording.ts): a clock offset header, every line
 * unchanged, and at the end what run's context collector read about the root, so that a
 * replay of the file diagnoses as run did. Created 0600: the records hold command lines
 * and paths.
 */
import { openPrivate } from '../export/private-file.js';
import type { RecordedContext } from '../diagnose/context.js';

export interface RawCapture {
  path: string;
  line(text: string): void;
  context(rootPid: number, ctx: RecordedContext): void;
  close(): Promise<void>;
}

/** Open FILE for the capture (truncating it); rejects when it cannot be created. */
export async function openRawCapture(path: string, clockOffsetNs: number): Promise<RawCapture> {
  // loaded only for --raw: the recording format brings zod's parser for replay
  const { formatClockOffsetHeader, formatContextLine } = await import('../pipeline/recording.js');
  const out = (await openPrivate(path)).createWriteStream();
  let failed: Error | undefined;
  out.on('error', (err) => { failed ??= err; });
  out.write(`${formatClockOffsetHeader(clockOffsetNs)}\n`);
  return {
    path,
    // Lines are Latin-1 decoded bytes (see the line splitter): written back byte for byte.
    line: (text) => { if (!failed) out.write(`${text}\n`, 'latin1'); },
    context: (rootPid, ctx) => { if (!failed) out.write(`${formatContextLine(rootPid, ctx)}\n`); },
    close: () => new Promise<void>((res, rej) => out.end(() => (failed ? rej(failed) : res()))),
  };
}
