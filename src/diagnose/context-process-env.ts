/**
 * Each traced process's own environment: a failing `go` run through runuser, sudo or a
 * script that exports GOCACHE has another HOME, GOCACHE and PATH than the command gostall
 * started, and judging its paths by the root's environment blames the wrong place (a
 * PATH lookup under /root read as "the home directory"). /proc/PID/environ is read when
 * the process's exec record arrives, while it still lives (a go that fails at start lives
 * ~10 ms; the record arrives within a few), and only the variables Go and its tools read
 * are kept. A process whose environment could not be read inherits its nearest ancestor's.
 */
import { readFileSync } from 'node:fs';
import type { ProcessNode } from '../model/process.js';
import { parseEnviron } from './context-go-env.js';

/** What is kept of an environment: Go's variables, where it looks for things, and proxies. */
const KEPT = /^(GO[A-Z0-9_]*|CGO_ENABLED|HOME|PATH|XDG_CACHE_HOME|XDG_CONFIG_HOME|USER|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy)$/;
/** Larger environments are cut here: enough for every variable above in any real setup. */
const MAX_ENVIRON_BYTES = 256 * 1024;

export interface ProcessEnvs {
  /** Read the environment of a process that just exec'd (cheap: one small /proc read). */
  noteExec(p: ProcessNode): void;
  /** Its own environment if read, else its nearest ancestor's; undefined when none was read. */
  envOf(p: ProcessNode): NodeJS.ProcessEnv | undefined;
}

/** Only the kept variables of an environment. */
export function keptVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (KEPT.test(k)) out[k] = v;
  return out;
}

export function createProcessEnvs(procRoot = '/proc'): ProcessEnvs {
  const envs = new WeakMap<ProcessNode, NodeJS.ProcessEnv>();
  return {
    noteExec(p) {
      try {
        const bytes = readFileSync(`${procRoot}/${p.pid}/environ`);
        // An exited process (zombie) has an empty environ: that says nothing about it.
        if (bytes.length === 0) return;
        envs.set(p, keptVariables(parseEnviron(bytes.subarray(0, MAX_ENVIRON_BYTES))));
      } catch {
        /* gone already, or not ours to read: its ancestors' environment stands in */
      }
    },
    envOf(p) {
      for (let q: ProcessNode | undefined = p; q; q = q.parent) {
        const env = envs.get(q);
        if (env) return env;
      }
      return undefined;
    },
  };
}
