// Writes probe records the way probes/linux/gostall.bt prints them (TAB-separated, %r
// escaping for kernel strings), for replay tests and the million-event storm. Field order
// follows FIELDS in src/events/schema.ts.

/** bpftrace's %r: printable ASCII as is, every other byte as \xNN. */
export function r(bytes: Buffer | string, size?: number): string {
  let b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  if (size !== undefined) {
    const padded = Buffer.alloc(size);
    b.copy(padded, 0, 0, Math.min(b.length, size - 1));
    b = padded;
  }
  let out = '';
  for (const c of b) out += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

const t = (...f: (string | number)[]): string => f.join('\t');

export const rec = {
  ready: (ts: number, rootPid = 0, syscallNs = 1_000_000, offcpuNs = 1_000_000) => t('R', ts, rootPid, syscallNs, offcpuNs),
  root: (ts: number, pid: number, ppid: number) => t('G', ts, pid, ppid),
  exec(ts: number, pid: number, ppid: number, argv: string[], filename: string) {
    const args = Buffer.from(`${argv.join('\0')}\0`);
    const comm = filename.split('/').pop()!.slice(0, 15);
    return [
      t('E', ts, pid, pid, ppid, 0, args.length, r(comm, 16), r(filename, 128)),
      t('V', pid, 0, r(args.subarray(0, 128))),
    ];
  },
  fork: (ts: number, parentPid: number, childTid: number) => t('F', ts, parentPid, parentPid, childTid),
  /** a slow or failed syscall (sc: the probe's id, SC in src/vocabulary/syscalls.ts; ret: -errno) */
  syscall: (ts: number, pid: number, tid: number, sc: number, latencyNs: number, ret: number, path?: string, fd = -1) =>
    t('S', ts, pid, tid, sc, latencyNs, 0, ret, path === undefined ? fd : -1, path === undefined ? '' : r(path, 128)),
  offcpu: (ts: number, pid: number, tid: number, state: 1 | 2, durationNs: number, sc: number) => t('O', ts, pid, tid, state, durationNs, sc),
  sum: (ts: number, pid: number, tid: number, cls: number, count: number, blockedNs: number) =>
    t('A', ts, pid, tid, cls, count, blockedNs, blockedNs, 0, 0, count, 0, 0, 0),
  sched: (ts: number, pid: number, tid: number, onCpuNs = 1_000_000) => t('Q', ts, pid, tid, onCpuNs, 1000, 0, 0, 1, 0, 0),
  exit: (ts: number, pid: number, status = 0) => t('X', ts, pid, pid, status),
  snapshot: (ts: number, kind: 1 | 2, phase: 0 | 1) => t('M', ts, kind, phase),
  /** the in-flight map lines for one stuck call */
  inflight: (tid: number, startNs: number, sc: number, arg: number) => [`@ts[${tid}]: ${startNs}`, `@sc[${tid}]: ${sc}`, `@arg[${tid}]: ${arg}`],
};

/** One short-lived Go tool process of a storm: root, exec, a thread, syscall sums, exit. */
export function stormProcess(ts: number, pid: number, name: string): string[] {
  return [
    rec.root(ts, pid, 1),
    ...rec.exec(ts + 1000, pid, 1, [name, '-h'], `/usr/local/bin/${name}`),
    rec.fork(ts + 2000, pid, pid + 1),
    rec.sum(ts + 3000, pid, pid + 1, 0, 3, 9000),
    rec.sched(ts + 3100, pid, pid + 1),
    rec.sum(ts + 4000, pid, pid, 0, 12, 40000),
    rec.sum(ts + 4000, pid, pid, 1, 4, 20000),
    rec.sched(ts + 4100, pid, pid),
    rec.exit(ts + 4200, pid),
  ];
}
