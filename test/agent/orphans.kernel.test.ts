// A Go tool that exits while a process it started runs on (gopls killed by its editor,
// its go list left crawling a slow mount): the tool's trace is exported a few seconds
// after it exits, without waiting for the orphan, and the orphan's span follows into the
// same trace, under the span of the process that started it, when the orphan ends.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidRunning as alive } from '../support/faults/common.js';
import { goEnv } from '../support/faults/goModule.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import type { DecodedSpan } from '../support/otlp-decode.js';
import { sleep, startAgentProcess, waitForValue, type RunningAgent } from './support.js';

// Unique per run: the agent is host-wide.
const NAME = `orphan-${randomBytes(3).toString('hex')}`;
/** How long the orphan outlives its parent: well past the agent's 2 s grace. */
const ORPHAN_SECONDS = 10;

// Run as "parent": start itself as "child", print the child's pid, exit at once.
// Run as "child": sleep, then exit 3.
const PROGRAM = `package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		time.Sleep(${ORPHAN_SECONDS} * time.Second)
		os.Exit(3)
	}
	c := exec.Command(os.Args[0], "child")
	if err := c.Start(); err != nil {
		panic(err)
	}
	fmt.Println(c.Process.Pid)
}
`;

let receiver: OtlpReceiver;
let agent: RunningAgent;
let dir: string;
let binary: string;
let orphanPid: number | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gostall-orphan-test-'));
  await writeFile(join(dir, 'go.mod'), 'module example.com/orphan\n\ngo 1.19\n');
  await writeFile(join(dir, 'main.go'), PROGRAM);
  binary = join(dir, NAME);
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: dir, env: goEnv({ gocache: join(dir, 'cache'), gomodcache: join(dir, 'modcache'), home: dir }) });
  receiver = await startOtlpReceiver();
  agent = await startAgentProcess({ executables: [NAME], export: { endpoint: receiver.url, batch: { delay: '100ms' } } });
  await agent.waitHealthy();
});

afterAll(async () => {
  if (orphanPid) try { process.kill(orphanPid, 'SIGKILL'); } catch { /* it ended */ }
  await agent?.cleanup();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

const waitForSpan = (what: string, match: (s: DecodedSpan) => boolean, timeoutMs: number): Promise<DecodedSpan> =>
  waitForValue(what, () => receiver.spans.find(match), timeoutMs, { receiver, agent });

describe('a Go tool that leaves an orphan behind', () => {
  it('is exported without waiting for the orphan, and the orphan follows into its trace when it ends', async () => {
    const parentPid = await new Promise<number>((resolve, reject) => {
      const p = spawn(binary, [], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve(p.pid!) : reject(new Error(`parent exited ${code}`))));
      p.stdout!.once('end', () => { orphanPid = Number(out.trim()); });
    });
    await sleep(50);
    expect(orphanPid).toBeGreaterThan(0);
    const child = orphanPid!;

    // The parent's trace arrives while the orphan still runs.
    const parent = await waitForSpan('the parent process span', (s) => s.attributes['process.pid'] === parentPid && s.parentSpanId === undefined, ORPHAN_SECONDS * 1000 - 2000);
    expect(alive(child)).toBe(true);
    // (the root span's other attributes say whether records were lost or read out of order)
    expect(parent.attributes['gostall.agent.orphans_published_later'], JSON.stringify(parent.attributes)).toBe(1);
    expect(parent.attributes['process.exit.code']).toBe(0);
    expect(receiver.spans.some((s) => s.attributes['process.pid'] === child)).toBe(false);
    const m = await agent.metrics();
    expect(m.get('gostall_orphans_detached_total')).toBe(1);

    // The orphan's span follows when it ends: same trace, under the parent, with its own exit code.
    const orphan = await waitForSpan('the orphan process span', (s) => s.attributes['process.pid'] === child && s.name !== 'activity window', ORPHAN_SECONDS * 1000 + 15_000);
    expect(alive(child)).toBe(false);
    expect(orphan.traceId).toBe(parent.traceId);
    expect(orphan.parentSpanId).toBe(parent.spanId);
    expect(orphan.attributes['process.exit.code']).toBe(3);
    expect(orphan.resource['service.name']).toBe(NAME);
    // a part of the parent's trace, not a second root
    expect(orphan.attributes['gostall.causes']).toBeUndefined();
    expect(receiver.spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === undefined)).toHaveLength(1);
    expect((await agent.metrics()).get('gostall_trees_open')).toBe(0);
  });
});
