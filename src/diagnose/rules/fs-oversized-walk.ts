/**
 * fs.oversized_walk: `go list ./...`, `go build ./...` or gopls walked a huge directory tree
 * that holds (almost) no Go code: node_modules, bazel-* output, a home directory opened as
 * the workspace.
 */
import type { ProcessNode } from '../../model/process.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { wallNs, perProcess } from '../evidence.js';
import { formatCount, formatDuration, listSome } from '../format.js';

export const ID = 'fs.oversized_walk';

export const THRESHOLDS = {
  /**
   * getdents64 calls of one process. Go 1.19's module walk reads each directory about four
   * times (two walks, each a read plus the empty read at the end): measured here, a 10,101
   * directory node_modules tree under a 31-package module made `go list ./...` issue 41,284
   * getdents64 (and 242,890 newfstatat, 2.8 s; 0.13 s without the tree), while the module
   * alone needed ~600. 20,000 is about 5,000 directories.
   */
  minDirectoryReads: 20_000,
  /**
   * Go code is read, other files are not: in a tree of Go packages every directory has at
   * least one .go file that go list reads, so reads ≥ directory reads / 4. The node_modules
   * walk above read 3,207 times (the module and the standard library). Fewer reads than a
   * quarter of the directory reads means most walked directories hold no Go code.
   */
  maxReadsPerDirectoryRead: 0.25,
  /** A walk that costs less than a second is not worth restructuring a repository for. */
  minWallNs: 1e9,
} as const;

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  const wall = wallNs(p, ctx);
  const dirReads = p.sums.readdir.count;
  const reads = p.sums.read.count;
  if (dirReads < THRESHOLDS.minDirectoryReads || wall < THRESHOLDS.minWallNs) return undefined;
  if (reads >= dirReads * THRESHOLDS.maxReadsPerDirectoryRead) return undefined;
  const heavy = ctx.workspace && ctx.heavyDirectories ? ctx.heavyDirectories(ctx.workspace).filter((h) => h.directories >= 100) : [];
  const named = heavy.length > 0
    ? `; in ${ctx.workspace}: ${listSome(heavy.map((h) => `${h.path.slice(ctx.workspace!.length + 1)} holds ${h.capped ? 'more than ' : ''}${formatCount(h.directories)} directories`), 3)}`
    : '';
  const evidence = `${formatCount(dirReads)} directory listings (getdents64) and ${formatCount(p.sums.stat.count)} stat calls ` +
    `in ${formatDuration(wall)}, but only ${formatCount(reads)} file reads: most directories walked hold no Go code${named}`;
  const firstHeavy = heavy[0] ? heavy[0].path : 'the large non-Go tree';
  const hint = `keep non-Go trees out of the walk: add an empty go.mod to ${firstHeavy} so ./... stops there ` +
    '(or use the go.mod ignore directive, Go ≥ 1.25), set gopls "directoryFilters": ["-**/node_modules"], ' +
    'and open the module root rather than a parent directory';
  const busyNs = p.sched.onCpuNs + p.sums.stat.blockedNs + p.sums.readdir.blockedNs + p.sums.open.blockedNs;
  const attributes: Record<string, string | number> = { 'gostall.cause.directory_reads': dirReads };
  if (heavy[0]) attributes['gostall.cause.path'] = heavy[0].path;
  return { id: ID, process: p, evidence, hint, weightNs: Math.min(wall, busyNs), attributes };
}

export const rule: Rule = perProcess(judge);
