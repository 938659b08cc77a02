/**
 * The --out file: OTLP JSON lines, one ExportTraceServiceRequest per line, as the
 * OpenTelemetry Collector's otlpjsonfile receiver reads them. Created with mode 0600: spans
 * carry command lines and paths. Opt-in for a collector running as another user:
 * GOSTALL_OUT_GROUP=NAME|GID makes the file 0640 and owned by that group (the collector's),
 * so that group can read it and nobody else (docs/report.md, otel-config/README.md).
 */
import { readFileSync } from 'node:fs';
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

export async function openOtlpJsonFile(path: string, opts: { group?: number } = { group: outGroupFromEnv() }): Promise<OtlpJsonFile> {
  const mode = opts.group === undefined ? 0o600 : 0o640;
  const fh: FileHandle = await open(path, 'a', mode);
  // An existing file keeps its mode on open(); make sure it is private (or group-readable) too.
  await restrictRegularFile(fh, mode, opts.group);
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
