/**
 * Records a real probe stream: bpftrace runs the bundled probe with the same parameters
 * `gostall run` uses (root = a shim's pid, kernel thresholds 1 ms) on a cold
 * `go build -a PKGS`, and every stdout line is saved as it arrived.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBpftrace } from '../src/probe-runner/environment.js';
import { startTracer } from '../src/probe-runner/bpftrace.js';

/** What `gostall run` asks the kernel for by default (min(threshold, 1 ms)). */
const KERNEL_THRESHOLD_NS = 1e6;
/** Time allowed after the build exits for the exit records of its descendants. */
const DRAIN_MILLIS = 1500;

export interface Capture {
  path: string;
  pkgs: string[];
  lines: number;
  reused: boolean;
}

/** Record into dir/stream-capture.txt, or reuse the one recorded for the same packages. */
export async function recordProbeStream(opts: { outDir: string; pkgs: string[]; rerecord: boolean; workDir: string }): Promise<Capture> {
  const path = join(opts.outDir, 'stream-capture.txt');
  const metaPath = join(opts.outDir, 'stream-capture.json');
  if (!opts.rerecord && existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { pkgs: string[]; lines: number };
    if (meta.pkgs.join(' ') === opts.pkgs.join(' ')) return { path, pkgs: meta.pkgs, lines: meta.lines, reused: true };
  }
  const bpftrace = findBpftrace();
  if (!bpftrace) throw new Error('bpftrace not found: cannot record a probe stream');
  const gocache = mkdtempSync(join(opts.outDir, 'gocache-'));
  const buildLog = openSync(join(opts.outDir, 'logs', 'record-build.log'), 'w', 0o600);
  const lines: string[] = [];
  try {
    // The same shim as `gostall run`: CMD waits on fd 3 until the probe is attached.
    const shim = spawn('/bin/sh', ['-c', 'read _ <&3 || exit 125; exec 3<&-; exec "$@"', 'bench-shim', 'go', 'build', '-a', ...opts.pkgs], {
      cwd: opts.workDir, env: { ...process.env, GOCACHE: gocache, GOFLAGS: '' }, stdio: ['ignore', buildLog, buildLog, 'pipe'],
    });
    const shimExit = new Promise<void>((r) => shim.once('exit', () => r()));
    const tracer = startTracer({
      bpftrace,
      params: { rootPid: shim.pid!, syscallThresholdNs: KERNEL_THRESHOLD_NS, offcpuThresholdNs: KERNEL_THRESHOLD_NS },
      onLine(line, stream) { if (stream === 'stdout') lines.push(line); },
    });
    try {
      await tracer.ready;
    } catch (err) {
      shim.kill('SIGKILL');
      await shimExit;
      throw err;
    }
    const gate = shim.stdio[3] as NodeJS.WritableStream;
    gate.write('go\n');
    gate.end();
    await shimExit;
    await new Promise((r) => setTimeout(r, DRAIN_MILLIS));
    await tracer.stop();
  } finally {
    closeSync(buildLog);
    rmSync(gocache, { recursive: true, force: true });
  }
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  writeFileSync(metaPath, JSON.stringify({ pkgs: opts.pkgs, lines: lines.length }), { mode: 0o600 });
  return { path, pkgs: opts.pkgs, lines: lines.length, reused: false };
}
