/**
 * The --out file: OTLP JSON lines, one ExportTraceServiceRequest per line, as the
 * OpenTelemetry Collector's otlpjsonfile receiver reads them. Created with mode 0600: spans
 * carry command lines and paths. Opt-in for a collector running as another user:
 * GOSTALL_OUT_GROUP=NAME|GID makes the file 0640 and owned by that group (the collector's),
 * so that group can read it and nobody else (docs/report.md, otel-config/README.md).
 */
import { constants, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { restrictRegularFile } from './private-file.js';

export interface OtlpJsonFile {
  path: string;
  /** Append one request line holding these spans. */
  write(spans: ReadableSpan[]): Promise<void>;
  close(): Promise<void>;
}


/** The group GOSTALL_OUT_GROUP names (a gid or a name from /etc/group), or undefined when unset. */
export function outGroupFromEnv(env: NodeJS.ProcessEnv = process.env, groupFile = '/etc/group'): number | undefined {
  const raw = env.GOSTALL_OUT_GROUP?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  let text = '';
  try { text = readFileSync(groupFile, 'utf8'); } catch { /* no group database: the name cannot be resolved */ }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === raw && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`GOSTALL_OUT_GROUP=${JSON.stringify(raw)} is not a group of this machine (give a group name from ${groupFile} or a numeric gid)`);
}

export interface OtlpJsonFileOptions {
  group?: number;
  /**
   * the file to open by instead of path, no link followed, and the user it is made for: the
   * default trace under sudo, in a directory of that user's opened part by part (src/cli/user-directory.ts)
   */
  forUser?: { openPath: string; uid: number; gid: number };
}

export async function openOtlpJsonFile(path: string, opts: OtlpJsonFileOptions = { group: outGroupFromEnv() }): Promise<OtlpJsonFile> {
  const mode = opts.group === undefined ? 0o600 : 0o640;
  const fh: FileHandle = opts.forUser
    ? await open(opts.forUser.openPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, mode)
    : await open(path, 'a', mode);
  try {
    // An existing file keeps its mode on open(); make sure it is private (or group-readable) too.
    await restrictRegularFile(fh, mode, { uid: opts.forUser?.uid, gid: opts.group ?? opts.forUser?.gid });
  } catch (err) {
    await fh.close();
    throw err;
  }
  return {
    path,
    async write(spans) {
      if (spans.length === 0) return;
      // loaded on first use: `gostall run` opens the file before it starts the tracer
      const { otlpJsonLine } = await import('./otlp-json-line.js');
      await fh.write(otlpJsonLine(spans));
    },
    async close() {
      await fh.sync().catch(() => {});
      await fh.close();
    },
  };
}
