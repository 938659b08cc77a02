/**
 * gostall replay FILE [--out FILE] [--endpoint URL] …: turn a recorded raw probe stream
 * into the same spans a live run or agent would have made. Bad lines are counted and
 * reported, never fatal.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfigText, type ConfigFile } from '../agent/config.js';
import { replayStream } from '../pipeline/replay.js';
import { createMountSource } from '../pipeline/context.js';
import { createResourceCache } from '../export/resource-cache.js';
import type { ExportSettings } from '../export/settings.js';
import { createSink } from '../export/sink.js';
import { measureOffsetNs } from '../model/clock.js';
import { readFileSync } from 'node:fs';
import { UsageError, parseDuration, EXPORT_FLAGS, exportSettingsOption } from './options.js';

export const REPLAY_USAGE = `usage: gostall replay FILE [options]

Reads a recorded probe stream (what bpftrace printed running probes/linux/gostall.bt; "-"
for stdin) and produces the spans gostall run / gostall agent would have produced.

options:
  --out FILE            write OTLP JSON lines ("-" for stdout)
  --endpoint URL        send to an OTLP collector (default: export.endpoint, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)
  --protocol P          http/protobuf (default), http/json or grpc
  --threshold DUR       evidence spans from this duration on (default 50ms)
  --config FILE         take episode, window, threshold and export settings from an agent config
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

/** The config file (optional) as parsed agent keys; a bad one is a usage error naming the key. */
function readReplayConfig(path: string | undefined): ConfigFile {
  if (path === undefined) return {};
  try {
    return parseConfigText(readFileSync(path, 'utf8'), path);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`invalid configuration: ${err.message}`);
    throw new UsageError(`--config: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Parse replay's options; throws UsageError / SettingsError (exit 2) naming the flag, key or variable. */
export function parseReplayOptions(argv: string[], env: NodeJS.ProcessEnv = process.env) {
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
  if (values.help) return { help: true as const };
  if (positionals.length !== 1) throw new UsageError('needs exactly one FILE (a recorded probe stream, "-" for stdin): gostall replay capture.txt --out trace.otlp.jsonl');
  const clockOffsetNs = offsetFromFlags(values['clock-offset'], values['boot-time']);
  const file = readReplayConfig(values.config);
  const ex = file.export;
  const exportSettings: ExportSettings = exportSettingsOption(values, env, ex && {
    endpoint: ex.endpoint, protocol: ex.protocol, headers: ex.headers, compression: ex.compression, tls: ex.tls, out: ex.out,
    timeoutMillis: ex.timeout !== undefined ? ex.timeout / 1e6 : undefined,
  });
  if (exportSettings.otlp === undefined && exportSettings.out === undefined) {
    throw new UsageError(`${exportSettings.exportDisabled ? `${exportSettings.notices[0]}; so ` : ''}needs --out FILE and/or --endpoint URL (or OTEL_EXPORTER_OTLP_ENDPOINT): where should the spans go?`);
  }
  const evidenceThresholdNs = values.threshold !== undefined ? parseDuration(values.threshold, '--threshold') : file.evidenceThreshold ?? 50e6;
  return { help: false as const, inputPath: positionals[0]!, clockOffsetNs, file, exportSettings, evidenceThresholdNs };
}

export async function replayCommand(argv: string[]): Promise<{ exitCode: number }> {
  const opts = parseReplayOptions(argv);
  if (opts.help) {
    process.stdout.write(REPLAY_USAGE);
    return { exitCode: 0 };
  }
  const { inputPath, clockOffsetNs, file, exportSettings, evidenceThresholdNs } = opts;
  for (const n of exportSettings.notices) process.stderr.write(`gostall replay: ${n}\n`);

  const input = inputPath === '-' ? process.stdin : createReadStream(resolve(inputPath));
  const opened = await new Promise<Error | undefined>((res) => {
    if (inputPath === '-') { res(undefined); return; }
    (input as ReturnType<typeof createReadStream>).once('open', () => res(undefined)).once('error', (e) => res(e));
  });
  if (opened) {
    process.stderr.write(`gostall replay: cannot read ${inputPath}: ${(opened as NodeJS.ErrnoException).code ?? opened.message}\n`);
    return { exitCode: 2 };
  }

  // A one-shot command still should not lose spans to a collector hiccup: it retries
  // until the deadline, with what waits kept in memory (bounded).
  const created = await createSink(exportSettings, {
    mode: 'memory', deadlineMillis: 60_000, retryUntilDeadline: true,
    tuning: { backoffInitialMillis: 500, backoffMaxMillis: 5_000, maxRetryAfterMillis: 30_000 },
  });
  if (!created.ok) {
    process.stderr.write(`gostall replay: ${created.error.message}\n`);
    return { exitCode: 2 };
  }
  const sink = created.sink;

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
    clockOffsetNs, fallbackOffsetNs: measureOffsetNs, resourceFor: createResourceCache(process.env), mounts: createMountSource(60_000), emit: (spans) => sink.submit(spans),
    drained: () => sink.written(), pendingWrites: () => sink.stats().fileQueue,
  });
  const report = await sink.shutdown();
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
  if (sink.filePath !== undefined && sink.filePath !== '-') lines.push(`  written to ${sink.filePath}`);
  if (report.fileError) { lines.push(`  could not write ${sink.filePath}: ${report.fileError}`); exitCode = 1; }
  if (sink.target) {
    lines.push(`  sent ${report.exported} spans to ${sink.target}${report.undelivered > 0 ? `; ${report.undelivered} not delivered (${report.reasons.join(', ')})` : ''}`);
    if (report.undelivered > 0) exitCode = 1;
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  return { exitCode };
}
