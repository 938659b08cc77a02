/**
 * The local history of builds that lets a build say why it rebuilt (issue 13): one small
 * JSON file per build key (../diagnose/build-record.ts) in a directory of the user's
 * (`run`: ~/.local/state/gostall/builds, the invoking user's under sudo, also when the agent
 * builds bin/gostall's trace — bin/gostall reads and writes the records then, ClientHistory;
 * the agent's own traces: <state-dir>/builds). Each trace's building go commands are compared with their last
 * record before the diagnosis, and recorded after it.
 *
 * The directory is hostile ground as much as any input: it must be a real directory of the
 * expected owner, not writable by others; a file is read only when it is a regular file
 * (no symlink followed) of that owner and at most MAX_FILE_BYTES, and only when it parses
 * and validates; anything else is ignored with a counted notice, never a crash. Files are
 * written 0600 (a temporary file renamed into place), directories 0700, and the directory
 * keeps at most maxFiles records (the least recently written go first).
 */
import { createHash } from 'node:crypto';
import {
  closeSync, constants as fsConstants, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync,
  renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
// zod's tree-shakable flavour: `gostall run` loads this after its command exits, while the
// user waits (the classic build is ~15 ms of loading)
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { buildingGoCommands, LIMITS, recordBuild, type BuildRecord } from '../diagnose/build-record.js';
import { diffBuilds, type RebuildFindings } from '../diagnose/rebuild-diff.js';
import type { DiagnosisContext } from '../diagnose/types.js';
import { decodeWaitStatus, type ProcessNode } from '../model/process.js';

/** A record file larger than this is not read (a record of 2,000 packages of 10 files is ~600 KiB). */
export const MAX_FILE_BYTES = 2 << 20;
export const DEFAULTS = { maxFiles: 64, maxPackages: 2000, maxGoCommands: 8, maxConfigs: 16 } as const;

// its messages name what was wrong in an ignored file ("v: Invalid input: expected 1")
z.config(en());
const text = (max: number) => z.string().check(z.maxLength(max));
const hex = (digits: number) => z.string().check(z.regex(new RegExp(`^[0-9a-f]{${digits}}$`)));
const count = z.number().check(z.int(), z.minimum(0));
// (zod 4's number() takes finite numbers only)
const fileSchema = z.strictObject({ size: count, mtimeMs: z.number(), sha256: z.optional(hex(32)) });
const packageSchema = z.strictObject({ flags: z.array(text(4096)).check(z.maxLength(200)), files: z.record(text(256), fileSchema), atMs: z.number(),
  config: z.optional(hex(16)) });
const recordSchema = z.strictObject({
  v: z.literal(1),
  key: text(8192),
  label: text(1024),
  atMs: z.number(),
  inputs: z.record(text(64), text(LIMITS.maxValueChars)),
  hits: count,
  misses: count,
  configs: z.array(hex(16)).check(z.maxLength(DEFAULTS.maxConfigs)),
  packages: z.record(text(1024), packageSchema),
});

/**
 * Records a client keeps (bin/gostall's fast path, src/agent/run-session.ts): the agent
 * never opens files in a user's directory, so the client, which runs as that user, reads the
 * records the agent names and writes back the ones it makes.
 */
export interface ClientHistory {
  /** names the cache of records written here: one per user */
  scope: string;
  /** the client's records under these file names (missing ones left out), or undefined when it did not answer */
  fetch(files: string[]): Promise<Map<string, Buffer> | undefined>;
  /** a new record for the client to write under this file name */
  write(file: string, text: string): void;
}

export interface BuildHistoryOptions {
  /** the directory of records, or (client) records a client reads and writes for us */
  dir?: string;
  /**
   * dir is a directory the caller opened for this user and checked part by part, reached as
   * /proc/self/fd/N (`gostall run` under sudo: src/cli/user-directory.ts): messages name it
   * by `path`, and the records are made the owner's
   */
  openedFor?: { path: string; owner: { uid: number; gid: number } };
  client?: ClientHistory;
  maxFiles?: number;
  maxPackages?: number;
}

/** A comparison of one trace's builds; commit() records them (after the diagnosis used the findings). */
export interface RebuildComparison { findings: RebuildFindings[]; commit(): void }

export interface BuildHistory {
  /** synchronous for a directory; a client's records take a round trip */
  compare(root: ProcessNode, ctx: DiagnosisContext): RebuildComparison | Promise<RebuildComparison>;
  /** what went wrong with the history since the last call (ignored files, a refused directory) */
  takeNotices(): string[];
}

export const fileNameOf = (key: string): string => `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`;

/**
 * The records this process wrote last, by file, with the bytes written. The agent compares
 * each build with the record it wrote after the one before, and parsing and validating it
 * again is in the user's wait after CMD: 0.6 ms for 10 packages, 3.1 ms for 200, 36 ms for
 * 2,000 (JSON.parse and zod on the reference VM). The file is still read and checked as
 * before; only when its bytes are exactly the ones written is the record taken from here
 * (comparing them is a memcmp). At most MAX_KEPT_BYTES of records (by those bytes) are
 * kept, the least recently written going first.
 */
const MAX_KEPT_BYTES = 4 << 20;
const kept = new Map<string, { bytes: Buffer; rec: BuildRecord }>();
let keptBytes = 0;
const forget = (file: string): void => {
  const k = kept.get(file);
  if (!k) return;
  kept.delete(file);
  keptBytes -= k.bytes.length;
};
const keep = (file: string, bytes: Buffer, rec: BuildRecord): void => {
  forget(file);
  if (bytes.length > MAX_KEPT_BYTES) return;
  for (const [f] of kept) { if (keptBytes + bytes.length <= MAX_KEPT_BYTES) break; forget(f); }
  kept.set(file, { bytes, rec });
  keptBytes += bytes.length;
};

export function createBuildHistory(opts: BuildHistoryOptions): BuildHistory {
  const maxFiles = opts.maxFiles ?? DEFAULTS.maxFiles;
  const maxPackages = opts.maxPackages ?? DEFAULTS.maxPackages;
  const owner = opts.openedFor?.owner;
  const uid = owner?.uid ?? process.getuid?.() ?? 0;
  const notices: string[] = [];
  let usable: boolean | undefined;
  const shown = (path: string): string => (opts.openedFor && opts.dir !== undefined && path.startsWith(opts.dir) ? opts.openedFor.path + path.slice(opts.dir.length) : path);

  /** The directory, made if missing; refused (once, with a notice) when it is not safely ours. */
  const ready = (): boolean => {
    if (usable !== undefined) return usable;
    if (opts.dir === undefined) return (usable = opts.client !== undefined);
    try {
      // (an opened directory is there, and its /proc/self/fd/N is a link to it)
      if (!opts.openedFor) mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      const st = opts.openedFor ? statSync(opts.dir) : lstatSync(opts.dir);
      if (!st.isDirectory()) throw new Error('not a directory');
      if (st.uid !== uid) throw new Error(`owned by uid ${st.uid}, not ${uid}`);
      if ((st.mode & 0o022) !== 0) throw new Error('writable by other users');
      usable = true;
    } catch (err) {
      notices.push(`build history off: ${shown(opts.dir)}: ${(err as Error).message}`);
      usable = false;
    }
    return usable;
  };

  const ignored = (file: string, why: string): undefined => {
    notices.push(`build history: ignored ${shown(file)}: ${why}`);
    return undefined;
  };

  /** A record's bytes as the record of key (label: the file, in notices; cacheId: its entry in `kept`). */
  const decode = (label: string, cacheId: string, buf: Buffer, key: string): BuildRecord | undefined => {
    const written = kept.get(cacheId);
    if (written && written.rec.key === key && written.bytes.equals(buf)) return written.rec;
    forget(cacheId);
    let json: unknown;
    try { json = JSON.parse(buf.toString('utf8')); } catch { return ignored(label, 'not JSON'); }
    const parsed = recordSchema.safeParse(json);
    if (!parsed.success) return ignored(label, `not a build record (${parsed.error.issues[0]?.path.join('.') || 'top'}: ${parsed.error.issues[0]?.message})`);
    if (parsed.data.key !== key) return ignored(label, 'the record of another build');
    const { v: _v, ...rec } = parsed.data;
    return rec;
  };

  const load = (dir: string, key: string): BuildRecord | undefined => {
    const file = join(dir, fileNameOf(key));
    let fd: number | undefined;
    try {
      fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? undefined : ignored(file, code === 'ELOOP' ? 'a symbolic link' : (err as Error).message);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return ignored(file, 'not a regular file');
      if (st.uid !== uid) return ignored(file, `owned by uid ${st.uid}`);
      if (st.size > MAX_FILE_BYTES) return ignored(file, `larger than ${MAX_FILE_BYTES} bytes`);
      const buf = Buffer.alloc(st.size);
      let got = 0;
      while (got < st.size) { const n = readSync(fd, buf, got, st.size - got, got); if (n === 0) break; got += n; }
      return decode(file, file, buf.subarray(0, got), key);
    } catch (err) {
      return ignored(file, (err as Error).message);
    } finally {
      closeSync(fd);
    }
  };

  /** This build's record, with the fingerprints of the packages it did not compile kept from before (bounded). */
  const merged = (prev: BuildRecord | undefined, cur: BuildRecord): BuildRecord => {
    const all = Object.entries({ ...(prev?.packages ?? {}), ...cur.packages });
    all.sort((a, b) => b[1].atMs - a[1].atMs);
    const configs = [...new Set([...cur.configs, ...(prev?.configs ?? [])])].slice(0, DEFAULTS.maxConfigs);
    return { ...cur, configs, packages: Object.fromEntries(all.slice(0, maxPackages)) };
  };

  /** A record's text, and the record as that text holds it: too big to be read back, the most recent half of its packages until it fits. */
  const encode = (rec: BuildRecord): { text: string; written: BuildRecord } => {
    let written = rec;
    let text = JSON.stringify({ v: 1, ...rec });
    let packages = Object.entries(rec.packages);
    while (Buffer.byteLength(text) > MAX_FILE_BYTES && packages.length > 0) {
      packages = packages.slice(0, Math.floor(packages.length / 2));
      written = { ...rec, packages: Object.fromEntries(packages) };
      text = JSON.stringify({ v: 1, ...written });
    }
    return { text, written };
  };

  const save = (dir: string, rec: BuildRecord): void => {
    const file = join(dir, fileNameOf(rec.key));
    const tmp = `${file}.${process.pid}.tmp`;
    const { text, written } = encode(rec);
    forget(file);
    let fd: number | undefined;
    try {
      try { unlinkSync(tmp); } catch { /* none left over */ }
      fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      if (owner) fchownSync(fd, owner.uid, owner.gid);
      writeSync(fd, text);
      closeSync(fd);
      fd = undefined;
      // The old record goes first: renamed over, ext4 (auto_da_alloc) writes the new file's
      // data out inside rename(), 0.1-3 ms while the user waits for the summary (profiled in
      // the agent: most of the time it spent on a warm build). A crash in between loses only
      // that build's earlier record; the next build records anew.
      try { unlinkSync(file); } catch { /* none yet */ }
      renameSync(tmp, file);
      keep(file, Buffer.from(text), written);
    } catch (err) {
      notices.push(`build history: could not write ${shown(file)}: ${(err as Error).message}`);
      if (fd !== undefined) closeSync(fd);
      try { unlinkSync(tmp); } catch { /* not made */ }
      return;
    }
    prune(dir);
  };

  /** Keep at most maxFiles records: the least recently written go. */
  const prune = (dir: string): void => {
    try {
      const files = readdirSync(dir).filter((f) => /^[0-9a-f]{32}\.json$/.test(f));
      if (files.length <= maxFiles) return;
      const byAge = files.map((f) => { try { return { f, t: statSync(join(dir, f)).mtimeMs }; } catch { return { f, t: 0 }; } });
      byAge.sort((a, b) => a.t - b.t);
      for (const { f } of byAge.slice(0, files.length - maxFiles)) { try { unlinkSync(join(dir, f)); } catch { /* gone */ } }
    } catch { /* the next save tries again */ }
  };

  type Current = { go: ProcessNode; cur: BuildRecord };
  const nothing: RebuildComparison = { findings: [], commit: () => {} };

  /** The trace's building go commands and their records now (hashing their inputs, within one budget). */
  const currentBuilds = (root: ProcessNode, ctx: DiagnosisContext): Current[] => {
    const budget = { files: LIMITS.maxFilesPerBuild, bytes: LIMITS.maxHashedBytesPerBuild };
    const out: Current[] = [];
    for (const go of buildingGoCommands(root).slice(0, DEFAULTS.maxGoCommands)) {
      const cur = recordBuild(go, ctx, budget);
      if (cur) out.push({ go, cur });
    }
    return out;
  };

  const compareWith = (builds: Current[], previous: (key: string) => BuildRecord | undefined, record: (rec: BuildRecord) => void): RebuildComparison => {
    const findings: RebuildFindings[] = [];
    const pending: BuildRecord[] = [];
    for (const { go, cur } of builds) {
      const prev = previous(cur.key);
      findings.push(diffBuilds(go, prev, cur));
      // a failed build may have stopped before writing its entries: it is no baseline for the next
      const ok = go.status !== undefined && decodeWaitStatus(go.status).code === 0;
      if (ok) pending.push(merged(prev, cur));
    }
    return { findings, commit: () => { for (const r of pending) record(r); } };
  };

  /** A client's records: one round trip for the files the builds name; written back through it. */
  const compareWithClient = async (client: ClientHistory, builds: Current[]): Promise<RebuildComparison> => {
    if (builds.length === 0) return nothing;
    const got = await client.fetch([...new Set(builds.map((b) => fileNameOf(b.cur.key)))]);
    if (!got) {
      notices.push('build history: the client did not send its records in time: this build was not compared');
      return nothing;
    }
    const previous = (key: string): BuildRecord | undefined => {
      const file = fileNameOf(key);
      const bytes = got.get(file);
      if (bytes && bytes.length > MAX_FILE_BYTES) return ignored(`the client's ${file}`, `larger than ${MAX_FILE_BYTES} bytes`);
      return bytes && decode(`the client's ${file}`, `${client.scope}/${file}`, bytes, key);
    };
    return compareWith(builds, previous, (rec) => {
      const file = fileNameOf(rec.key);
      const { text, written } = encode(rec);
      client.write(file, text);
      keep(`${client.scope}/${file}`, Buffer.from(text), written);
    });
  };

  return {
    compare(root, ctx) {
      if (!ready()) return nothing;
      const builds = currentBuilds(root, ctx);
      if (opts.client) return compareWithClient(opts.client, builds);
      const dir = opts.dir!;
      return compareWith(builds, (key) => load(dir, key), (rec) => save(dir, rec));
    },
    takeNotices: () => notices.splice(0),
  };
}
