/**
 * Keeps bpftrace running for the agent. If it exits or is killed, it is started again
 * after a backoff (doubling up to a maximum, back to the start after a minute of healthy
 * running); the time from its death to the next "attached" record is a gap, reported to
 * the caller so the spans that span it say so. Before every start the caller names the
 * processes the new tracer should adopt (those running now that it would otherwise miss).
 */
import { linuxProbeScript } from '../paths.js';
import { startTracer, type AgentTracerParams, type Tracer, type TracerExit } from '../probe-runner/bpftrace.js';

export interface SupervisorOptions {
  bpftrace: string;
  script?: string;
  perfPagesPerCpu: number;
  /** bpftrace compiles in a mount namespace of its own (TracerOptions.mountNamespace) */
  mountNamespace?: boolean;
  syscallThresholdNs: number;
  offcpuThresholdNs: number;
  /** agent parameters for the next start (adoptPids filled in by beforeStart) */
  agent: Omit<AgentTracerParams, 'adoptPids'>;
  /** pids the next tracer should follow from its start */
  beforeStart: () => number[];
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  onTooLong?: (stream: 'stdout' | 'stderr') => void;
  maxLineBytes?: number;
  /** the tracer attached its probes */
  onUp: (pid: number) => void;
  /** the tracer went away unexpectedly */
  onDown: (exit: TracerExit, stderrTail: string[]) => void;
  /** the tracer was not running between these monotonic times */
  onGap: (startNs: number, endNs: number) => void;
  restartInitialMillis: number;
  restartMaxMillis: number;
  nowNs: () => number;
  log: (line: string) => void;
  readyTimeoutMillis?: number;
}

export interface Supervisor {
  /** Start the first tracer; resolves once it attached, rejects if it cannot. */
  start(): Promise<void>;
  /** Stop for good: SIGINT lets bpftrace drain its buffers; resolves when its output is read. */
  stop(timeoutMillis: number): Promise<void>;
  readonly up: boolean;
  readonly pid: number | undefined;
  readonly restarts: number;
}

const HEALTHY_RUN_MILLIS = 60_000;

export function createSupervisor(opts: SupervisorOptions): Supervisor {
  let current: Tracer | undefined;
  let up = false;
  let stopping = false;
  let restarts = 0;
  let backoff = opts.restartInitialMillis;
  let restartTimer: NodeJS.Timeout | undefined;
  let wakeRestart: (() => void) | undefined;

  function launch(): Tracer {
    const adoptPids = opts.beforeStart();
    return startTracer({
      bpftrace: opts.bpftrace,
      script: opts.script ?? linuxProbeScript(),
      perfPagesPerCpu: opts.perfPagesPerCpu,
      mountNamespace: opts.mountNamespace,
      readyTimeoutMillis: opts.readyTimeoutMillis ?? 120_000,
      params: {
        rootPid: 0, syscallThresholdNs: opts.syscallThresholdNs, offcpuThresholdNs: opts.offcpuThresholdNs,
        agent: { ...opts.agent, adoptPids },
      },
      onLine: opts.onLine,
      onTooLong: opts.onTooLong,
      maxLineBytes: opts.maxLineBytes,
    });
  }

  /** Follow one tracer until it exits; then restart unless stopping. */
  function watch(t: Tracer, startedAt: number): void {
    void t.exited.then((exit) => {
      if (current !== t) return;
      const wasUp = up;
      up = false;
      current = undefined;
      if (stopping) return;
      const downAt = opts.nowNs();
      opts.onDown(exit, t.stderrTail.slice(-5));
      if (Date.now() - startedAt >= HEALTHY_RUN_MILLIS) backoff = opts.restartInitialMillis;
      void restartLoop(downAt, wasUp);
    });
  }

  async function restartLoop(downAt: number, _wasUp: boolean): Promise<void> {
    while (!stopping) {
      const wait = backoff;
      backoff = Math.min(backoff * 2, opts.restartMaxMillis);
      opts.log(`tracer stopped; restarting in ${Math.round(wait)} ms`);
      await new Promise<void>((resolve) => {
        restartTimer = setTimeout(resolve, wait);
        wakeRestart = resolve;
      });
      restartTimer = undefined;
      wakeRestart = undefined;
      if (stopping) return;
      restarts++;
      const started = await launchReady();
      if (started instanceof Error) {
        opts.log(`tracer restart failed: ${started.message}`);
        continue;
      }
      if (stopping || current !== started.t) return;
      opts.onGap(downAt, opts.nowNs());
      goUp(started);
      return;
    }
  }

  /** Start a tracer and wait until it is attached; an Error when it never got there. */
  async function launchReady(): Promise<{ t: Tracer; startedAt: number } | Error> {
    const t = launch();
    current = t;
    const startedAt = Date.now();
    try {
      await t.ready;
      return { t, startedAt };
    } catch (err) {
      if (current === t) current = undefined;
      await t.stop(2_000).catch(() => undefined);
      return err as Error;
    }
  }

  function goUp(x: { t: Tracer; startedAt: number }): void {
    up = true;
    opts.onUp(x.t.pid);
    watch(x.t, x.startedAt);
  }

  return {
    get up() { return up; },
    get pid() { return current?.pid; },
    get restarts() { return restarts; },
    async start() {
      const started = await launchReady();
      if (started instanceof Error) throw started;
      goUp(started);
    },
    async stop(timeoutMillis) {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      wakeRestart?.();
      const t = current;
      up = false;
      if (t) await t.stop(timeoutMillis).catch(() => undefined);
    },
  };
}
