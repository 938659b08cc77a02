/**
 * Each traced process's own environment: a failing `go` run through runuser, sudo or a
 * script that exports GOCACHE has another HOME, GOCACHE and PATH than the command gostall
 * started, and judging its paths by the root's environment blames the wrong place (a
 * PATH lookup under /root read as "the home directory"). /proc/PID/environ is read when
 * the process's exec record arrives, while it still lives (a go that fails at start lives
 * ~10 ms; the record usually arrives within a few), and only the variables Go and its
 * tools read are kept. A process whose environment could not be read inherits its nearest
 * ancestor's (the root's is the one gostall launched it with) — except HOME when, on the
 * way, su/runuser/sudo/login switched users: those set HOME to the new user's, so it is
 * taken from the password database (setpriv and the like keep HOME, and so does this).
 */
import { readFileSync } from 'node:fs';
import { executableName, lastComponent, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { readCwd, readProcBytes, readProcText } from '../vocabulary/procfs.js';
import { parseEnviron } from './context-go-env.js';
import { parseNofile } from './context-system.js';
import { parseMemoryCgroup, type MemoryCgroupPaths } from './context-memory.js';

/** What is kept of an environment: Go's variables (cgo's compilers and flags too: they enter the build cache keys), where it looks for things, and proxies. */
const KEPT = /^(GO[A-Z0-9_]*|CGO_[A-Z]+|CC|CXX|HOME|PATH|XDG_CACHE_HOME|XDG_CONFIG_HOME|USER|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy)$/;
/** Larger environments are cut here: enough for every variable above in any real setup. */
const MAX_ENVIRON_BYTES = 256 * 1024;

export interface ProcessEnvs {
  /** Read the environment of a process that just exec'd (cheap: one small /proc read). */
  noteExec(p: ProcessNode): void;
  /** The nameservers in the resolv.conf the process (or its nearest ancestor that fetches) saw. */
  resolversOf(p: ProcessNode): string[] | undefined;
  /** The memory cgroup the process (or its nearest ancestor read) exec'd in. */
  memoryCgroupOf(p: ProcessNode): MemoryCgroupPaths | undefined;
  /** RLIMIT_NOFILE the process (or its nearest ancestor read) exec'd with (`prlimit`, `ulimit -n` in a script). */
  nofileOf(p: ProcessNode): { soft: number | undefined; hard: number | undefined } | undefined;
  /** The working directory a go process exec'd in (its relative source paths are relative to it); undefined when not read. */
  cwdOf(p: ProcessNode): string | undefined;
  /** Its own environment if read, else its nearest ancestor's (or the launch one); undefined when none is known. */
  envOf(p: ProcessNode): NodeJS.ProcessEnv | undefined;
  /** Its own environment as read at its last exec (the variables kept), undefined when not read. */
  ownEnvOf(p: ProcessNode): NodeJS.ProcessEnv | undefined;
  /** What was read at each exec in root's tree, as data (a run capture carries it for replay). */
  recorded(root: ProcessNode): RecordedProcessEnvs;
}

/** One process's readings at its exec, keyed by pid and start (unique within a capture). */
export interface RecordedProcessEnv {
  pid: number;
  startNs: number;
  env?: Record<string, string>;
  resolvers?: string[];
  nofile?: { soft?: number; hard?: number };
  memoryCgroup?: { v1Memory?: string; v2?: string };
  cwd?: string;
}

export interface RecordedProcessEnvs { launch?: Record<string, string>; processes: RecordedProcessEnv[] }

/** What a process's exec tells about it; from /proc (live) or from a recording (replay). */
export interface ExecReadings {
  env?: NodeJS.ProcessEnv;
  resolvers?: string[];
  nofile?: { soft: number | undefined; hard: number | undefined };
  memoryCgroup?: MemoryCgroupPaths;
  cwd?: string;
}

/**
 * Programs that resolve module, proxy or VCS hosts: their view of /etc/resolv.conf (a
 * container's, or `ip netns exec`'s bind mount) is read at exec through /proc/PID/root.
 */
const RESOLVING = new Set(['go', 'git', 'git-remote-http', 'git-remote-https', 'hg', 'svn', 'bzr', 'fossil', 'curl', 'gopls']);
const MAX_RESOLV_CONF_BYTES = 16 * 1024;

/** nameserver lines of a resolv.conf. */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*nameserver\s+([0-9A-Fa-f.:]{2,64}(?:%[A-Za-z0-9_.-]{1,32})?)\s*$/gm)) out.push(m[1]!);
  return out;
}

/** Programs that start the next one as another user with that user's HOME. */
const HOME_RESETTING = new Set(['su', 'runuser', 'sudo', 'login', 'doas']);

/** Home directories by uid from a passwd file (read once, on demand). */
export function passwdHomes(passwdText: string): Map<number, string> {
  const homes = new Map<number, string>();
  for (const line of passwdText.split('\n')) {
    const f = line.split(':');
    if (f.length >= 7 && /^\d+$/.test(f[2]!) && f[5]!.startsWith('/')) homes.set(Number(f[2]), f[5]!);
  }
  return homes;
}

/** The user name of a uid from /etc/passwd (for evidence: "owned by uid 0 (root)"). */
export function userNameOf(uid: number, passwdPath = '/etc/passwd'): string | undefined {
  try {
    for (const line of readFileSync(passwdPath, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 7 && f[2] === String(uid) && /^[A-Za-z0-9._-]{1,32}$/.test(f[0]!)) return f[0];
    }
  } catch {
    /* no passwd file: numbers only */
  }
  return undefined;
}

/** Only the kept variables of an environment. */
export function keptVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (KEPT.test(k)) out[k] = v;
  return out;
}

/** The kept variables of a /proc/PID/environ, as keptVariables(parseEnviron(bytes)) gives them, in one pass. */
export function keptEnviron(bytes: Buffer): NodeJS.ProcessEnv {
  return parseEnviron(bytes, (name) => KEPT.test(name));
}

/** Read at exec from /proc, while the process lives. */
function readAtExec(procRoot: string, p: ProcessNode): ExecReadings {
  return readAtExecOf(procRoot, p.pid, executableName(p));
}

/**
 * Exec readings taken from /proc as the exec records arrive, kept for the pipeline that
 * notes the exec later: through an agent `gostall run` builds its pipeline only after CMD
 * exits (so its CPU does not slow CMD down; the processes are gone by then), and on its own
 * it takes them before the lines ahead of the record are processed (a go that fails at
 * start is gone ~10 ms after its exec). read() gives what was taken at that process's exec
 * (pid and exec time), once, else reads /proc as usual.
 */
export function createExecReadingCache(procRoot = '/proc'): { take(pid: number, execTs: number, filename: string): void; read(p: ProcessNode): ExecReadings } {
  const byKey = new Map<string, ExecReadings>();
  return {
    take(pid, execTs, filename) {
      byKey.set(`${pid}:${execTs}`, readAtExecOf(procRoot, pid, lastComponent(filename)));
    },
    read(p) {
      const key = `${p.pid}:${p.exec?.ts}`;
      const taken = byKey.get(key);
      if (taken === undefined) return readAtExec(procRoot, p);
      byKey.delete(key); // each exec is noted once: a long run's cache does not keep it
      return taken;
    },
  };
}

function readAtExecOf(procRoot: string, pid: number, exe: string): ExecReadings {
  const p = { pid };
  const r: ExecReadings = {};
  if (RESOLVING.has(exe)) {
    // gone, or no resolv.conf (glibc then asks 127.0.0.1): nothing is recorded
    const conf = readProcBytes(`${procRoot}/${p.pid}/root/etc/resolv.conf`);
    if (conf) r.resolvers = parseNameservers(conf.subarray(0, MAX_RESOLV_CONF_BYTES).toString('utf8'));
  }
  // the go command's directory: its compiles' relative source paths and its go.mod (why it rebuilt)
  if (exe === 'go') r.cwd = readCwd(p.pid, procRoot);
  // gone already: nothing is recorded
  const limits = readProcText(`${procRoot}/${p.pid}/limits`);
  if (limits !== undefined) r.nofile = parseNofile(limits);
  const cgroup = readProcText(`${procRoot}/${p.pid}/cgroup`);
  if (cgroup !== undefined) r.memoryCgroup = parseMemoryCgroup(cgroup);
  // Gone already, or not ours to read: its ancestors' environment stands in. An exited
  // process (zombie) has an empty environ: that says nothing about it.
  const bytes = readProcBytes(`${procRoot}/${p.pid}/environ`);
  if (bytes !== undefined && bytes.length > 0) r.env = keptEnviron(bytes.subarray(0, MAX_ENVIRON_BYTES));
  return r;
}

/**
 * The environments of a recording's processes, as run read them (replay). noteExec is
 * called for every process of a tree, parents first, when a diagnosis needs them.
 */
export function recordedProcessEnvs(rec: RecordedProcessEnvs, opts: { passwdPath?: string } = {}): ProcessEnvs {
  const byKey = new Map(rec.processes.map((e) => [`${e.pid}:${e.startNs}`, e]));
  return createProcessEnvs('/proc', {
    ...opts, launchEnv: rec.launch,
    read: (p) => {
      const e = byKey.get(`${p.pid}:${p.startNs}`);
      if (!e) return {};
      const { v1Memory, v2 } = e.memoryCgroup ?? {};
      return {
        env: e.env, resolvers: e.resolvers,
        nofile: e.nofile ? { soft: e.nofile.soft, hard: e.nofile.hard } : undefined,
        memoryCgroup: e.memoryCgroup ? { v1Memory, v2 } : undefined,
        cwd: e.cwd,
      };
    },
  });
}

export function createProcessEnvs(procRoot = '/proc', opts: { launchEnv?: NodeJS.ProcessEnv; passwdPath?: string; read?: (p: ProcessNode) => ExecReadings } = {}): ProcessEnvs {
  const envs = new WeakMap<ProcessNode, NodeJS.ProcessEnv>();
  const resolvers = new WeakMap<ProcessNode, string[]>();
  const nofiles = new WeakMap<ProcessNode, { soft: number | undefined; hard: number | undefined }>();
  const memoryCgroups = new WeakMap<ProcessNode, MemoryCgroupPaths>();
  const cwds = new WeakMap<ProcessNode, string>();
  /** The nearest value a process or its ancestors have in one of the maps. */
  const nearest = <T>(map: WeakMap<ProcessNode, T>, p: ProcessNode): T | undefined => {
    for (let q: ProcessNode | undefined = p; q; q = q.parent) {
      const v = map.get(q);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const launch = opts.launchEnv ? keptVariables(opts.launchEnv) : undefined;
  let homes: Map<number, string> | undefined;
  const homeOf = (uid: number): string | undefined => {
    if (!homes) {
      try {
        homes = passwdHomes(readFileSync(opts.passwdPath ?? '/etc/passwd', 'utf8'));
      } catch {
        homes = new Map();
      }
    }
    return homes.get(uid);
  };
  /** An inherited environment as p sees it: HOME follows a user switch that resets it. */
  const inherited = (p: ProcessNode, env: NodeJS.ProcessEnv, switched: boolean): NodeJS.ProcessEnv => {
    if (!switched || p.uid === undefined) return env;
    const home = homeOf(p.uid);
    return home ? { ...env, HOME: home } : env;
  };
  return {
    noteExec(p) {
      const r = opts.read ? opts.read(p) : readAtExec(procRoot, p);
      if (r.resolvers) resolvers.set(p, r.resolvers);
      if (r.nofile) nofiles.set(p, r.nofile);
      if (r.memoryCgroup) memoryCgroups.set(p, r.memoryCgroup);
      if (r.env) envs.set(p, r.env);
      if (r.cwd) cwds.set(p, r.cwd);
    },
    recorded(root) {
      const processes: RecordedProcessEnv[] = [];
      for (const p of walk(root)) {
        const e: RecordedProcessEnv = { pid: p.pid, startNs: p.startNs };
        const env = envs.get(p);
        if (env) e.env = Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
        const res = resolvers.get(p);
        if (res) e.resolvers = res;
        const nf = nofiles.get(p);
        if (nf) e.nofile = { ...(nf.soft !== undefined ? { soft: nf.soft } : {}), ...(nf.hard !== undefined ? { hard: nf.hard } : {}) };
        const mc = memoryCgroups.get(p);
        const cwd = cwds.get(p);
        if (cwd) e.cwd = cwd;
        if (mc) e.memoryCgroup = { ...(mc.v1Memory !== undefined ? { v1Memory: mc.v1Memory } : {}), ...(mc.v2 !== undefined ? { v2: mc.v2 } : {}) };
        if (Object.keys(e).length > 2) processes.push(e);
      }
      const launchVars = launch ? Object.fromEntries(Object.entries(launch).filter((kv): kv is [string, string] => kv[1] !== undefined)) : undefined;
      return { ...(launchVars ? { launch: launchVars } : {}), processes };
    },
    resolversOf: (p) => nearest(resolvers, p),
    nofileOf: (p) => nearest(nofiles, p),
    memoryCgroupOf: (p) => nearest(memoryCgroups, p),
    cwdOf: (p) => cwds.get(p),
    ownEnvOf: (p) => envs.get(p),
    envOf(p) {
      let switched = false;
      for (let q: ProcessNode | undefined = p; q; q = q.parent) {
        const env = envs.get(q);
        if (env && q === p) return env;
        // the switching program's own environment is the one from before the switch
        if (q !== p && q.exec && HOME_RESETTING.has(executableName(q))) switched = true;
        if (env) return inherited(p, env, switched);
        if (!q.parent && launch) return inherited(p, launch, switched);
      }
      return undefined;
    },
  };
}
