/**
 * A bounded on-disk queue of serialized OTLP requests, kept while the collector is down,
 * slow or refusing with 429/5xx, and replayed oldest first when it is back. Survives an
 * agent restart: files left by the previous run are picked up in order.
 *
 * Layout: one file per request, named <seq>-<spans>.<pb|json>, written to a temporary name
 * and renamed, so a crash leaves either a whole file or a temporary one (removed at open).
 * The directory is 0700 and every file 0600: spans hold command lines and paths.
 * When a new file would exceed maxBytes, the oldest files are evicted (the caller is told
 * how many spans that cost; nothing is dropped silently).
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BodyKind } from './transport.js';
import { sharedDirectoryMode } from './private-file.js';

export interface SpoolEntry {
  seq: number;
  spans: number;
  bytes: number;
  kind: BodyKind;
  file: string;
}

export type AppendResult = { ok: true } | { ok: false; reason: 'spool_full' | 'spool_write_error'; error?: string };

export interface Spool {
  readonly dir: string;
  /** entries on disk (appends still being written not included) */
  count(): number;
  bytes(): number;
  spans(): number;
  /** highest sequence number on disk at open (new bodies must be numbered above it) */
  readonly maxSeqAtOpen: number;
  /** Write a body; bodies are kept in seq order whatever order they were appended in. */
  append(body: Uint8Array, meta: { seq: number; spans: number; kind: BodyKind }): Promise<AppendResult>;
  /** The entry with the lowest seq. */
  oldest(): SpoolEntry | undefined;
  read(e: SpoolEntry): Promise<Uint8Array>;
  remove(e: SpoolEntry): Promise<void>;
  /** Protect an entry from eviction while it is being sent. */
  setBusy(e: SpoolEntry | undefined): void;
  /** Resolves when every append started so far has finished. */
  idle(): Promise<void>;
  /** called for every entry evicted to make room (its spans are lost); the exporter counts them */
  onEvict: ((e: SpoolEntry) => void) | undefined;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
}

const NAME = /^(\d{1,15})-(\d{1,9})\.(pb|json)$/;

/**
 * Create the spool directory private, or take an existing one as it is. Never chmod one: the
 * agent runs as root and `--spool-dir /var/lib` would close a system directory to everyone.
 * One that other users may write in is refused: they could plant request files (or links to
 * any file root can read) that the agent would send to the collector.
 */
async function prepareSpoolDir(dir: string): Promise<void> {
  if (await mkdir(dir, { recursive: true, mode: 0o700 }) !== undefined) return;
  const shared = sharedDirectoryMode((await stat(dir)).mode);
  if (shared) throw new Error(`other users may write in it (mode ${shared}): name a directory of the agent's own (the default is STATE_DIR/spool)`);
}

/** Create (or check) the spool directory and load what a previous run left. */
export async function openSpool(opts: SpoolOptions): Promise<Spool> {
  await prepareSpoolDir(opts.dir);
  const entries: SpoolEntry[] = [];
  let total = 0;
  let totalSpans = 0;
  let maxSeq = 0;
  for (const name of await readdir(opts.dir)) {
    const file = join(opts.dir, name);
    if (name.startsWith('.tmp-')) {
      await rm(file, { force: true });
      continue;
    }
    const m = NAME.exec(name);
    if (!m) continue;
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    const e: SpoolEntry = { seq: Number(m[1]), spans: Number(m[2]), bytes: st.size, kind: m[3] as BodyKind, file };
    entries.push(e);
    total += e.bytes;
    totalSpans += e.spans;
    maxSeq = Math.max(maxSeq, e.seq);
  }
  entries.sort((a, b) => a.seq - b.seq);
  let busy: SpoolEntry | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  function insertSorted(e: SpoolEntry): void {
    let i = entries.length;
    while (i > 0 && entries[i - 1]!.seq > e.seq) i--;
    entries.splice(i, 0, e);
  }

  function drop(e: SpoolEntry): void {
    const i = entries.indexOf(e);
    if (i === -1) return;
    entries.splice(i, 1);
    total -= e.bytes;
    totalSpans -= e.spans;
  }

  /** Evict oldest entries (never the one being sent) until `need` more bytes fit. */
  async function makeRoom(need: number): Promise<boolean> {
    while (total + need > opts.maxBytes) {
      const victim = entries.find((e) => e !== busy);
      if (!victim) return false;
      drop(victim);
      await unlink(victim.file).catch(() => {});
      spool.onEvict?.(victim);
    }
    return true;
  }

  async function write(body: Uint8Array, meta: { seq: number; spans: number; kind: BodyKind }): Promise<AppendResult> {
    if (body.byteLength > opts.maxBytes) return { ok: false, reason: 'spool_full' };
    if (!(await makeRoom(body.byteLength))) return { ok: false, reason: 'spool_full' };
    const name = `${String(meta.seq).padStart(15, '0')}-${meta.spans}.${meta.kind}`;
    const tmp = join(opts.dir, `.tmp-${name}`);
    const file = join(opts.dir, name);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(body);
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      return { ok: false, reason: 'spool_write_error', error: (err as Error).message };
    }
    const e: SpoolEntry = { seq: meta.seq, spans: meta.spans, bytes: body.byteLength, kind: meta.kind, file };
    insertSorted(e);
    total += e.bytes;
    totalSpans += e.spans;
    return { ok: true };
  }

  const spool: Spool = {
    onEvict: undefined,
    dir: opts.dir,
    count: () => entries.length,
    bytes: () => total,
    spans: () => totalSpans,
    maxSeqAtOpen: maxSeq,
    append(body, meta) {
      // Appends run one at a time: eviction and accounting never interleave.
      const p = chain.then(() => write(body, meta));
      chain = p.catch(() => {});
      return p;
    },
    oldest: () => entries[0],
    async read(e) {
      return new Uint8Array(await readFile(e.file));
    },
    async remove(e) {
      drop(e);
      if (busy === e) busy = undefined;
      await unlink(e.file).catch(() => {});
    },
    setBusy(e) {
      busy = e;
    },
    async idle() {
      await chain;
    },
  };
  return spool;
}
