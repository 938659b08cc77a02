/**
 * Shared reading of a process's evidence for the cause rules: its wall time, where its slow
 * calls went (by mount, estimated from the uniform sample and exact totals), off-CPU time
 * inside given syscalls, and how to name a place ("fuse.slowfs /tmp/ws (the workspace)").
 */
import { classOfSyscall, type SyscallClass } from '../events/schema.js';
import type { SlowSyscallEvent } from '../events/types.js';
import { argvOf, decodeWaitStatus, displayName, executableName, type ProcessNode } from '../model/process.js';
import { flagValue } from '../model/go-action.js';
import { stderrText } from '../model/stderr.js';
import { absolutePath } from './context-paths.js';
import { formatDuration } from './format.js';
import type { Cause, DiagnosisContext, MountInfo, PathRole, Rule } from './types.js';
import { walk as walkTree } from '../model/tree.js';

/** Wall time of a process, up to the end of the trace if it was still running. */
export function wallNs(p: ProcessNode, ctx: DiagnosisContext): number {
  return Math.max(0, (p.endNs ?? ctx.endNs) - p.startNs);
}

/** "go list (pid 123)" */
export function processLabel(p: ProcessNode): string {
  return `${displayName(p)} (pid ${p.pid})`;
}

/** Whether the process ended with a non-zero exit code or a signal. */
export function exitedWithFailure(p: ProcessNode): boolean {
  if (p.status === undefined) return false;
  const { code, signal } = decodeWaitStatus(p.status);
  return signal !== undefined || (code ?? 0) !== 0;
}

/** Blocked time of one record (run-queue waits inside the call excluded). */
export function blockedNs(e: SlowSyscallEvent): number {
  return Math.max(0, e.latencyNs - e.runqNs);
}

/** A path from /proc/PID/fd that names a file (not "pipe:[12]", "socket:[3]", "anon_inode:[eventfd]"). */
export function isFileTarget(path: string | undefined): path is string {
  if (path === undefined || path.length === 0) return false;
  if (path.startsWith('/')) return true;
  return !/^[a-z_]+:/.test(path);
}

/**
 * Filesystems where every metadata call can be a round trip to another machine or to user
 * space: FUSE (Docker Desktop's grpcfuse/osxfs, sshfs, gcsfuse), virtiofs, 9p (WSL2 /mnt/c),
 * NFS, SMB, and the cluster filesystems.
 */
export function isSharedFilesystem(fsType: string): boolean {
  return fsType === 'fuse' || fsType.startsWith('fuse.') || fsType === 'fuseblk' ||
    ['virtiofs', '9p', 'nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'ceph', 'glusterfs', 'lustre', 'afs', 'vboxsf',
      'vmhgfs', 'prl_fs', 'davfs', 'gpfs', 'beegfs'].includes(fsType);
}

/** Slow calls of a process on one mount, estimated for all of them from the sample. */
export interface MountShare {
  mount: MountInfo | undefined;
  /** estimated number of slow calls there */
  count: number;
  /** estimated time blocked in them */
  blockedNs: number;
  /** sampled records there (absolute paths), for medians and examples */
  samples: { e: SlowSyscallEvent; path: string | undefined }[];
}

/**
 * Where a process's slow calls of the given classes went, by mount, largest share first.
 * accept filters records (e.g. only file targets for reads, which also hit pipes).
 */
export function slowCallsByMount(p: ProcessNode, classes: SyscallClass[], ctx: DiagnosisContext,
  accept: (e: SlowSyscallEvent) => boolean = () => true): MountShare[] {
  const byKey = new Map<string, MountShare>();
  for (const cls of classes) {
    const sample = p.slowCalls.sample[cls];
    const totals = p.slowCalls.totals[cls];
    if (sample.length === 0 || totals.count === 0) continue;
    let sampledNs = 0;
    for (const e of sample) sampledNs += blockedNs(e);
    const scaleCount = totals.count / sample.length;
    const scaleNs = sampledNs > 0 ? totals.blockedNs / sampledNs : 0;
    for (const e of sample) {
      if (!accept(e)) continue;
      const abs = e.path !== undefined && isFileTarget(e.path) ? absolutePath(e.path, ctx.workspace) : undefined;
      const mount = abs ? ctx.mountOf(abs) : undefined;
      const key = mount ? mount.mountPoint : '';
      let share = byKey.get(key);
      if (!share) byKey.set(key, (share = { mount, count: 0, blockedNs: 0, samples: [] }));
      share.count += scaleCount;
      share.blockedNs += blockedNs(e) * scaleNs;
      share.samples.push({ e, path: abs });
    }
  }
  return [...byKey.values()].sort((a, b) => b.blockedNs - a.blockedNs);
}

/** Median of numbers (0 for none). */
export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Off-CPU time a process's threads spent inside the given syscalls, by state, from its O records. */
export function offCpuInside(p: ProcessNode, inSyscall: (sc: number) => boolean): { sNs: number; dNs: number; dCount: number } {
  let sNs = 0, dNs = 0, dCount = 0;
  for (const o of p.offCpu) {
    if (!inSyscall(o.sc)) continue;
    if (o.state === 2) { dNs += o.durationNs; dCount++; } else sNs += o.durationNs;
  }
  return { sNs, dNs, dCount };
}

/** Whether a syscall id belongs to one of the classes. */
export function inClasses(classes: SyscallClass[]): (sc: number) => boolean {
  return (sc) => sc !== 0 && classes.includes(classOfSyscall(sc));
}

const ROLE_NAMES: Record<PathRole, string> = {
  workspace: 'the workspace', gomodcache: 'GOMODCACHE', gocache: 'GOCACHE', goroot: 'GOROOT', gopath: 'GOPATH',
  tmp: 'a temporary directory', home: 'the home directory', other: '',
};

/** "GOMODCACHE" etc., or undefined for paths with no Go role. */
export function roleName(role: PathRole): string | undefined {
  return ROLE_NAMES[role] || undefined;
}

/** The role of the place where the sampled paths are (the most common one). */
export function dominantRole(paths: (string | undefined)[], ctx: DiagnosisContext): { role: PathRole; base: string | undefined } {
  const counts = new Map<string, { role: PathRole; base: string | undefined; n: number }>();
  for (const path of paths) {
    if (!path || !ctx.roleOf) continue;
    const r = ctx.roleOf(path);
    const key = `${r.role}\t${r.base ?? ''}`;
    const c = counts.get(key) ?? { ...r, n: 0 };
    c.n++;
    counts.set(key, c);
  }
  let best: { role: PathRole; base: string | undefined; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  return best ? { role: best.role, base: best.base } : { role: 'other', base: undefined };
}

/** "fuse.slowfs /tmp/ws (the workspace)"; the device for block filesystems ("ext4 /mnt (/dev/loop0; the workspace)"). */
export function describeMount(mount: MountInfo | undefined, role: PathRole): string {
  const what = roleName(role);
  if (!mount) return what ? `${what}` : 'an unknown filesystem';
  const notes = [mount.source.startsWith('/dev/') ? mount.source : undefined, what].filter(Boolean);
  return `${mount.fsType} ${mount.mountPoint}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
}

/** "median 4.6 ms" style figure of sampled records. */
export function medianOf(samples: { e: SlowSyscallEvent }[]): number {
  return median(samples.map((s) => blockedNs(s.e)));
}

/** The slowest sampled path, as an example. */
export function examplePath(samples: { e: SlowSyscallEvent; path: string | undefined }[]): string | undefined {
  let best: { e: SlowSyscallEvent; path: string | undefined } | undefined;
  for (const s of samples) if (s.path && (!best || blockedNs(s.e) > blockedNs(best.e))) best = s;
  return best?.path;
}

/** "6.4 s of the 9.8 s run", with a note when the part is summed over threads and exceeds the wall time. */
export function shareText(partNs: number, wall: number): string {
  const over = partNs > wall * 1.05 ? ' (summed over threads)' : '';
  return `${formatDuration(partNs)}${over} of the ${formatDuration(wall)} run`;
}

/** Values of gostall.cause.scope (documented in docs/root-causes.md). */
export type CauseScope = 'gomodcache' | 'gocache' | 'gopath' | 'workspace' | 'home' | 'other';

/** The scope attribute for a path role: GOROOT and temporary directories are "other". */
export function scopeOf(role: PathRole): CauseScope {
  return role === 'goroot' || role === 'tmp' ? 'other' : role;
}

/** Failed-call records of a process that match, in time order. */
export function failedCalls(p: ProcessNode, match: (e: SlowSyscallEvent) => boolean): SlowSyscallEvent[] {
  return p.failedSyscalls.filter(match).sort((a, b) => a.ts - b.ts);
}

/** Distinct values, first seen first. */
export function distinct<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** A rule that judges each process of the tree on its own. */
export function perProcess(judge: (p: ProcessNode, ctx: DiagnosisContext) => Cause | undefined): Rule {
  return (root, ctx) => {
    const out: Cause[] = [];
    for (const p of walkTree(root)) {
      const c = judge(p, ctx);
      if (c) out.push(c);
    }
    return out;
  };
}

/** The span attributes naming where file-system time went. */
export function mountAttributes(role: PathRole, mount: MountInfo): Record<string, string> {
  return { 'gostall.cause.scope': scopeOf(role), 'gostall.cause.fs_type': mount.fsType, 'gostall.cause.mount_point': mount.mountPoint };
}

/** What the process wrote to stderr first (bounded, escapes dropped, URL credentials removed). */
export function stderrOf(p: ProcessNode): string | undefined {
  return stderrText(p.stderr);
}

/** The first stderr line matching re, cut to maxChars, for quoting in evidence. */
export function stderrLine(p: ProcessNode, re: RegExp, maxChars = 160): string | undefined {
  const text = stderrOf(p);
  if (!text) return undefined;
  const line = text.split('\n').find((l) => re.test(l));
  if (line === undefined) return undefined;
  const t = line.trim();
  return t.length > maxChars ? `${t.slice(0, maxChars)}…` : t;
}

/** "exited with code 2" / "was killed by signal 9". */
export function exitText(p: ProcessNode): string {
  if (p.status === undefined) return 'was still running';
  const { code, signal } = decodeWaitStatus(p.status);
  return signal !== undefined ? `was killed by signal ${signal}` : `exited with code ${code}`;
}

/** Whether the process runs the go command itself. */
export function isGoCommand(p: ProcessNode): boolean {
  return p.exec !== undefined && executableName(p) === 'go';
}

/** The directory a process exec'd in (read at its exec), else the root's workspace. */
export function execDir(p: ProcessNode, ctx: DiagnosisContext): string | undefined {
  return ctx.cwdOf?.(p) ?? ctx.workspace;
}

/**
 * The directory a go command works in, where it looks for its go.mod and takes its relative
 * paths from: the one it exec'd in (read at its exec; `make`, `sh -c 'cd sub && go build'`),
 * else the root's workspace, moved by `-C dir` (Go 1.20 and later).
 */
export function goCommandDir(go: ProcessNode, ctx: DiagnosisContext): string | undefined {
  const cwd = execDir(go, ctx);
  const moved = flagValue(argvOf(go).argv, '-C');
  return moved === undefined ? cwd : absolutePath(moved, cwd);
}
