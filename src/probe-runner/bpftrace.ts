/**
 * Spawns and supervises bpftrace running the bundled probe. Parameters go in as
 * positional arguments after validation; nothing the user typed is ever part of the
 * program text. Output is read line by line without buffering the whole stream.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxProbeScript, tracerLauncherPath } from '../paths.js';
import { findSetpriv, TRACEFS_MOUNTS } from './environment.js';
import { createLineSplitter } from './line-splitter.js';
import { probeProgram, type ProbeSet } from './probe-text.js';
import { goCacheDirFromEnv, goCacheProbeArgs } from './gocache.js';
import { FIRST_SYSCALL_PARAM, syscallNumbers } from '../vocabulary/syscalls.js';
import { ownPidNamespaceParam } from './pid-namespace.js';
import { type BtfTypes, kernelLayoutParams, layoutStructs, readKernelBtf, VMLINUX_BTF } from './kernel-layout.js';
import { readAvailableEvents, shortEventList } from './event-list.js';
import { btfSubset, needsKernelTypes, programTypeNames } from './btf-subset.js';
import { waitTracerDrained } from './tracer-drain.js';

export interface TracerParams {
  /** root tgid to follow with its descendants; 0 for none */
  rootPid: number;
  /** kernel-side threshold (ns) for printing a slow syscall */
  syscallThresholdNs: number;
  /** kernel-side threshold (ns) for printing an off-CPU interval */
  offcpuThresholdNs: number;
  /** agent mode (rootPid 0): which execs make roots, and what to follow from the start */
  agent?: AgentTracerParams;
  /**
   * inode of the PID namespace pids are given and reported in; 0 = the initial one (the
   * host). Default: gostall's own (see pid-namespace.ts). rootPid and adoptPids are in it.
   */
  pidNamespace?: number;
  /** Go build cache directory whose entry lookups the probe reports (issue 13); default: from
   *  gostall's own environment (src/probe-runner/gocache.ts); null = off */
  goCacheDir?: string | null;
}

/** Agent-mode parameters ($4..$48 of the probe; see the header of probes/linux/gostall.bt). */
export interface AgentTracerParams {
  /** executable names (comm) whose exec makes a root; at most AGENT_NAME_SLOTS */
  executables: string[];
  /** cgroup v2 id a root must exec in; 0 = any */
  cgroupId: number;
  /** running processes to trace from the start; at most AGENT_ADOPT_SLOTS */
  adoptPids: number[];
  /** capture what traced processes write to stderr (tracer.stderr; default false: no write hook) */
  stderr?: boolean;
  /** a process naming itself gostall-shim is a root too (bin/gostall's shim; environment.ts renameHookUsable) */
  namedShims?: boolean;
}

export const AGENT_NAME_SLOTS = 12;
export const AGENT_ADOPT_SLOTS = 32;
/** What the probe compares with comm: the kernel keeps 15 bytes of a command name. */
const COMM_NAME = /^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,14}$/;

const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface TracerOptions {
  bpftrace: string;
  params: TracerParams;
  /** every stdout and stderr line, as it arrives */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** a line longer than maxLineBytes was skipped (never buffered whole) */
  onTooLong?: (stream: 'stdout' | 'stderr') => void;
  /** longest line read whole (default 64 KiB; record readers pass the record format's limit) */
  maxLineBytes?: number;
  /** path of the probe source (default: the bundled probes/linux/gostall.bt) */
  script?: string;
  /** perf ring buffer pages per CPU (default DEFAULT_PERF_PAGES_PER_CPU) */
  perfPagesPerCpu?: number;
  readyTimeoutMillis?: number;
  /**
   * compile in a mount namespace of bpftrace's own, shown only the tracepoints the program
   * attaches to (shim/gostall-bpftrace; default true). False where a sandbox forbids
   * namespaces and mounts (the agent's systemd unit: the launcher would only try and fall
   * back), or where a long-lived namespace would keep unmounted file systems alive (the
   * agent decides: src/agent/mount-namespace.ts).
   */
  mountNamespace?: boolean;
}

export interface Tracer {
  pid: number;
  /** resolves when BEGIN ran: every probe is attached */
  ready: Promise<void>;
  /** stop tracing (SIGINT lets bpftrace drain its buffers), resolve once all output is read */
  stop(timeoutMillis?: number): Promise<TracerExit>;
  /** resolves once every record bpftrace had produced by now has been delivered (./tracer-drain.ts; at most maxMillis from now) */
  drained(maxMillis?: number): Promise<void>;
  /**
   * End bpftrace without waiting for it: for a caller that has read everything it needs.
   * Detaching probes costs a kernel RCU grace period each (about 0.7 s for this probe
   * under bpftrace 0.17, which detaches before it runs END); after SIGKILL the kernel does
   * that as the process exits, while gostall goes on. Lines after this are not delivered.
   */
  abandon(): void;
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

import { DEFAULT_PERF_PAGES_PER_CPU } from './perf-pages.js';

export { DEFAULT_PERF_PAGES_PER_CPU, perfPagesFromEnv } from './perf-pages.js';

/**
 * The probe set a mode loads: the agent's hooks each syscall it needs on its own tracepoint
 * and leaves out the hottest ones (what every untraced process would pay for as long as the
 * agent runs); run's hooks raw_syscalls, which attaches in half the time.
 */
export function probeSetFor(p: TracerParams): ProbeSet {
  return p.agent ? 'agent' : 'run';
}

/** bpftrace's arguments: the program file (already cut for its probe set), then the validated parameters. */
export function tracerArgs(script: string, p: TracerParams, arch: string = process.arch, btf?: () => BtfTypes): string[] {
  const numbers = syscallNumbers(arch);
  if (!numbers) throw new Error(`gostall has no syscall numbers for the ${arch} architecture`);
  const args = [
    '-B', 'line', script,
    validInt('rootPid', p.rootPid, 4_194_304),
    validInt('syscallThresholdNs', p.syscallThresholdNs, 3_600e9),
    validInt('offcpuThresholdNs', p.offcpuThresholdNs, 3_600e9),
    // $4..$48 are read only in agent mode, but the syscall numbers after them have fixed places
    ...(p.agent ? agentArgs(p.rootPid, p.agent) : unusedAgentArgs()),
  ];
  if (args.length - 3 !== FIRST_SYSCALL_PARAM - 1) throw new Error('tracer parameters out of place');
  // $69, after the syscall numbers: the PID namespace records are in (0: the host's);
  // $70, $71: the Go build cache directory the probe watches and its length (gocache.ts)
  const pidNs = validInt('pidNamespace', p.pidNamespace ?? ownPidNamespaceParam(), 0xffffffff);
  const goCache = goCacheProbeArgs(p.goCacheDir === undefined ? goCacheDirFromEnv(process.env) : p.goCacheDir ?? undefined);
  // $72..$97: where this kernel keeps the fields the probe reads (kernel-layout.ts)
  return [...args, ...numbers.map(String), pidNs, ...goCache, ...kernelLayoutParams(arch, undefined, btf)];
}

/**
 * Writes the program of the mode's probe set to a private file (0600 in a 0700 directory:
 * bpftrace reads it once at start), with what bpftrace compiles it against beside it — the
 * short tracepoint list (./event-list; unless mountNamespace is false) and the kernel's BTF
 * types its tracepoints name (./btf-subset) — and returns the paths and a remover. A file
 * rather than `-e TEXT`: the 20 kB program stays out of every `ps` listing. Read and written
 * as latin1, so the bytes of the source pass through unchanged.
 */
function writeProgram(source: string, p: TracerParams, btf: KernelBtf, mountNamespace: boolean): WrittenProgram {
  const dir = mkdtempSync(join(tmpdir(), 'gostall-probe-'));
  const path = join(dir, 'gostall.bt');
  const set = probeSetFor(p);
  const text = probeProgram(readFileSync(source, 'latin1'), set, process.arch, { pidNamespace: (p.pidNamespace ?? 0) !== 0, stderr: p.agent?.stderr === true, renameHook: p.agent?.namedShims === true });
  writeFileSync(path, text, { encoding: 'latin1', mode: 0o600 });
  // the tracepoints it attaches to, the list bpftrace is shown while it compiles (event-list.ts):
  // run's compile ~0.3 s instead of ~0.7; the agent's tracer attached ~1.9 s sooner (at its
  // start and at every restart of its tracer, a gap in what it sees)
  const available = mountNamespace ? readAvailableEvents() : undefined;
  let eventList: string | undefined;
  if (available !== undefined) {
    eventList = join(dir, 'available_events');
    writeFileSync(eventList, shortEventList(available, text), { encoding: 'latin1', mode: 0o600 });
  }
  return { path, eventList, btfPath: writeBtfSubset(dir, text, btf), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The kernel's BTF, read on first use, with these type names looked up while it is indexed. */
type KernelBtf = (names?: Iterable<string>) => BtfTypes;

interface WrittenProgram { path: string; eventList: string | undefined; btfPath: string | undefined; remove: () => void }

/**
 * The BTF subset for the program, written beside it; undefined where it cannot be made (no
 * readable BTF or tracefs) or the program needs more of the kernel's types than its
 * tracepoints name: bpftrace then reads the kernel's own, slower, to the same effect.
 */
function writeBtfSubset(dir: string, program: string, btf: KernelBtf): string | undefined {
  if (needsKernelTypes(program)) return undefined;
  try {
    const names = programTypeNames(program, TRACEFS_MOUNTS);
    const subset = btfSubset(btf(names), names);
    if (!subset) return undefined;
    const path = join(dir, 'kernel.btf');
    writeFileSync(path, subset, { mode: 0o600 });
    return path;
  } catch {
    return undefined;
  }
}

/** bpftrace's settings: string and map sizes the probe is written for, its buffers, the BTF subset when there is one. */
export function tracerEnv(perfPagesPerCpu: number, btfPath: string | undefined): Record<string, string> {
  return {
    BPFTRACE_STRLEN: '128',
    BPFTRACE_PERF_RB_PAGES: String(perfPagesPerCpu),
    BPFTRACE_MAP_KEYS_MAX: '65536',
    ...(btfPath ? { BPFTRACE_BTF: btfPath } : {}),
  };
}

/** bpftrace's command line: through shim/gostall-bpftrace (the short tracepoint list) when there is one, under setpriv when it is there. */
function tracerCommand(bpftrace: string, args: string[], eventList: string | undefined): [string, string[]] {
  const launched = eventList ? ['/bin/sh', tracerLauncherPath(), eventList, bpftrace, ...args] : [bpftrace, ...args];
  // SIGKILL when gostall dies, however it dies (the exit hook below does not run on SIGKILL
  // or an OOM kill, and an idle bpftrace would never notice its closed pipe). The signal
  // outlives the launcher's execs: bpftrace is the same process.
  const setpriv = findSetpriv();
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', ...launched]] : [launched[0]!, launched.slice(1)];
}

/** $4..$48 when not in agent mode: no names, any cgroup, nothing to adopt. */
function unusedAgentArgs(): string[] {
  return [...new Array<string>(AGENT_NAME_SLOTS).fill(''), '0', ...new Array<string>(AGENT_ADOPT_SLOTS).fill('0')];
}

/** $4..$48 for agent mode, every value validated (names are compared, never spliced into the program). */
function agentArgs(rootPid: number, a: AgentTracerParams): string[] {
  if (rootPid !== 0) throw new Error('agent mode needs rootPid 0');
  if (a.executables.length === 0 || a.executables.length > AGENT_NAME_SLOTS) throw new Error(`agent mode takes 1 to ${AGENT_NAME_SLOTS} executable names`);
  for (const n of a.executables) if (!COMM_NAME.test(n)) throw new Error(`invalid executable name ${JSON.stringify(n)}`);
  if (a.adoptPids.length > AGENT_ADOPT_SLOTS) throw new Error(`at most ${AGENT_ADOPT_SLOTS} pids to adopt`);
  const names = [...a.executables, ...new Array<string>(AGENT_NAME_SLOTS - a.executables.length).fill('')];
  const pids = a.adoptPids.map((pid) => validInt('adoptPid', pid, 4_194_304));
  while (pids.length < AGENT_ADOPT_SLOTS) pids.push('0');
  return [...names, validInt('cgroupId', a.cgroupId, Number.MAX_SAFE_INTEGER), ...pids];
}

export function startTracer(opts: TracerOptions): Tracer {
  // pids given and reported in gostall's own PID namespace unless the caller says otherwise
  const params: TracerParams = { ...opts.params, pidNamespace: opts.params.pidNamespace ?? ownPidNamespaceParam() };
  // the kernel's BTF, parsed once for this start (the subset and the layout), then let go
  let kernelBtf: BtfTypes | undefined;
  const btf: KernelBtf = (names = []) => (kernelBtf ??= readKernelBtf(VMLINUX_BTF, [...layoutStructs(), ...names]));
  const program = writeProgram(opts.script ?? linuxProbeScript(), params, btf, opts.mountNamespace ?? true);
  let args: string[];
  try {
    args = tracerArgs(program.path, params, process.arch, btf);
  } catch (err) {
    program.remove();
    throw err;
  }
  const [file, argv] = tracerCommand(opts.bpftrace, args, program.eventList);
  const child: ResultPromise = execa(file, argv, {
    buffer: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    // Its own process group: a terminal's Ctrl-C goes to the foreground group (gostall and
    // the traced command), and bpftrace must keep tracing while the command handles it and
    // exits; gostall stops it. (execa's cleanup does not apply to detached children: see
    // the exit hook below.)
    detached: true,
    env: tracerEnv(opts.perfPagesPerCpu ?? DEFAULT_PERF_PAGES_PER_CPU, program.btfPath),
  });
  const stderrTail: string[] = [];
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
  let isReady = false;
  let lastLineAt = Date.now();
  let abandoned = false;

  const readDone: Promise<void>[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const src = child[stream];
    if (!src) continue;
    const onLine = (line: string): void => {
      if (abandoned) return;
      lastLineAt = Date.now();
      if (!isReady && stream === 'stdout' && line.startsWith('R\t')) {
        isReady = true;
        // compiled and attached: bpftrace reads none of its files again, and the directory
        // must not outlive a gostall that is killed (no exit hook runs then)
        program.remove();
        readyResolve();
      }
      if (stream === 'stderr') {
        stderrTail.push(line);
        if (stderrTail.length > MAX_STDERR_LINES) stderrTail.shift();
      }
      opts.onLine(line, stream);
    };
    // The same bounded splitter replay reads recordings with: a runaway line costs at most
    // maxLineBytes of memory, and bytes are kept as they are (Latin-1) for the validator.
    const splitter = createLineSplitter(opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, {
      line: onLine,
      tooLong: () => { if (!abandoned) opts.onTooLong?.(stream); },
    });
    src.on('data', (chunk: Buffer) => splitter.push(chunk));
    readDone.push(new Promise((r) => src.once('close', () => { splitter.end(); r(undefined); })));
  }

  // If gostall itself exits without stopping the tracer (an internal error), the probes
  // must not stay attached behind its back.
  const killOnExit = () => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const exited: Promise<TracerExit> = (async () => {
    const result = await child;
    process.off('exit', killOnExit);
    program.remove();
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
    async drained(maxMillis) {
      await waitTracerDrained({ pid: () => child.pid, lastLineAt: () => lastLineAt, maxMillis, cancelled: () => abandoned });
    },
    abandon() {
      abandoned = true;
      process.off('exit', killOnExit);
      child.kill('SIGKILL');
      program.remove();
      // nothing of it may keep gostall's event loop alive while the kernel tears it down
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    },
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
