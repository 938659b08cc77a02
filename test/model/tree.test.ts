// The process tree is rebuilt from fork/exec/exit records that arrive in whatever order the
// kernel's per-CPU buffers hand them over: children that outlive their parent, threads,
// execs from threads, reused pids and records about tasks gostall never saw start.
import { describe, expect, it } from 'vitest';
import type { ProbeEvent, SlowSyscallEvent } from '../../src/events/types.js';
import { argvOf, decodeWaitStatus, displayName, executableName, type ProcessNode } from '../../src/model/process.js';
import { MAX_EVIDENCE_PER_PROCESS, createProcessTree, walk, type ProcessTree } from '../../src/model/tree.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { ERRNO } from '../../src/vocabulary/errno.js';

const fork = (ts: number, parentPid: number, childTid: number, parentTid = parentPid): ProbeEvent =>
  ({ kind: 'fork', ts, parentPid, parentTid, childTid });
const exec = (ts: number, pid: number, filename: string, oldPid = pid): ProbeEvent =>
  ({ kind: 'exec', ts, pid, oldPid, ppid: 1, uid: 1000, argvLen: 0, comm: filename.split('/').pop()!.slice(0, 15), filename, filenameTruncated: false });
const argv = (pid: number, offset: number, text: string): ProbeEvent => ({ kind: 'argv', pid, offset, bytes: Buffer.from(text, 'latin1') });
/** An exec record and its one argv chunk, as the probe prints them. */
const execArgs = (ts: number, pid: number, filename: string, args: string[]): ProbeEvent[] => {
  const text = `${args.join('\0')}\0`;
  return [{ ...exec(ts, pid, filename), argvLen: text.length } as ProbeEvent, argv(pid, 0, text)];
};
const exit = (ts: number, pid: number, status = 0, tid = pid): ProbeEvent => ({ kind: 'exit', ts, pid, tid, status });
const sched = (ts: number, pid: number, tid: number, onCpuNs = 10): ProbeEvent =>
  ({ kind: 'sched', ts, pid, tid, onCpuNs, runqNs: 1, offSNs: 2, offDNs: 3, voluntarySwitches: 1, involuntarySwitches: 0, maxOffDNs: 3 });
const slow = (ts: number, pid: number, latencyNs: number, over: Partial<SlowSyscallEvent> = {}): SlowSyscallEvent =>
  ({ kind: 'syscall', ts, pid, tid: pid, sc: SC.newfstatat, latencyNs, runqNs: 0, ret: 0, fd: -1, path: '/x', pathTruncated: false, ...over });

/** A tree with root pid 100 and a completion log. */
function setup(): { tree: ProcessTree; root: ProcessNode; completed: ProcessNode[] } {
  const tree = createProcessTree();
  const completed: ProcessNode[] = [];
  tree.onTreeComplete = (r) => completed.push(r);
  const root = tree.addRoot(100, 0);
  return { tree, root, completed };
}

const feed = (tree: ProcessTree, events: ProbeEvent[]) => events.forEach((e) => tree.add(e));
const pids = (root: ProcessNode) => [...walk(root)].map((p) => p.pid);

describe('fork, exec and exit in order', () => {
  it('builds parent → child with the exec name, argv, times and exit status', () => {
    const { tree, root, completed } = setup();
    feed(tree, [
      ...execArgs(1, 100, '/usr/bin/go', ['go', 'build', './...']),
      fork(10, 100, 101), ...execArgs(11, 101, '/usr/lib/go/pkg/tool/linux_amd64/compile', ['compile', '-p', 'main']),
      exit(50, 101, 0),
    ]);
    expect(completed).toEqual([]);
    feed(tree, [exit(60, 100, 2 << 8)]);
    expect(completed).toEqual([root]);

    const [child] = root.children;
    expect(child).toMatchObject({ pid: 101, parent: root, startNs: 10, endNs: 50 });
    expect(displayName(root)).toBe('go build');
    expect(displayName(child!)).toBe('compile main');
    expect(argvOf(child!).argv).toEqual(['compile', '-p', 'main']);
    expect(decodeWaitStatus(root.status!)).toEqual({ code: 2, signal: undefined });
  });

  it('names go by its subcommand, skipping flags and the value of -C', () => {
    const { tree, root } = setup();
    feed(tree, execArgs(1, 100, '/usr/bin/go', ['go', '-C', 'sub', '-x', 'list', '-json']));
    expect(displayName(root)).toBe('go list');
  });
});

describe('a child that outlives its parent (sh -c "cmd &")', () => {
  it('stays in the tree under the process that forked it, and the tree waits for it', () => {
    const { tree, root, completed } = setup();
    // The parent exits before the child's first record arrives: the order bpftrace printed for
    // `sh -c 'sleep 2 & echo started'` on this machine.
    feed(tree, [exec(1, 100, '/usr/bin/sh'), fork(5, 100, 101), exit(6, 100, 0), exec(9, 101, '/usr/bin/sleep')]);
    expect(pids(root)).toEqual([100, 101]);
    expect(root.children[0]!.parent).toBe(root);
    expect(completed).toEqual([]);
    feed(tree, [exit(2000, 101, 0)]);
    expect(completed).toEqual([root]);
  });

  it('keeps a grandchild whose parent exited first', () => {
    const { tree, root } = setup();
    feed(tree, [fork(5, 100, 101), exec(6, 101, '/usr/bin/sh'), fork(7, 101, 102), exit(8, 101), exit(9, 100), exec(10, 102, '/usr/bin/sleep')]);
    expect(pids(root)).toEqual([100, 101, 102]);
  });
});

describe('threads', () => {
  it('are not processes: their records add to the process and their exit resolves them', () => {
    const { tree, root, completed } = setup();
    feed(tree, [exec(1, 100, '/usr/bin/go'), fork(2, 100, 150), fork(3, 100, 151, 150)]);
    feed(tree, [sched(40, 100, 150), sched(41, 100, 151)]);
    feed(tree, [sched(42, 100, 100), exit(43, 100, 0)]);
    expect(pids(root)).toEqual([100]);
    expect(root.threads).toBe(3);
    expect(root.sched.onCpuNs).toBe(30);
    expect(completed).toEqual([root]);
  });

  it('a thread record printed on another CPU after the exit record still counts, and the tree waits for it', () => {
    const { tree, root, completed } = setup();
    feed(tree, [fork(2, 100, 150), exit(43, 100, 0)]);
    expect(completed).toEqual([]);
    feed(tree, [sched(40, 100, 150, 77)]);
    expect(root.sched.onCpuNs).toBe(77);
    expect(completed).toEqual([root]);
  });

  it('a thread that execs takes over the leader: its own id is gone, and the tree still completes', () => {
    const { tree, root, completed } = setup();
    feed(tree, [exec(1, 100, '/usr/bin/go'), fork(2, 100, 150), sched(3, 100, 100), exec(4, 100, '/usr/local/go/bin/go', 150)]);
    expect(executableName(root)).toBe('go');
    expect(root.exec!.filename).toBe('/usr/local/go/bin/go');
    feed(tree, [exit(9, 100, 0)]);
    expect(completed).toEqual([root]);
  });
});

describe('pids are reused', () => {
  it('a pid that exited and forks anew is a new process', () => {
    const { tree, root } = setup();
    feed(tree, [fork(1, 100, 101), exec(2, 101, '/bin/a'), exit(3, 101, 0), fork(4, 100, 101), exec(5, 101, '/bin/b'), exit(6, 101, 1 << 8)]);
    const kids = root.children.map((c) => [executableName(c), c.startNs, c.endNs, decodeWaitStatus(c.status!).code]);
    expect(kids).toEqual([['a', 1, 3, 0], ['b', 4, 6, 1]]);
  });

  it('a pid handed out again while we still think it lives lost its exit record: the old process ends there', () => {
    const { tree, root, completed } = setup();
    feed(tree, [fork(1, 100, 101), exec(2, 101, '/bin/a'), fork(10, 100, 101), exec(11, 101, '/bin/b'), exit(12, 101), exit(13, 100)]);
    const [a, b] = root.children;
    expect(a).toMatchObject({ endNs: 10, status: undefined });
    expect(b).toMatchObject({ endNs: 12 });
    expect(completed).toEqual([root]);
  });

  it('a late record for an exited pid goes to the process that had it, not to a newcomer', () => {
    const { tree, root } = setup();
    feed(tree, [fork(1, 100, 101), exec(2, 101, '/bin/a'), exit(3, 101, 0), sched(2, 101, 101, 55)]);
    expect(root.children[0]!.sched.onCpuNs).toBe(55);
  });
});

describe('forks that never exec', () => {
  it('run their parent program, and are named after it', () => {
    const { tree, root } = setup();
    feed(tree, [...execArgs(1, 100, '/usr/bin/sh', ['sh', '-c', '(exit 3)']), fork(2, 100, 101), exit(3, 101, 3 << 8)]);
    const [sub] = root.children;
    expect(displayName(sub!)).toBe('sh');
    expect(argvOf(sub!).argv).toEqual(['sh', '-c', '(exit 3)']);
  });
});

describe('records read out of order (per-CPU buffers)', () => {
  it('a child whose exec, sums and exit are read before its fork record still lands in the tree', () => {
    const { tree, root, completed } = setup();
    feed(tree, [exec(1, 100, '/usr/bin/go')]);
    feed(tree, [...execArgs(12, 101, '/usr/bin/compile', ['compile', '-p', 'main']), sched(40, 101, 101), exit(41, 101, 0)]);
    expect(tree.stats.orphanRecords).toBe(4);
    feed(tree, [fork(10, 100, 101), exit(50, 100, 0)]);
    const [child] = root.children;
    expect(child).toMatchObject({ pid: 101, startNs: 10, endNs: 41, status: 0, threads: 1 });
    expect(argvOf(child!).argv).toEqual(['compile', '-p', 'main']);
    expect(tree.stats.orphanRecords).toBe(0);
    expect(completed).toEqual([root]);
  });

  it('a grandchild forked before its parent’s fork record arrives', () => {
    const { tree, root } = setup();
    feed(tree, [fork(20, 101, 102), exec(21, 102, '/bin/b'), fork(10, 100, 101), exec(11, 101, '/bin/a')]);
    expect(pids(root)).toEqual([100, 101, 102]);
    expect(executableName(root.children[0]!.children[0]!)).toBe('b');
  });

  it('a thread whose exit is read before its creation is not waited for', () => {
    const { tree, root, completed } = setup();
    feed(tree, [sched(40, 100, 150), fork(2, 100, 150), exit(43, 100, 0)]);
    expect(pids(root)).toEqual([100]);
    expect(completed).toEqual([root]);
  });

  it('records older than the fork of a reused pid belonged to another process and stay orphans', () => {
    const { tree, root } = setup();
    feed(tree, [sched(5, 101, 101), fork(10, 100, 101), exit(20, 101)]);
    expect(root.children[0]!.threads).toBe(0);
    expect(tree.stats.orphanRecords).toBe(1);
  });
});

describe('records gostall cannot place', () => {
  it('are counted as orphans and change nothing', () => {
    const { tree, root } = setup();
    feed(tree, [exec(1, 999, '/bin/x'), sched(2, 999, 999), exit(3, 999), fork(4, 998, 997), slow(5, 999, 1e9)]);
    expect(tree.stats.orphanRecords).toBe(5);
    expect(pids(root)).toEqual([100]);
  });

  it('lost events are summed', () => {
    const { tree } = setup();
    feed(tree, [{ kind: 'lost', count: 3 }, { kind: 'lost', count: 4 }]);
    expect(tree.stats.lostEvents).toBe(7);
  });
});

describe('evidence', () => {
  it('a PATH search (failed execve before a successful one) is not a failure', () => {
    const { tree, root } = setup();
    feed(tree, [
      slow(1, 100, 5, { sc: SC.execve, ret: -ERRNO.ENOENT, path: '/usr/local/bin/go' }),
      slow(2, 100, 5, { sc: SC.openat, ret: -ERRNO.EACCES, path: '/root/secret' }),
      exec(3, 100, '/usr/bin/go'),
    ]);
    expect(root.failedSyscalls.map((s) => s.path)).toEqual(['/root/secret']);
    expect(Object.fromEntries(root.errnoCounts)).toEqual({ EACCES: 1 });
  });

  it('an exec and its PATH search read after a later exec of the same process (another CPU\'s buffer) change nothing', () => {
    // sh -c 'exec go build': go's exec came first from one CPU, then sh's exec and sh's search for go from another
    const { tree, root } = setup();
    feed(tree, [
      exec(5, 100, '/usr/bin/go'),
      exec(2, 100, '/usr/bin/sh'),
      slow(3, 100, 5, { sc: SC.execve, ret: -ERRNO.ENOENT, path: '/usr/local/bin/go' }),
    ]);
    expect(executableName(root)).toBe('go');
    expect(root.failedSyscalls).toEqual([]);
    expect(Object.fromEntries(root.errnoCounts)).toEqual({});
  });

  it(`keeps the ${MAX_EVIDENCE_PER_PROCESS} slowest calls of a process and counts the rest as dropped`, () => {
    const { tree, root } = setup();
    for (let i = 1; i <= MAX_EVIDENCE_PER_PROCESS + 10; i++) tree.add(slow(i, 100, i * 1000));
    expect(root.slowSyscalls).toHaveLength(MAX_EVIDENCE_PER_PROCESS);
    expect(Math.min(...root.slowSyscalls.map((s) => s.latencyNs))).toBe(11_000);
    expect(root.evidenceDropped).toBe(10);
  });

  it('argv chunks join in order; a chunk out of order is ignored; a cut argv is flagged', () => {
    const { tree, root } = setup();
    feed(tree, [{ ...exec(1, 100, '/usr/bin/go'), argvLen: 600 } as ProbeEvent, argv(100, 0, 'go\0bu'), argv(100, 999, 'zzz'), argv(100, 5, 'ild\0')]);
    expect(argvOf(root)).toEqual({ argv: ['go', 'build'], truncated: true });
  });
});

describe('a fork record read after the tree completed', () => {
  // A child forked just before its parent's exit, the fork printed on one CPU and the exit on
  // another: bpftrace can hand over the exit first (CI: a Go tool's orphan was published as
  // part of a finished tree, still running).
  it('reopens the tree until the child exits, then completes it again', () => {
    const tree = createProcessTree({ keepExitedUntilRelease: true });
    const completed: ProcessNode[] = [];
    tree.onTreeComplete = (r) => completed.push(r);
    const root = tree.addRoot(100, 0);
    feed(tree, [exec(1, 100, '/usr/bin/tool'), exit(5, 100)]);
    expect(completed).toEqual([root]);
    feed(tree, [fork(4, 100, 101), exec(4, 101, '/usr/bin/tool')]);
    expect(tree.isComplete(root)).toBe(false);
    expect(pids(root)).toEqual([100, 101]);
    feed(tree, [exit(9, 101, 3 << 8)]);
    expect(tree.isComplete(root)).toBe(true);
    expect(completed).toEqual([root, root]);
  });

  it('leaves a released tree alone', () => {
    const tree = createProcessTree({ keepExitedUntilRelease: true });
    const root = tree.addRoot(100, 0);
    feed(tree, [exec(1, 100, '/usr/bin/tool'), exit(5, 100)]);
    tree.release(root);
    feed(tree, [fork(4, 100, 101)]);
    expect(tree.isComplete(root)).toBe(true);
    expect(tree.roots()).toEqual([]);
  });
});

describe('detaching an orphan', () => {
  it('makes a running child of an exited root a tree of its own, with the forks it has not shown yet, and completes both', () => {
    const { tree, root, completed } = setup();
    feed(tree, [fork(1, 100, 101), exec(2, 101, '/usr/bin/go'), fork(3, 101, 102), exit(4, 100)]);
    expect(completed).toEqual([]);
    const orphan = tree.get(101)!;
    tree.detach(orphan);
    // the root's tree is complete at once; the orphan's is not: 101 runs and 102 is pending
    expect(completed).toEqual([root]);
    expect(orphan.parent).toBeUndefined();
    expect(root.children).toEqual([]);
    expect(tree.roots()).toContain(orphan);
    feed(tree, [exec(5, 102, '/usr/lib/go/pkg/tool/linux_amd64/compile'), exit(6, 102)]);
    expect(pids(orphan)).toEqual([101, 102]);
    expect(completed).toEqual([root]);
    feed(tree, [exit(7, 101)]);
    expect(completed).toEqual([root, orphan]);
  });
});
