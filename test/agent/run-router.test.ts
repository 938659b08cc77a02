/**
 * Which probe records go to a `gostall run` that asked the agent, and which to the agent's
 * own pipeline (src/agent/run-router.ts): a shim's tree goes only to the run that claims it.
 */
import { describe, expect, it } from 'vitest';
import { EARLY_HOLD_MILLIS, EARLY_HOLD_NS, LATE_THREAD_EXIT_MILLIS, createRunRouter, type FollowClient } from '../../src/agent/run-router.js';

const pad = (comm: string) => comm + '\\x00'.repeat(16 - comm.length);
const G = (pid: number) => `G\t100\t${pid}\t1`;
const E = (pid: number, comm: string, ppid = 1) => `E\t101\t${pid}\t${pid}\t${ppid}\t0\t1\t${pad(comm)}\t/usr/bin/${comm}`;
const F = (pid: number, child: number) => `F\t102\t${pid}\t${pid}\t${child}`;
const X = (pid: number) => `X\t103\t${pid}\t${pid}\t0`;
const S = (pid: number) => `S\t104\t${pid}\t${pid}\t4\t60000000\t0\t0\t-1\t/x`;

/** A router whose shim at pid nobody claimed: G, E, then the claim window passes (dropped). */
function droppedShim(pid: number) {
  let now = 0;
  const r = createRunRouter(() => now);
  r.route(G(pid));
  r.route(E(pid, 'gostall-shim'));
  now = 10_000;
  r.tick(now);
  return r;
}

function client(): FollowClient & { got: string[]; failed: string[] } {
  const c = { got: [] as string[], failed: [] as string[], send(lines: string[]) { c.got.push(...lines); }, fail(m: string) { c.failed.push(m); } };
  return c;
}

describe('run router', () => {
  it('passes the agent\'s own roots through, G before E', () => {
    const r = createRunRouter();
    expect(r.route(G(10))).toEqual([]);
    expect(r.route(E(10, 'go'))).toEqual([G(10), E(10, 'go')]);
    expect(r.route(S(10))).toEqual([S(10)]);
  });

  it('pairs a G with its E when other CPUs\' records come between them (bpftrace reads each CPU\'s buffer in turn)', async () => {
    const r = createRunRouter();
    // a shim: its exec is still recognised, and nothing of it reaches the agent
    expect(r.route(G(30))).toEqual([]);
    expect(r.route(S(31))).toEqual([S(31)]);
    expect(r.route(E(32, 'bash'))).toEqual([E(32, 'bash')]);
    expect(r.route(E(30, 'gostall-shim'))).toEqual([]);
    expect(await r.waitForShim(30, 10)).toBe(true);
    // an agent root: its G still comes before its E
    expect(r.route(G(33))).toEqual([]);
    expect(r.route(S(31))).toEqual([S(31)]);
    expect(r.route(E(33, 'go'))).toEqual([G(33), E(33, 'go')]);
    // a G whose E never comes (lost) goes to the agent on its own after a while, in order
    expect(r.route(G(34))).toEqual([]);
    const out: string[] = [];
    for (let i = 0; i < 1500; i++) out.push(...r.route(S(31)));
    expect(out.filter((l) => l === G(34))).toHaveLength(1);
    expect(out.indexOf(G(34))).toBeGreaterThan(0);
  });

  it('hands a claimed shim\'s tree (children included) to its run and nothing of it to the agent', async () => {
    let now = 0;
    const r = createRunRouter(() => now);
    expect(r.route(G(20))).toEqual([]);
    expect(r.route(E(20, 'gostall-shim'))).toEqual([]);
    expect(await r.waitForShim(20, 10)).toBe(true);
    // while it waits, the shim's own records are nobody's (run's own tracer would not see them either)
    expect(r.route(S(20))).toEqual([]);
    const c = client();
    expect(r.claim(20, c)).toBe(true);
    expect(r.claim(20, client())).toBe(false);
    for (const l of [E(20, 'bash'), F(20, 21), E(21, 'ls'), S(21), X(21), X(20)]) expect(r.route(l)).toEqual([]);
    expect(c.got).toEqual([E(20, 'bash'), F(20, 21), E(21, 'ls'), S(21), X(21), X(20)]);
    // for a while after the exits, what they printed on other CPUs is still the run's; then the pids are the agent's again
    expect(r.route(S(21))).toEqual([]);
    now += LATE_THREAD_EXIT_MILLIS + 1;
    r.tick(now);
    expect(r.route(S(21))).toEqual([S(21)]);
  });

  it('takes a process that named itself gostall-shim (bin/gostall\'s fork, N) as a shim, and its tree goes to the run that claims it', async () => {
    const N = (pid: number) => `N\t99\t${pid}\t1`;
    const r = createRunRouter();
    expect(r.route(N(26))).toEqual([]);
    expect(await r.waitForShim(26, 10)).toBe(true);
    expect(r.route(S(26))).toEqual([]);
    const c = client();
    expect(r.claim(26, c)).toBe(true);
    // CMD's exec is the first record the run gets; a watched executable's G stays the run's
    for (const l of [G(26), E(26, 'go'), F(26, 27), S(27), X(27), X(26)]) expect(r.route(l)).toEqual([]);
    expect(c.got).toEqual([E(26, 'go'), F(26, 27), S(27), X(27), X(26)]);
    // an id of a gone run, named again: a new shim, not the old tree's
    const c2 = client();
    expect(r.route(N(27))).toEqual([]);
    expect(r.claim(27, c2)).toBe(true);
    r.route(E(27, 'true'));
    expect(c2.got).toEqual([E(27, 'true')]);
    expect(c.got).toHaveLength(5);
  });

  it('keeps a followed command that execs a watched executable (run -- go build) the run\'s', () => {
    const r = createRunRouter();
    r.route(G(25));
    r.route(E(25, 'gostall-shim'));
    const c = client();
    r.claim(25, c);
    // the probe roots the exec of go again (its parent, gostall, is not traced)
    expect(r.route(G(25))).toEqual([]);
    expect(r.route(E(25, 'go'))).toEqual([]);
    expect(r.route(S(25))).toEqual([]);
    expect(c.got).toEqual([E(25, 'go'), S(25)]);
  });

  it('drops a shim nobody claims in time (a run tracing on its own): never exported by the agent', () => {
    const r = droppedShim(30);
    expect(r.claim(30, client())).toBe(false);
    expect(r.route(E(30, 'make'))).toEqual([]);
    expect(r.stats.unclaimed).toBe(1);
  });

  it('a run that goes away leaves the rest of its tree to nobody', () => {
    const r = createRunRouter();
    r.route(G(40));
    r.route(E(40, 'gostall-shim'));
    const c = client();
    r.claim(40, c);
    r.route(E(40, 'sleep'));
    r.release(c);
    expect(r.route(S(40))).toEqual([]);
    expect(c.got).toEqual([E(40, 'sleep')]);
  });

  it('tells every run when the tracer restarts, and gives lost-event notices to all', () => {
    const r = createRunRouter();
    r.route(G(50));
    r.route(E(50, 'gostall-shim'));
    const c = client();
    r.claim(50, c);
    expect(r.route('Lost 3 events')).toEqual(['Lost 3 events']);
    expect(c.got).toEqual(['Lost 3 events']);
    expect(r.route('R\t1\t0\t1\t1')).toEqual(['R\t1\t0\t1\t1']);
    expect(c.failed[0]).toMatch(/tracer restarted/);
  });

  it('lets go of every id of a finished run: ids are reused, and a held one would hide the next process', async () => {
    let now = 0;
    const r = createRunRouter(() => now);
    const Q = (pid: number, tid: number) => `Q\t105\t${pid}\t${tid}\t1\t2\t0\t0\t1\t1\t0`;
    const Xby = (pid: number, tid: number) => `X\t106\t${pid}\t${tid}\t0`;
    r.route(G(70));
    r.route(E(70, 'gostall-shim'));
    const c = client();
    r.claim(70, c);
    // go build (70) starts threads 71 and 72 and a compile (73); the process's X comes from thread 72, not the leader
    for (const l of [E(70, 'go'), F(70, 71), F(70, 72), F(70, 73), E(73, 'compile'), Q(73, 73), X(73), Q(70, 71), Q(70, 70), Xby(70, 72)]) r.route(l);
    // thread 72 exited with the group and printed no Q of its own; the two processes are kept
    // a while for their threads' exit records, read after theirs
    expect(r.heldIds()).toBe(3);
    r.release(c);
    now += 31_000;
    r.tick(now);
    expect(r.heldIds()).toBe(0);
    // the ids come round again: a new go build of the agent's at 72 is a root of the agent's, and a new run's shim at 73 is seen
    expect(r.route(G(72))).toEqual([]);
    expect(r.route(E(72, 'go'))).toEqual([G(72), E(72, 'go')]);
    r.route(G(73));
    r.route(E(73, 'gostall-shim'));
    expect(await r.waitForShim(73, 10)).toBe(true);
    expect(r.claim(73, client())).toBe(true);
  });

  it('a dropped run\'s process that execs a watched executable is the agent\'s root at once', () => {
    const r = droppedShim(80);
    expect(r.route(G(80))).toEqual([]);
    expect(r.route(E(80, 'go'))).toEqual([G(80), E(80, 'go')]);
  });

  it('a shim never seen is not waited for forever', async () => {
    expect(await createRunRouter().waitForShim(60, 20)).toBe(false);
  });

  it('gives a run its threads\' exit records that are read after their process\'s exit record, for a while', async () => {
    // the link step of a warm go build: the exit record (X) of one CPU came before a thread's
    // exit (Q) from another; without the Q the run's tree never completed
    let now = 0;
    const r = createRunRouter(() => now);
    const c = client();
    r.route(G(70));
    r.route(E(70, 'gostall-shim'));
    expect(await r.waitForShim(70, 10)).toBe(true);
    expect(r.claim(70, c)).toBe(true);
    r.route(E(70, 'go'));
    const Q = (pid: number, tid: number) => `Q\t105\t${pid}\t${tid}\t1\t1\t1\t0\t0\t0\t0`;
    for (const l of [F(70, 71), `F\t102\t71\t71\t72`, X(71)]) expect(r.route(l)).toEqual([]);
    expect(r.route(Q(71, 72))).toEqual([]);
    expect(c.got).toContain(Q(71, 72));
    // later, the id is another process's (not the run's) once the window has passed
    r.route(`F\t102\t70\t70\t73`);
    r.route(`F\t102\t73\t73\t74`);
    r.route(X(73));
    now = 10_000;
    r.tick(now);
    // (no fork record names it: it goes to the agent once it has waited for one)
    expect(r.route(Q(73, 74))).toEqual([]);
    now += EARLY_HOLD_MILLIS + 1;
    expect(r.tick(now)).toEqual([Q(73, 74)]);
    expect(c.got).not.toContain(Q(73, 74));
    // and a reused id (a new process's fork, by a root of the agent's) is not mistaken for the gone one's thread
    r.route(`F\t102\t70\t70\t75`);
    r.route(X(75));
    r.route(G(1));
    r.route(E(1, 'go'));
    expect(r.route(`F\t102\t1\t1\t75`)).toEqual([`F\t102\t1\t1\t75`]);
    expect(r.route(Q(75, 76))).toEqual([Q(75, 76)]);
  });

  it('gives a run what its own tracer would see of a shim whose exec of CMD fails, and nothing else of the shim before its exec', async () => {
    const r = createRunRouter();
    const c = client();
    r.route(G(80));
    r.route(E(80, 'gostall-shim'));
    expect(await r.waitForShim(80, 10)).toBe(true);
    // before the run follows it, nothing of the shim (it is starting, then waiting on its gate)
    const early = `S\t104\t80\t80\t0\t60000000\t0\t5\t3\t`;
    expect(r.route(early)).toEqual([]);
    expect(r.claim(80, c)).toBe(true);
    // its slow read of the gate (the wait) is not the command's
    expect(r.route(`S\t105\t80\t80\t0\t70000000\t0\t40\t3\t`)).toEqual([]);
    const failedExec = `S\t106\t80\t80\t40\t43134\t0\t-2\t-1\t/nonexistent-cmd`;
    const said = `W\t107\t80\t80\t0\t20\t0\tgostall: cannot run\x0a`;
    const Q = `Q\t108\t80\t80\t1\t1\t1\t0\t3\t0\t0`;
    const X = `X\t109\t80\t80\t32512`;
    for (const l of [failedExec, said, Q, X]) expect(r.route(l)).toEqual([]);
    expect(c.got).toEqual([failedExec, said, Q, X]);
  });
});

describe('records read before their process\'s fork record (bpftrace reads each CPU\'s buffer in turn)', () => {
  /** a run following `bash` at pid 20 (the shim's exec of CMD), and a root of the agent's at 90 */
  function followingBash() {
    let now = 0;
    const r = createRunRouter(() => now);
    const c = client();
    r.route(G(20));
    r.route(E(20, 'gostall-shim'));
    r.claim(20, c);
    r.route(E(20, 'bash'));
    r.route(G(90));
    r.route(E(90, 'go'));
    return { r, c, tick: (ms: number) => r.tick(now += ms) };
  }

  it('gives a run its child\'s exec read before the fork record (sh -c under bash), not the agent', () => {
    // the CI failure: the agent got sh's exec, and the run showed a second bash where sh was
    const { r, c } = followingBash();
    expect(r.route(E(21, 'sh', 20))).toEqual([]);
    expect(r.route(S(21))).toEqual([]);
    expect(r.route(F(20, 21))).toEqual([]);
    expect(r.route(X(21))).toEqual([]);
    expect(c.got).toEqual([E(20, 'bash'), E(21, 'sh', 20), S(21), F(20, 21), X(21)]);
  });

  it('gives a run the children a process forked before its exit record that are read after it (bash waited for them on another CPU)', () => {
    // the stress run's finding: bash's X came first, and its children's forks and execs went to the agent
    const { r, c } = followingBash();
    const records = [E(26, 'sh', 20), X(20), F(20, 24), E(24, 'sh', 20), E(25, 'cat', 24), F(24, 25), X(25), X(24), F(20, 26), X(26)];
    for (const l of records) expect(r.route(l)).toEqual([]);
    expect(c.got).toEqual([E(20, 'bash'), ...records]);
    expect(r.stats.forkOverdue).toBe(0);
  });

  it('keeps a child\'s other records until its fork record says whose they are, in their order, and counts them', () => {
    const { r, c } = followingBash();
    // a subshell that does not exec, and its child (cat) whose exec names the waiting subshell
    for (const l of [S(22), F(22, 23), E(23, 'cat', 22), S(23)]) expect(r.route(l)).toEqual([]);
    expect(c.got).toEqual([E(20, 'bash')]);
    expect(r.route(F(20, 22))).toEqual([]);
    expect(c.got).toEqual([E(20, 'bash'), F(20, 22), S(22), F(22, 23), E(23, 'cat', 22), S(23)]);
    expect(r.stats.heldForFork).toBe(4);
    expect(r.stats.forkOverdue).toBe(0);
  });

  it('gives the agent its own processes\' records at once, and a child\'s early ones after its fork record, in order', () => {
    const { r, c } = followingBash();
    expect(r.route(S(90))).toEqual([S(90)]);
    expect(r.route(S(91))).toEqual([]);
    expect(r.route(F(90, 91))).toEqual([F(90, 91), S(91)]);
    expect(r.route(E(91, 'compile', 90))).toEqual([E(91, 'compile', 90)]);
    // a new root's exec (its G: its parent is not traced) is the agent's at once
    expect(r.route(G(95))).toEqual([]);
    expect(r.route(E(95, 'vet', 94))).toEqual([G(95), E(95, 'vet', 94)]);
    // an exec whose parent is not placed yet waits for its fork record too
    expect(r.route(E(97, 'asm', 96))).toEqual([]);
    expect(r.route(F(90, 96))).toEqual([F(90, 96)]);
    expect(r.route(F(96, 97))).toEqual([F(96, 97), E(97, 'asm', 96)]);
    expect(c.got).toEqual([E(20, 'bash')]);
  });

  it('gives the agent, counted, records whose fork record never comes: after a while, or past a bound, or when records were lost', () => {
    const { r, c, tick } = followingBash();
    const Sat = (pid: number, ts: number) => `S\t${ts}\t${pid}\t${pid}\t4\t60000000\t0\t0\t-1\t/x`;
    // a record printed 2 s after it (kernel time), whatever the agent's own pace
    expect(r.route(S(95))).toEqual([]);
    expect(r.route(Sat(90, 104 + EARLY_HOLD_NS))).toEqual([Sat(90, 104 + EARLY_HOLD_NS)]);
    expect(r.route(Sat(90, 105 + EARLY_HOLD_NS))).toEqual([S(95), Sat(90, 105 + EARLY_HOLD_NS)]);
    // a quiet machine: the agent's tick
    expect(r.route(S(96))).toEqual([]);
    expect(tick(EARLY_HOLD_MILLIS - 1)).toEqual([]);
    expect(tick(2)).toEqual([S(96)]);
    // the id is now the agent's: no more waiting
    expect(r.route(S(96))).toEqual([S(96)]);
    // a burst of other records (a whole CPU's buffer read first) does not give up on the fork record
    expect(r.route(S(97))).toEqual([]);
    for (let i = 0; i < 5000; i++) expect(r.route(S(90))).toEqual([S(90)]);
    expect(r.route(F(20, 97))).toEqual([]);
    expect(c.got.slice(-2)).toEqual([F(20, 97), S(97)]);
    // what waits is bounded: past 50,000 records the oldest process's go to the agent
    expect(r.route(S(98))).toEqual([]);
    const out: string[] = [];
    for (let i = 0; i < 50_000; i++) out.push(...r.route(S(99)));
    expect(out).toEqual([S(98)]);
    expect(r.route('Lost 2 events')).toEqual([...new Array<string>(50_000).fill(S(99)), 'Lost 2 events']);
    expect(r.stats.forkOverdue).toBe(50_003);
    expect(c.got).not.toContain(S(96));
  });

  it('gives the agent the processes it adopted at once, also after its tracer restarts', () => {
    const { r } = followingBash();
    r.adopted([60]);
    expect(r.route(S(60))).toEqual([S(60)]);
    r.route('R\t1\t0\t1\t1');
    r.route(G(20));
    r.route(E(20, 'gostall-shim'));
    expect(r.route(S(60))).toEqual([S(60)]);
    expect(r.route(S(90))).toEqual([]); // a root of before the restart: no longer traced as such
  });
});
