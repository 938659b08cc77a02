/**
 * gostall replay FILE [--out FILE] [--endpoint URL] …: turn a recorded raw probe stream
 * into the same spans a live run or agent would have made. Bad lines are counted and
 * reported, never fatal.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ConfigError, parseConfigText, parseHeaderList, type ConfigFile } from '../agent/config.js';
import { replayStream } from '../pipeline/replay.js';
import { createMountSource } from '../pipeline/context.js';
import { createResourceCache } from '../export/resource-cache.js';
import { openOtlpJsonFile, type OtlpJsonFile } from '../export/file.js';
import { createHttpTransport } from '../export/http-send.js';
import { redactUrl, tracesUrlFromFlag } from '../export/endpoint.js';
import { createReliableExporter, type ReliableExporter } from '../export/reliable.js';
import { openSpool } from '../export/spool.js';
import { measureOffsetNs } from '../model/clock.js';
import { readFileSync } from 'node:fs';
import { UsageError, parseDuration, EXPORT_FLAGS, protocolOption } from './options.js';

export const REPLAY_USAGE = `usage: gostall replay FILE [options]

Reads a recorded probe stream (what bpftrace printed running probes/linux/gostall.bt; "-"
for stdin) and produces the spans gostall run / gostall agent would have produced.

options:
  --out FILE            write OTLP JSON lines ("-" for stdout)
  --endpoint URL        send to an OTLP/HTTP collector (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)
  --protocol P          http/protobuf (default) or http/json
  --threshold DUR       evidence spans from this duration on (default 50ms)
  --config FILE         take episode, window and threshold settings from an agent config
  --clock-offset NS     epoch ns = monotonic ns + NS (default: the capture's
                        "#gostall clock_offset_ns=N" header, else this machine's offset,
                        right for captures made on this boot)
  --boot-time TIME      the recording machine's boot time (ISO 8601 or epoch ms), instead of --clock-offset
  -h, --help            this text
`;

const S = 1e9;

/** The capture machine's clock offset from the flags, if given. */
function offsetFromFlags(clockOffset: string | undefined, bootTime: string | undefined): number | undefined {
  if (clockOffset !== undefined && bootTime !== undefined) throw new UsageError('give --clock-offset or --boot-time, not both');
  if (clockOffset !== undefined) {
    // Epoch nanoseconds exceed 2^53: like every time in gostall they are kept as doubles
    // (about 0.25 µs of precision today), far inside the 1 ms the spans promise.
    if (!/^-?\d{1,20}$/.test(clockOffset)) throw new UsageError('--clock-offset needs an integer number of nanoseconds');
    return Number(clockOffset);
  }
  if (bootTime !== undefined) {
    const ms = /^\d{1,15}$/.test(bootTime) ? Number(bootTime) : Date.parse(bootTime);
    if (!Number.isFinite(ms)) throw new UsageError('--boot-time needs an ISO 8601 time (2024-05-01T10:00:00Z) or epoch milliseconds');
    return ms * 1e6;
  }
  return undefined;
}

export async function replayCommand(argv: string[]): Promise<{ exitCode: number }> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...EXPORT_FLAGS,
      threshold: { type: 'string' },
      config: { type: 'string' },
      'clock-offset': { type: 'string' },
      'boot-time': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(REPLAY_USAGE);
    return { exitCode: 0 };
  }
  if (positionals.length !== 1) throw new UsageError('needs exactly one FILE (a recorded probe stream, "-" for stdin): gostall replay capture.txt --out trace.otlp.jsonl');
  const inputPath = positionals[0]!;
  const clockOffsetNs = offsetFromFlags(values['clock-offset'], values['boot-time']);
  const protocol = protocolOption(values.protocol, process.env);
  let url: string | undefined;
  try {
    if (values.endpoint !== undefined) url = tracesUrlFromFlag(values.endpoint);
    else if (process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) url = new URL(process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).toString();
    else if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) url = tracesUrlFromFlag(process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
  } catch (err) {
    throw new UsageError(`endpoint: ${(err as Error).message.replace(/^Invalid URL.*/, 'not a valid URL')}`);
  }
  if (url === undefined && values.out === undefined) throw new UsageError('needs --out FILE and/or --endpoint URL (or OTEL_EXPORTER_OTLP_ENDPOINT): where should the spans go?');
  let file: ConfigFile = {};
  if (values.config !== undefined) {
    try {
      file = parseConfigText(readFileSync(values.config, 'utf8'), values.config);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`invalid configuration: ${err.message}`);
      throw new UsageError(`--config: cannot read ${values.config}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const evidenceThresholdNs = values.threshold !== undefined ? parseDuration(values.threshold, '--threshold') : file.evidenceThreshold ?? 50e6;
  const headers = {
    ...(process.env.OTEL_EXPORTER_OTLP_HEADERS ? safeHeaders(process.env.OTEL_EXPORTER_OTLP_HEADERS, 'OTEL_EXPORTER_OTLP_HEADERS') : {}),
    ...(process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ? safeHeaders(process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') : {}),
  };

  const input = inputPath === '-' ? process.stdin : createReadStream(resolve(inputPath));
  const opened = await new Promise<Error | undefined>((res) => {
    if (inputPath === '-') { res(undefined); return; }
    (input as ReturnType<typeof createReadStream>).once('open', () => res(undefined)).once('error', (e) => res(e));
  });
  if (opened) {
    process.stderr.write(`gostall replay: cannot read ${inputPath}: ${(opened as NodeJS.ErrnoException).code ?? opened.message}\n`);
    return { exitCode: 2 };
  }

  let out: OtlpJsonFile | undefined;
  const toStdout = values.out === '-';
  if (values.out !== undefined && !toStdout) {
    try {
      out = await openOtlpJsonFile(resolve(values.out));
    } catch (err) {
      process.stderr.write(`gostall replay: cannot write ${values.out}: ${(err as Error).message}\n`);
      return { exitCode: 2 };
    }
  }
  let exporter: ReliableExporter | undefined;
  let spoolDir: string | undefined;
  if (url) {
    // A one-shot command still should not lose spans to a collector hiccup: a private spool.
    spoolDir = await mkdtemp(join(tmpdir(), 'gostall-replay-'));
    exporter = createReliableExporter({
      transport: createHttpTransport({ url, headers, timeoutMillis: 10_000, compression: 'none' }),
      spool: await openSpool({ dir: spoolDir, maxBytes: 1024 ** 3 }),
      kind: protocol === 'http/json' ? 'json' : 'pb',
      batchMaxSpans: 512, batchDelayMillis: 200, memoryLimitBytes: 64 * 1024 ** 2,
      backoffInitialMillis: 500, backoffMaxMillis: 5_000, maxRetryAfterMillis: 30_000,
    });
  }

  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let writeError: string | undefined;
  const emit = (spans: ReadableSpan[]): void => {
    if (out) {
      const f = out;
      pending++;
      chain = chain.then(() => f.write(spans)).catch((e: Error) => { writeError ??= e.message; }).finally(() => { pending--; });
    } else if (toStdout) {
      const body = JsonTraceSerializer.serializeRequest(spans);
      if (body) process.stdout.write(`${Buffer.from(body).toString('utf8')}\n`);
    }
    exporter?.export(spans);
  };

  const result = await replayStream(input, {
    settings: {
      evidenceThresholdNs,
      episodes: {
        minDurationNs: file.episodes?.minDuration ?? 2 * S, mergeGapNs: file.episodes?.mergeGap ?? 1 * S,
        reportEveryNs: file.episodes?.reportEvery ?? 10 * S, stuckAfterNs: file.episodes?.stuckAfter ?? 1 * S,
      },
      windowNs: file.windows?.every ?? 60 * S,
      longLivedNs: file.longLived ?? 60 * S,
      maxOpenTrees: file.limits?.maxOpenTrees ?? 50_000,
      maxQueuedTrees: file.limits?.maxQueuedTrees ?? 20_000,
    },
    clockOffsetNs, fallbackOffsetNs: measureOffsetNs, resourceFor: createResourceCache(process.env), mounts: createMountSource(60_000), emit,
    drained: () => chain, pendingWrites: () => pending,
  });
  await chain;
  await out?.close();
  const lines: string[] = [];
  const s = result.stats;
  lines.push(`gostall replay: ${s.lines + result.tooLong} lines, ${s.events} events, ${s.roots} roots, ${s.tracesPublished} traces, ${s.spansProduced} spans` +
    `${s.episodes > 0 ? `, ${s.episodes} stall episodes` : ''}; clock offset ${result.clockOffsetNs} ns (${result.offsetSource})`);
  if (s.malformed > 0) {
    const reasons = [...s.malformedReasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([r, n]) => `${n} ${r}`);
    lines.push(`  ${s.malformed} malformed lines skipped: ${reasons.join('; ')}`);
  }
  if (s.lostEvents > 0) lines.push(`  ${s.lostEvents} events were lost when the capture was made (bpftrace "Lost N events")`);
  if (s.orphanRecords > 0) lines.push(`  ${s.orphanRecords} records about processes the capture never saw start`);
  if (s.treesDropped > 0 || s.rootsRefused > 0) lines.push(`  limits: ${s.treesDropped} finished trees dropped, ${s.rootsRefused} roots refused`);
  let exitCode = 0;
  if (out) lines.push(`  written to ${out.path}`);
  if (writeError) { lines.push(`  could not write ${out?.path}: ${writeError}`); exitCode = 1; }
  if (exporter && url) {
    const r = await exporter.shutdown(60_000);
    const dropped = [...exporter.stats.dropped.entries()];
    const lost = r.leftInSpool + dropped.reduce((a, [, n]) => a + n, 0);
    lines.push(`  sent ${exporter.stats.exported} spans to ${redactUrl(url)} (${protocol})${lost > 0 ? `; ${lost} not delivered (${dropped.map(([k, n]) => `${n} ${k}`).concat(r.leftInSpool > 0 ? [`${r.leftInSpool} collector unavailable`] : []).join(', ')})` : ''}`);
    if (lost > 0) exitCode = 1;
    await rm(spoolDir!, { recursive: true, force: true });
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  return { exitCode };
}

function safeHeaders(raw: string, name: string): Record<string, string> {
  try {
    return parseHeaderList(raw, name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
