// Traces for the report tests, made by gostall's own span builder from probe events (the
// same path `run` takes after the probes), serialised as the --out file's OTLP JSON lines.
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ProbeEvent } from '../../src/events/types.js';
import type { Cause } from '../../src/diagnose/types.js';
import { clockFromOffset } from '../../src/model/clock.js';
import { createProcessTree } from '../../src/model/tree.js';
import type { ProcessNode } from '../../src/model/process.js';
import { createIdRegistry } from '../../src/pipeline/span-ids.js';
import { buildTreeSpans } from '../../src/pipeline/tree-spans.js';
import { SC } from '../../src/vocabulary/syscalls.js';
import { ERRNO } from '../../src/vocabulary/errno.js';

const MS = 1e6;

export interface Workload {
  events: ProbeEvent[];
  rootPid: number;
  /** causes to attach: (pid, id, evidence, hint) */
  causes: { pid: number; id: string; evidence: string; hint: string }[];
  endNs: number;
}

function exec(ts: number, pid: number, ppid: number, filename: string, argv: string[]): ProbeEvent[] {
  const text = `${argv.join('\0')}\0`;
  const bytes = Buffer.from(text);
  return [
    { kind: 'exec', ts, pid, oldPid: pid, ppid, uid: 0, argvLen: bytes.length, comm: filename.slice(-15), filename, filenameTruncated: false },
    { kind: 'argv', pid, offset: 0, bytes },
  ];
}

function sched(ts: number, pid: number, on: number, rq: number, s: number, d: number): ProbeEvent {
  return { kind: 'sched', ts, pid, tid: pid, onCpuNs: on, runqNs: rq, offSNs: s, offDNs: d, voluntarySwitches: 10, involuntarySwitches: 2, maxOffDNs: d };
}

/**
 * A gopls session: gopls starts `go list` and `go env` children over a minute; every child
 * stats module files on a slow mount (newfstatat evidence with paths), waits off-CPU, and
 * some connect to a proxy. `processes` children with `perChild` evidence spans each.
 */
export function goplsWorkload(processes: number, perChild: number): Workload {
  const events: ProbeEvent[] = [];
  const root = 1000;
  events.push(...exec(1 * MS, root, 1, '/usr/bin/gopls', ['gopls', 'serve']));
  const span = 60_000 * MS;
  for (let i = 0; i < processes; i++) {
    const pid = root + 1 + i;
    const start = 2 * MS + Math.floor((i / processes) * span);
    const dur = i % 50 === 0 ? 1500 * MS : 200 * MS + (i % 7) * 90 * MS;
    events.push({ kind: 'fork', ts: start, parentPid: root, parentTid: root, childTid: pid });
    const sub = i % 5 === 0 ? 'env' : 'list';
    events.push(...exec(start + MS, pid, root, '/usr/lib/go-1.19/bin/go', ['go', sub, '-json', `./pkg${i}/...`]));
    for (let k = 0; k < perChild; k++) {
      const ts = start + 5 * MS + k * Math.floor(dur / (perChild + 1));
      if (k % 3 === 2) {
        events.push({ kind: 'offcpu', ts, pid, tid: pid, state: 1, durationNs: 60 * MS, sc: SC.newfstatat });
      } else {
        events.push({ kind: 'syscall', ts, pid, tid: pid, sc: SC.newfstatat, latencyNs: 55 * MS + k * MS, runqNs: 0, ret: k % 4 === 1 ? -ERRNO.ENOENT : 0, fd: -1,
          path: `/workspace/mod${i}/pkg${k}/file.go`, pathTruncated: false });
      }
    }
    if (i % 50 === 0) events.push({ kind: 'connect', ts: start + 1300 * MS, pid, tid: pid, durationNs: 1200 * MS, established: true, address: '127.0.0.1', port: 3128 });
    events.push(sched(start + dur - MS, pid, 20 * MS, 5 * MS, dur - 40 * MS, i % 11 === 0 ? 8 * MS : 0));
    events.push({ kind: 'exit', ts: start + dur, pid, tid: pid, status: 0 });
  }
  const end = 2 * MS + span + 3_000 * MS;
  events.push(sched(end - MS, root, 900 * MS, 40 * MS, 55_000 * MS, 0));
  events.push({ kind: 'exit', ts: end, pid: root, tid: root, status: 0 });
  return {
    events, rootPid: root, endNs: end,
    causes: [
      { pid: root + Math.min(6, processes), id: 'fs.slow_metadata', evidence: 'p50 newfstatat 57 ms on fuse /workspace', hint: 'move the module off the slow filesystem' },
      { pid: root + 1, id: 'net.slow_connect', evidence: 'tcp connect 127.0.0.1:3128 took 1.20 s', hint: 'check the proxy' },
    ],
  };
}

/** The OTLP JSON line(s) gostall writes for this workload. */
export async function otlpLines(w: Workload, opts: { thresholdNs?: number } = {}): Promise<string> {
  const tree = createProcessTree();
  const root = tree.addRoot(w.rootPid, 0);
  for (const e of w.events) tree.add(e);
  const byPid = new Map<number, ProcessNode>();
  const stack = [root];
  while (stack.length) { const p = stack.pop()!; byPid.set(p.pid, p); stack.push(...p.children); }
  const causes: Cause[] = w.causes.map((c, i) => ({ id: c.id, process: byPid.get(c.pid)!, evidence: c.evidence, hint: c.hint, weightNs: 1e9 - i }));
  const clock = clockFromOffset({ wallMs: 1_795_000_000_000, monoNs: 0 }, () => ({ wallMs: 1_795_000_000_000, monoNs: 0 }));
  const spans = await buildTreeSpans({
    node: root, ids: createIdRegistry(), clock, thresholdNs: opts.thresholdNs ?? 50 * MS, endNs: w.endNs, causes,
    resource: resourceFromAttributes({ 'service.name': 'gopls' }),
    rootAttributes: { 'gostall.lost_events': 0, 'gostall.malformed_records': 0, 'gostall.unattributed_records': 0 },
  });
  return `${Buffer.from(JsonTraceSerializer.serializeRequest(spans)!).toString('utf8')}\n`;
}
