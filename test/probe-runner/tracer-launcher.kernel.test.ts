/**
 * shim/gostall-bpftrace: the process it starts sees only the short tracepoint list, nobody
 * else on the machine does (not even while it runs), and where no mount namespace can be
 * made the command still runs, with the full list. And the tracers gostall starts, run's and
 * the agent's, compile behind it unless told not to (the systemd unit's agent).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tracerLauncherPath } from '../../src/paths.js';
import { AVAILABLE_EVENTS_PATHS, readAvailableEvents } from '../../src/probe-runner/event-list.js';
import { findBpftrace } from '../../src/probe-runner/environment.js';
import { startTracer, type TracerParams } from '../../src/probe-runner/bpftrace.js';
import { hasOwnEventList, mountPointsOf } from '../support/tracer-mounts.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-launcher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const list = AVAILABLE_EVENTS_PATHS[0]!;
const short = join(dir, 'available_events');
writeFileSync(short, 'sched:sched_switch\nsyscalls:sys_exit_openat\n', { mode: 0o600 });

describe('the bpftrace launcher', () => {
  it('shows its command the short list in a namespace of its own, while the machine keeps the full one', async () => {
    const full = readAvailableEvents();
    expect(full?.split('\n').length, 'the kernel lists its tracepoints').toBeGreaterThan(100);
    // the command reads the list, then waits until the test has looked at the machine's
    const child = spawn('/bin/sh', [tracerLauncherPath(), short, '/bin/sh', '-c', `cat ${list}; echo ---; read -r _`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      for (let i = 0; i < 200 && !out.includes('---'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(out).toBe('sched:sched_switch\nsyscalls:sys_exit_openat\n---\n');
      // the same moment, outside: unchanged
      expect(readFileSync(list, 'latin1')).toBe(full);
      // and it is the same process all along (exec, no fork): its pid is the command's
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'latin1')).toContain('read -r _');
    } finally {
      const exited = once(child, 'exit');
      child.stdin!.end('\n');
      await exited;
    }
    expect(readFileSync(list, 'latin1')).toBe(full);
  });

  it('keeps no file system mounted that is unmounted outside (its mounts are slaves of the machine\'s)', async () => {
    // A mount under a shared one, as every mount of a systemd host is (an unmount travels to
    // the peers and slaves of the mount it is under); both made and removed by this test only.
    const parent = mkdtempSync(join(tmpdir(), 'gostall-slave-'));
    const point = join(parent, 'disk');
    const mounted: string[] = [];
    let child: ReturnType<typeof spawn> | undefined;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'gostall-slave-test', parent]);
      mounted.unshift(parent);
      execFileSync('mount', ['--make-shared', parent]);
      mkdirSync(point);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'gostall-slave-disk', point]);
      mounted.unshift(point);
      const c = spawn('/bin/sh', [tracerLauncherPath(), short, '/bin/sh', '-c', 'echo in; read -r _'], { stdio: ['pipe', 'pipe', 'inherit'] });
      child = c;
      const holds = (): boolean => mountPointsOf(c.pid!).includes(point);
      await once(c.stdout!, 'data');
      expect(hasOwnEventList(c.pid!), 'the command runs in a namespace of its own').toBe(true);
      expect(holds(), 'its copy of the mount').toBe(true);
      execFileSync('umount', [point]);
      mounted.shift();
      expect(holds(), 'the unmount reached its copy').toBe(false);
    } finally {
      if (child) {
        const exited = once(child, 'exit');
        child.stdin!.end('\n');
        await exited;
      }
      for (const m of mounted) execFileSync('umount', [m]);
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('runs the command with the full list where no mount namespace can be made', () => {
    // without CAP_SYS_ADMIN neither unshare nor mount is allowed
    const out = execFileSync('setpriv', ['--inh-caps', '-sys_admin', '--bounding-set', '-sys_admin', '--', '/bin/sh', tracerLauncherPath(), short, '/bin/sh', '-c', `wc -l < ${list}`], { encoding: 'utf8' });
    expect(Number(out.trim())).toBe(readAvailableEvents()!.split('\n').length - 1);
  });
});

/** What the tracer's bpftrace sees: whether its tracepoint list is a mount of its own, and how long that list is. */
async function tracerView(params: TracerParams, mountNamespace: boolean | undefined): Promise<{ ownNamespace: boolean; listLines: number }> {
  const tracer = startTracer({ bpftrace: findBpftrace()!, params, mountNamespace, onLine: () => {} });
  try {
    await tracer.ready;
    const ownNamespace = hasOwnEventList(tracer.pid);
    const listLines = readFileSync(`/proc/${tracer.pid}/root${list}`, 'latin1').split('\n').filter(Boolean).length;
    return { ownNamespace, listLines };
  } finally {
    tracer.abandon();
  }
}

describe('the tracers gostall starts', () => {
  const base = { syscallThresholdNs: 1_000_000, offcpuThresholdNs: 1_000_000 };
  const fullLines = (): number => readAvailableEvents()!.split('\n').filter(Boolean).length;

  it('compile run\'s program against the short list', async () => {
    const v = await tracerView({ ...base, rootPid: process.pid }, undefined);
    expect(v.ownNamespace).toBe(true);
    expect(v.listLines).toBeGreaterThan(5);
    expect(v.listLines).toBeLessThan(20);
  }, 60_000);

  it('compile the agent\'s program against the short list, unless told not to', async () => {
    const agent: TracerParams = { ...base, rootPid: 0, agent: { executables: ['go'], cgroupId: 0, adoptPids: [] } };
    const v = await tracerView(agent, undefined);
    expect(v.ownNamespace).toBe(true);
    expect(v.listLines).toBeGreaterThan(20);
    expect(v.listLines).toBeLessThan(60);
    const off = await tracerView(agent, false);
    expect(off).toEqual({ ownNamespace: false, listLines: fullLines() });
  }, 120_000);
});
