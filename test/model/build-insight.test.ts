// The build section of the summary and report: the slowest packages, how many compiles ran
// at once, how long VCS stamping took — from the process tree of a go build.
import { describe, expect, it } from 'vitest';
import { buildActionsOf, maxOverlap, summarizeBuild } from '../../src/model/build-insight.js';
import { createProcess, type ProcessNode } from '../../src/model/process.js';
import { renderSummary } from '../../src/export/summary.js';

const MS = 1e6;
const TOOL = '/usr/lib/go-1.19/pkg/tool/linux_amd64';

function child(parent: ProcessNode, pid: number, filename: string, args: string[], startMs: number, endMs: number): ProcessNode {
  const p = createProcess(pid, parent, startMs * MS);
  const bytes = Buffer.from(`${args.join('\0')}\0`);
  p.exec = { ts: startMs * MS, filename, filenameTruncated: false, comm: 'x', argvLen: bytes.length, argvParts: [bytes], argvBytes: bytes.length };
  p.endNs = endMs * MS;
  p.status = 0;
  return p;
}

/** go build: three compiles (two overlapping), a link, git status and git show. */
function goBuild(): ProcessNode {
  const go = createProcess(100, undefined, 0);
  const bytes = Buffer.from('go\0build\0./cmd/app\0');
  go.exec = { ts: 0, filename: '/usr/bin/go', filenameTruncated: false, comm: 'go', argvLen: bytes.length, argvParts: [bytes], argvBytes: bytes.length };
  go.endNs = 1000 * MS;
  go.status = 0;
  child(go, 101, `${TOOL}/compile`, ['compile', '-o', '/w/b002/_pkg_.a', '-p', 'example.org/app/a', '/src/app/a/a.go'], 10, 400);
  child(go, 102, `${TOOL}/compile`, ['compile', '-o', '/w/b003/_pkg_.a', '-p', 'example.org/app/b', '/src/app/b/b.go'], 20, 150);
  child(go, 103, `${TOOL}/compile`, ['compile', '-o', '/w/b001/_pkg_.a', '-p', 'main', '/src/app/cmd/app/main.go'], 400, 500);
  child(go, 104, '/usr/bin/git', ['git', 'status', '--porcelain'], 500, 520);
  child(go, 105, '/usr/bin/git', ['git', '-c', 'log.showsignature=false', 'show', '-s', '--format=%H:%ct'], 520, 530);
  child(go, 106, `${TOOL}/link`, ['link', '-o', '/w/b001/exe/a.out', '/w/b001/_pkg_.a'], 530, 900);
  child(go, 107, `${TOOL}/compile`, ['compile', '-V=full'], 1, 2);
  return go;
}

describe('build insight', () => {
  it('counts actions, sums compile time, finds the slowest packages and the peak of parallel compiles', () => {
    const b = summarizeBuild(buildActionsOf(goBuild(), 1000 * MS), 3)!;
    expect(b).toMatchObject({ actions: 4, compiles: 3, compileNs: 620 * MS, maxParallelCompiles: 2, stampingNs: 30 * MS, stampingCommands: 2 });
    expect(b.slowest.map((a) => `${a.kind} ${a.label}`)).toEqual(['compile example.org/app/a', 'link example.org/app/cmd/app', 'compile example.org/app/b']);
  });

  it('intervals that only touch do not overlap', () => {
    expect(maxOverlap([{ startNs: 0, endNs: 10 }, { startNs: 10, endNs: 20 }])).toBe(1);
    expect(maxOverlap([])).toBe(0);
  });

  it('a tree without build actions has no build section', () => {
    expect(summarizeBuild([])).toBeUndefined();
  });

  it('the terminal summary prints the build section', () => {
    const text = renderSummary({
      root: goBuild(), traceId: 'a'.repeat(32), endNs: 1000 * MS, causes: [], lostEvents: 0, malformedRecords: 0, spanCount: 1, destinations: [], exportProblems: [],
    });
    expect(text).toContain('  Go build actions: 4 actions, 3 compiles (620 ms summed, at most 2 at once) · VCS stamping 30 ms (2 commands)\n');
    expect(text).toMatch(/ slowest packages:\n +390 ms {2}compile example\.org\/app\/a\n +370 ms {2}link example\.org\/app\/cmd\/app\n/);
  });
});
