// A storm of 10,000 short-lived Go tool processes: the agent keeps up or says what it
// lost, its memory stays bounded, and every root it saw becomes a trace. Numbers (RSS,
// events/s) are reported, not asserted against the clock.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { rssOf, sleep, startAgentProcess, type RunningAgent } from './support.js';

const PROCESSES = 10_000;
// Unique per run: the agent is host-wide, and another run of this test may share the host.
const NAME = `storm-${randomBytes(3).toString('hex')}`;

let receiver: OtlpReceiver;
let agent: RunningAgent;
let dir: string;
let binary: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-storm-test-'));
  // A tiny Go program (so each process has the Go runtime's threads), named like no other tool.
  await writeFile(join(dir, 'go.mod'), 'module example.com/storm\n\ngo 1.19\n');
  await writeFile(join(dir, 'main.go'), 'package main\n\nfunc main() {}\n');
  binary = join(dir, NAME);
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: dir, env: goEnv({ gocache: join(dir, 'cache'), gomodcache: join(dir, 'modcache'), home: dir }) });
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({ executables: [NAME], export: { endpoint: receiver.url } });
  await agent.waitHealthy();
});

afterAll(async () => {
  await agent?.cleanup();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a storm of short-lived Go tool processes', () => {
  it(`traces ${PROCESSES} processes with bounded memory and accounts for anything lost`, async () => {
    const loop = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${PROCESSES} ]; do "$0"; i=$((i+1)); done`, binary], { stdio: 'ignore' });
    const loopDone = new Promise<number | null>((r) => loop.once('exit', (code) => r(code)));
    let peakAgent = 0;
    let peakTracer = 0;
    let peakRate = 0;
    let finished = false;
    void loopDone.then(() => { finished = true; });
    while (!finished) {
      const m = await agent.metrics();
      peakAgent = Math.max(peakAgent, rssOf(agent.pid));
      peakTracer = Math.max(peakTracer, m.get('gostall_tracer_resident_memory_bytes') ?? 0);
      peakRate = Math.max(peakRate, m.get('gostall_events_per_second') ?? 0);
      await sleep(500);
    }
    expect(await loopDone).toBe(0);

    // Every root the agent saw becomes a trace; roots it did not see are counted as lost events.
    const deadline = Date.now() + 120_000;
    let m = await agent.metrics();
    const busy = (x: Map<string, number>): boolean => x.get('gostall_trees_open')! > 0 || x.get('gostall_trees_queued')! > 0 ||
      x.get('gostall_export_queue_spans')! > 0 || x.get('gostall_spool_spans')! > 0 || x.get('gostall_spans_exported_total')! < x.get('gostall_spans_produced_total')!;
    while (busy(m)) {
      if (Date.now() > deadline) throw new Error(`storm not drained: ${JSON.stringify([...m])}`);
      await sleep(500);
      peakAgent = Math.max(peakAgent, rssOf(agent.pid));
      m = await agent.metrics();
    }
    const roots = m.get('gostall_roots_total')!;
    const lost = m.get('gostall_events_lost_total')!;
    const published = m.get('gostall_traces_published_total')!;
    const events = m.get('gostall_events_total')!;
    const forced = m.get('gostall_traces_forced_total')!;
    const refused = m.get('gostall_roots_refused_total')!;
    const orphans = m.get('gostall_records_orphan_total')!;
    process.stderr.write(`storm: ${PROCESSES} processes, ${roots} roots traced, ${published} traces (${forced} published without every thread's exit record), ${events} events, ${lost} events lost, ${refused} roots refused, ${orphans} orphan records, ` +
      `peak ${peakRate} events/s, peak RSS agent ${(peakAgent / 1048576).toFixed(0)} MiB, bpftrace ${(peakTracer / 1048576).toFixed(0)} MiB\n`);
    if (lost === 0) expect(roots).toBe(PROCESSES);
    else expect(roots).toBeGreaterThan(0);
    expect(published).toBe(roots);
    expect(m.get('gostall_spans_dropped_total{reason="http_400"}')).toBeUndefined();
    const stormSpans = receiver.spans.filter((s) => s.name === NAME && s.parentSpanId === undefined);
    const names = new Map<string, number>();
    for (const s of receiver.spans) names.set(`${s.name}${s.parentSpanId ? '' : ' (root)'}`, (names.get(`${s.name}${s.parentSpanId ? '' : ' (root)'}`) ?? 0) + 1);
    expect(stormSpans.length, JSON.stringify([...names])).toBe(roots);
    // Bounded: the agent's memory does not grow with the number of processes it has seen.
    expect(peakAgent).toBeLessThan(400 * 1024 * 1024);
    const stopped = await agent.stop();
    expect(stopped.code).toBe(0);
  }, 600_000);
});
