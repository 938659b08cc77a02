/**
 * Gathers what rules need besides the probe events, once per traced tree: the mount table,
 * the workspace (cwd of the root), the Go environment, cgroup CPU quota and throttling,
 * machine-wide CPU time, inotify and open-file limits. Started before the command is
 * released, finished after it exits. While the root lives, a 100 ms poll follows its cgroup
 * (it may move itself into one right after it starts), its environment (a shell may export
 * GOCACHE before exec'ing go) and machine CPU time; each poll is three small /proc reads.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { executableName, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { watchCpuCgroup } from './context-cgroup.js';
import { gorootOfExecutable, readProcessEnviron, resolveGoEnv } from './context-go-env.js';
import { findHeavyDirectories, ownerOfPath, pathStillLoops, roleBases, roleOfPath } from './context-paths.js';
import { readLimits, readOwnCpuNs, readProcStat, type ProcStatReading } from './context-system.js';
import { createProcessEnvs, userNameOf, type ExecReadings, type ProcessEnvs, type RecordedProcessEnvs } from './context-process-env.js';
import { memoryLimitOf } from './context-memory.js';
import { findExecutableIn, findGoModule, inspectGoroot } from './context-go-files.js';
import { goDebugTraceOf } from './context-go-debug-trace.js';
import { readMountTable, type MountEntry, type MountTable } from './mounts.js';
import { readCwd, readStat } from '../vocabulary/procfs.js';
import type { RecordedRebuild } from './rebuild-diff.js';
import type { CgroupCpuUsage, CpuTimes, DiagnosisContext, GoEnv, Limits } from './types.js';

/**
 * How often the live root is looked at: every 100 ms for its first 2 s, to see a cgroup move
 * before a build gets going, then once a second. Each look reads a few small /proc and
 * cgroup files, which a CPU-bound build pays for. (The root's environment is not polled: it
 * changes only at an exec, and each exec's environment is read then, see noteExec. Reading
 * /proc/PID/environ takes the process's mmap lock and was ~0.8 ms of the agent's CPU per
 * warm build, half of what the looks cost.)
 */
const POLL_FAST_MILLIS = 100;
const POLL_FAST_FOR_MILLIS = 2000;
const POLL_SLOW_MILLIS = 1000;

export interface ContextCollection {
  /** Read the "after" side of everything and produce the context for the rules. */
  finish(x: { endNs: number; root: ProcessNode }): DiagnosisContext;
  /** A traced process just exec'd: read its own environment while it lives (see context-process-env). */
  noteExec(p: ProcessNode): void;
  /** What finish() read, as data (saved with a raw capture so a replay diagnoses alike). */
  recorded(): RecordedContext | undefined;
}

/**
 * A diagnosis context's readings as plain data: what a recording carries of the machine it
 * was made on, and what each traced process's exec showed (environment, limits, resolvers).
 */
export interface RecordedContext {
  mounts: MountEntry[];
  workspace?: string;
  go?: GoEnv;
  cgroupCpu?: CgroupCpuUsage;
  cpuTimes?: CpuTimes;
  limits?: Limits;
  processEnvs?: RecordedProcessEnvs;
  /** why each go command rebuilt, as run found it with its build history (a replay has none of its own) */
  rebuilds?: RecordedRebuild[];
}

interface TimedProcStat { atNs: number; reading: ProcStatReading; selfNs: number }

const monotonicNs = (): number => Number(process.hrtime.bigint());

/** Start time of a process (clock ticks since boot): tells a reused pid apart. */
const readStartTime = (pid: number, procRoot: string): number | undefined => readStat(pid, procRoot)?.startTicks;

/** The go executable the run used: the first process of the tree whose executable is go. */
function goExecutableOf(root: ProcessNode, workspace: string | undefined): string | undefined {
  for (const p of walk(root)) {
    if (p.exec && executableName(p) === 'go') {
      const f = p.exec.filename;
      return isAbsolute(f) ? f : workspace ? resolve(workspace, f) : undefined;
    }
  }
  return undefined;
}

/**
 * Start collecting context for a traced tree rooted at rootPid. env: the environment gostall
 * launched the command with (run); without it (agent) the root's /proc/PID/environ is read.
 */
export function startContextCollection(x: {
  rootPid: number; env?: NodeJS.ProcessEnv; procRoot?: string;
  /** what each exec read (default: /proc at the exec record; see createExecReadingCache) */
  readExec?: (p: ProcessNode) => ExecReadings;
}): ContextCollection {
  const procRoot = x.procRoot ?? '/proc';
  const pid = x.rootPid;
  let mounts = readMountTable(pid);
  if (mounts.entries.length === 0) mounts = readMountTable('self');
  const workspace = readCwd(pid, procRoot);
  const startTime = readStartTime(pid, procRoot);
  const limits = readLimits(pid, procRoot);
  const cgroup = watchCpuCgroup(pid, mounts.entries, procRoot);
  const launchEnv = x.env;
  const startEnviron = launchEnv ? undefined : readProcessEnviron(pid, procRoot);
  const firstStat = readProcStat(procRoot);
  const firstSelfNs = readOwnCpuNs(pid, procRoot);
  const startNs = monotonicNs();
  const processEnvs = createProcessEnvs(procRoot, { launchEnv: launchEnv ?? startEnviron, ...(x.readExec ? { read: x.readExec } : {}) });
  let lastStat: TimedProcStat | undefined;
  let recorded: RecordedContext | undefined;
  cgroup.sample();

  const poll = (): void => {
    const st = readStat(pid, procRoot);
    // An exited root (a zombie, or reaped and its id reused): the last live reading stands.
    if (startTime === undefined || !st || st.startTicks !== startTime || st.state === 'Z' || st.state === 'X') return;
    cgroup.sample();
    const reading = readProcStat(procRoot);
    if (reading) lastStat = { atNs: monotonicNs(), reading, selfNs: readOwnCpuNs(pid, procRoot) };
  };
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    const every = Date.now() - startedAt < POLL_FAST_FOR_MILLIS ? POLL_FAST_MILLIS : POLL_SLOW_MILLIS;
    timer = setTimeout(() => { poll(); schedule(); }, every);
    timer.unref();
  };
  schedule();
  setImmediate(poll);

  return {
    noteExec: (p) => processEnvs.noteExec(p),
    finish: ({ endNs, root }) => {
      clearTimeout(timer);
      // the root's environment as its last exec left it (`env X=1 go build` execs go with X),
      // else what was read at the start (agent roots have no launch environment)
      const environ = processEnvs.ownEnvOf(root) ?? startEnviron;
      const useEnviron = environ !== undefined && (launchEnv === undefined || environDiffers(environ, launchEnv));
      const go = resolveGoEnv(useEnviron ? environ! : launchEnv ?? {}, {
        source: useEnviron ? 'environ' : 'launch', goExecutable: goExecutableOf(root, workspace),
      });
      let cpuTimes: CpuTimes | undefined;
      if (firstStat && lastStat && lastStat.atNs > startNs) {
        cpuTimes = {
          cpus: availableParallelism(), spanNs: lastStat.atNs - startNs,
          busyNs: Math.max(0, lastStat.reading.busyNs - firstStat.busyNs),
          stealNs: Math.max(0, lastStat.reading.stealNs - firstStat.stealNs),
          selfNs: Math.max(0, lastStat.selfNs - firstSelfNs),
        };
      }
      const readings = { workspace, go, cgroupCpu: cgroup.finish(), cpuTimes, limits };
      recorded = { mounts: mounts.entries, ...readings, processEnvs: processEnvs.recorded(root) };
      const ctx = createDiagnosisContext({ endNs, root, ...readings, mounts, processEnvs });
      ctx.goDebugTraceOf = (p) => goDebugTraceOf(p, workspace);
      return ctx;
    },
    recorded: () => recorded,
  };
}

/** Whether the root's own environment changed a variable Go reads (else the launch env is the record). */
function environDiffers(environ: NodeJS.ProcessEnv, launch: NodeJS.ProcessEnv): boolean {
  const keys = ['GOMODCACHE', 'GOCACHE', 'GOPATH', 'GOROOT', 'GOFLAGS', 'GOMAXPROCS', 'GOPROXY', 'GOPRIVATE',
    'CGO_ENABLED', 'GOTOOLCHAIN', 'HOME', 'XDG_CACHE_HOME'];
  return keys.some((k) => environ[k] !== launch[k]);
}

/** A context from parts (run, replay and tests); anything left out is unknown to the rules. */
export function createDiagnosisContext(x: {
  endNs: number; mounts: MountTable; root?: ProcessNode; facts?: Record<string, unknown>;
  workspace?: string; go?: GoEnv; cgroupCpu?: CgroupCpuUsage; cpuTimes?: CpuTimes; limits?: Limits;
  processEnvs?: Pick<ProcessEnvs, 'envOf'> & Partial<Pick<ProcessEnvs, 'resolversOf' | 'nofileOf' | 'memoryCgroupOf' | 'cwdOf'>>;
}): DiagnosisContext {
  const bases = roleBases({ workspace: x.workspace, go: x.go, tmpdir: tmpdir() });
  const heavy = new Map<string, ReturnType<typeof findHeavyDirectories>>();
  type OwnGo = { go: GoEnv; bases: ReturnType<typeof roleBases> };
  const goEnvs = new WeakMap<NodeJS.ProcessEnv, OwnGo>();
  // Each process's environment read at its exec is an object of its own, mostly the same
  // variables as its siblings' (a cold build's hundreds of compiles): the answer, which
  // resolves paths on disk, is made once per distinct content and executable.
  const goEnvsByContent = new Map<string, OwnGo>();
  /** A process's Go environment and role bases, computed once per distinct environment. */
  const ownGo = (p: ProcessNode): OwnGo | undefined => {
    const env = x.processEnvs?.envOf(p);
    if (!env) return undefined;
    let found = goEnvs.get(env);
    if (!found) {
      const exe = p.exec && executableName(p) === 'go' ? absoluteExecutable(p.exec.filename, x.workspace) : undefined;
      const content = `${exe ?? ''}\0${Object.keys(env).sort().map((k) => (env[k] === undefined ? k : `${k}=${env[k]}`)).join('\0')}`;
      found = goEnvsByContent.get(content);
      if (!found) {
        const go = resolveGoEnv(env, { source: 'environ', goExecutable: exe, runGoEnv: false });
        // GOROOT not set and not found from the binary: the launch environment's answer stands.
        if (!env.GOROOT && x.go?.GOROOT && !exe) go.GOROOT = x.go.GOROOT;
        found = { go, bases: roleBases({ workspace: x.workspace, go, tmpdir: tmpdir() }) };
        goEnvsByContent.set(content, found);
      }
      goEnvs.set(env, found);
    }
    return found;
  };
  return {
    endNs: x.endNs,
    mountOf(path) {
      const m = x.mounts.lookup(path);
      return m ? { fsType: m.fsType, mountPoint: m.mountPoint, source: m.source } : undefined;
    },
    facts: {
      ...(x.workspace ? { workspace: x.workspace } : {}),
      ...(x.go ? { go: x.go } : {}),
      ...(x.cgroupCpu ? { cgroupCpu: x.cgroupCpu } : {}),
      ...(x.cpuTimes ? { cpuTimes: x.cpuTimes } : {}),
      ...(x.limits ? { limits: x.limits } : {}),
      ...(x.facts ?? {}),
    },
    workspace: x.workspace,
    go: x.go,
    cgroupCpu: x.cgroupCpu,
    cpuTimes: x.cpuTimes,
    limits: x.limits,
    roleOf: (path) => roleOfPath(bases, path),
    heavyDirectories(dir) {
      let found = heavy.get(dir);
      if (!found) heavy.set(dir, (found = findHeavyDirectories(dir)));
      return found;
    },
    ownerOf: ownerOfPath,
    pathLoops: pathStillLoops,
    envOf: (p) => x.processEnvs?.envOf(p),
    cwdOf: (p) => x.processEnvs?.cwdOf?.(p),
    resolversOf: (p) => x.processEnvs?.resolversOf?.(p),
    nofileOf: (p) => x.processEnvs?.nofileOf?.(p),
    memoryLimitOf(p) {
      const paths = x.processEnvs?.memoryCgroupOf?.(p);
      return paths ? memoryLimitOf(paths, x.mounts.entries) : undefined;
    },
    goEnvOf: (p) => ownGo(p)?.go ?? x.go,
    roleFor: (p, path) => roleOfPath(ownGo(p)?.bases ?? bases, path),
    gorootOfExecutable,
    userName: (uid) => userNameOf(uid),
    inspectGoroot,
    goModuleOf: findGoModule,
    findExecutable: findExecutableIn,
  };
}

function absoluteExecutable(file: string, workspace: string | undefined): string | undefined {
  return isAbsolute(file) ? file : workspace ? resolve(workspace, file) : undefined;
}
