/**
 * Spawns and supervises bpftrace running the bundled probe. Parameters go in as
 * positional arguments after validation; nothing the user typed is ever part of the
 * program text. Output is read line by line without buffering the whole stream.
 */
import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import { linuxProbeScript } from '../paths.js';

export interface TracerParams {
  /** root tgid to follow with its descendants; 0 for none */
  rootPid: number;
  /** kernel-side threshold (ns) for printing a slow syscall */
  syscallThresholdNs: number;
  /** kernel-side threshold (ns) for printing an off-CPU interval */
  offcpuThresholdNs: number;
}

export interface TracerOptions {
  bpftrace: string;
  params: TracerParams;
  /** every stdout and stderr line, as it arrives */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  script?: string;
  /** perf ring buffer pages per CPU; 1024 (4 MiB/CPU) lost nothing on a cold go build -a */
  perfPagesPerCpu?: number;
  readyTimeoutMillis?: number;
}

export interface Tracer {
  pid: number;
  /** resolves when BEGIN ran: every probe is attached */
  ready: Promise<void>;
  /** stop tracing (SIGINT lets bpftrace drain its buffers), resolve once all output is read */
  stop(timeoutMillis?: number): Promise<TracerExit>;
  /** resolves when bpftrace exits for any reason */
  exited: Promise<TracerExit>;
  /** stderr lines kept for error messages (bounded) */
  stderrTail: string[];
}

export interface TracerExit { code: number | undefined; signal: string | undefined }

const MAX_STDERR_LINES = 50;

/** Checks a tracer parameter before it reaches bpftrace. */
function validInt(name: string, v: number, max: number): string {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new Error(`invalid tracer parameter ${name}: ${v}`);
  return String(v);
}

export function tracerArgs(script: string, p: TracerParams): string[] {
  return [
    '-B', 'line', script,
    validInt('rootPid', p.rootPid, 4_194_304),
    validInt('syscallThresholdNs', p.syscallThresholdNs, 3_600e9),
    validInt('offcpuThresholdNs', p.offcpuThresholdNs, 3_600e9),
  ];
}

export function startTracer(opts: TracerOptions): Tracer {
  const args = tracerArgs(opts.script ?? linuxProbeScript(), opts.params);
  const child: ResultPromise = execa(opts.bpftrace, args, {
    buffer: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    cleanup: true,
    env: {
      BPFTRACE_STRLEN: '128',
      BPFTRACE_PERF_RB_PAGES: String(opts.perfPagesPerCpu ?? 1024),
      BPFTRACE_MAP_KEYS_MAX: '65536',
    },
  });
  const stderrTail: string[] = [];
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
  let isReady = false;

  const readDone: Promise<void>[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const src = child[stream];
    if (!src) continue;
    const rl = createInterface({ input: src, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (!isReady && stream === 'stdout' && line.startsWith('R\t')) {
        isReady = true;
        readyResolve();
      }
      if (stream === 'stderr') {
        stderrTail.push(line);
        if (stderrTail.length > MAX_STDERR_LINES) stderrTail.shift();
      }
      opts.onLine(line, stream);
    });
    readDone.push(new Promise((r) => rl.once('close', r)));
  }

  const exited: Promise<TracerExit> = (async () => {
    const result = await child;
    await Promise.all(readDone);
    return { code: result.exitCode, signal: result.signal };
  })();

  const readyTimer = setTimeout(() => readyReject(new Error('bpftrace did not attach its probes in time')), opts.readyTimeoutMillis ?? 60_000);
  void exited.then((x) => {
    clearTimeout(readyTimer);
    if (!isReady) {
      const detail = stderrTail.filter((l) => !l.includes('RLIMIT_MEMLOCK')).slice(-3).join(' | ');
      readyReject(new Error(`bpftrace exited before attaching (code ${x.code ?? x.signal})${detail ? `: ${detail}` : ''}`));
    }
  });
  void ready.then(() => clearTimeout(readyTimer), () => clearTimeout(readyTimer));

  return {
    pid: child.pid ?? -1,
    ready,
    exited,
    stderrTail,
    async stop(timeoutMillis = 10_000) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMillis);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
