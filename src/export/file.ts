/**
 * The --out file: OTLP JSON lines, one ExportTraceServiceRequest per line, as the
 * OpenTelemetry Collector's otlpjsonfile receiver reads them. Created with mode 0600: spans
 * carry command lines and paths.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface OtlpJsonFile {
  path: string;
  /** Append one request line holding these spans. */
  write(spans: ReadableSpan[]): Promise<void>;
  close(): Promise<void>;
}

const NEWLINE = Buffer.from('\n');

export async function openOtlpJsonFile(path: string): Promise<OtlpJsonFile> {
  const fh: FileHandle = await open(path, 'a', 0o600);
  // An existing file keeps its mode on open(); make sure it is private too.
  await fh.chmod(0o600);
  return {
    path,
    async write(spans) {
      if (spans.length === 0) return;
      // loaded on first use: `gostall run` opens the file before it starts the tracer
      const { JsonTraceSerializer } = await import('@opentelemetry/otlp-transformer');
      const body = JsonTraceSerializer.serializeRequest(spans);
      if (!body) throw new Error('OTLP JSON serialisation failed');
      await fh.write(Buffer.concat([Buffer.from(body), NEWLINE]));
    },
    async close() {
      await fh.sync().catch(() => {});
      await fh.close();
    },
  };
}
