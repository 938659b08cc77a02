/**
 * bpftrace compiles each of gostall's probe programs to the same bytes against the BTF
 * subset (src/probe-runner/btf-subset.ts) as against the kernel's whole BTF: the subset only
 * makes the compile faster. And bpftrace does read the file it is given (a subset without
 * the tracepoints' types fails the compile), so the comparison is not of one compile twice.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { linuxProbeScript } from '../../src/paths.js';
import { tracerArgs, tracerEnv, type TracerParams } from '../../src/probe-runner/bpftrace.js';
import { btfSubset, programTypeNames } from '../../src/probe-runner/btf-subset.js';
import { findBpftrace, TRACEFS_MOUNTS } from '../../src/probe-runner/environment.js';
import { readKernelBtf, VMLINUX_BTF } from '../../src/probe-runner/kernel-layout.js';
import { probeProgram, type ProbeVariant } from '../../src/probe-runner/probe-text.js';

const dir = mkdtempSync(join(tmpdir(), 'gostall-btf-subset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run: TracerParams = { rootPid: 1, syscallThresholdNs: 1e6, offcpuThresholdNs: 1e6 };
const agent: TracerParams = { ...run, rootPid: 0, agent: { executables: ['go', 'gopls'], cgroupId: 0, adoptPids: [] } };
const VARIANTS: { name: string; params: TracerParams; variant: ProbeVariant }[] = [
  { name: 'run, on the host', params: { ...run, pidNamespace: 0 }, variant: {} },
  { name: 'run, in a PID namespace', params: { ...run, pidNamespace: 4026531836 }, variant: { pidNamespace: true } },
  { name: 'agent, on the host', params: { ...agent, pidNamespace: 0 }, variant: {} },
  { name: 'agent with stderr and named shims, on the host', params: { ...agent, pidNamespace: 0 }, variant: { stderr: true, renameHook: true } },
  { name: 'agent with stderr and named shims, in a PID namespace', params: { ...agent, pidNamespace: 4026531836 }, variant: { pidNamespace: true, stderr: true, renameHook: true } },
];

/** bpftrace's program for these arguments, as an ELF file's bytes (nothing attached). */
async function compile(args: string[], btfPath: string | undefined, out: string): Promise<{ elf?: Buffer; output: string }> {
  const r = await execa(findBpftrace()!, ['--emit-elf', out, ...args], { env: tracerEnv(64, btfPath), extendEnv: false, reject: false, all: true, timeout: 120_000 });
  return { elf: r.exitCode === 0 && existsSync(out) ? readFileSync(out) : undefined, output: r.all ?? '' };
}

describe('the BTF subset bpftrace compiles against', () => {
  for (const [i, v] of VARIANTS.entries()) {
    it(`gives the same program as the kernel's BTF: ${v.name}`, async () => {
      const text = probeProgram(readFileSync(linuxProbeScript(), 'latin1'), v.params.agent ? 'agent' : 'run', process.arch, v.variant);
      const script = join(dir, `p${i}.bt`);
      writeFileSync(script, text, 'latin1');
      const names = programTypeNames(text, TRACEFS_MOUNTS);
      expect(names.has('pid_t'), 'the sched tracepoints declare pid_t fields').toBe(true);
      const subset = btfSubset(readKernelBtf(VMLINUX_BTF, names), names)!;
      // a few hundred bytes, against the kernel's megabytes
      expect(subset.length).toBeLessThan(64 * 1024);
      const btfPath = join(dir, `p${i}.btf`);
      writeFileSync(btfPath, subset);
      const args = tracerArgs(script, v.params);
      const whole = await compile(args, undefined, join(dir, `p${i}-whole.o`));
      const small = await compile(args, btfPath, join(dir, `p${i}-subset.o`));
      expect(whole.elf, whole.output).toBeDefined();
      expect(small.elf, small.output).toBeDefined();
      expect(small.elf!.equals(whole.elf!), 'the same ELF, byte for byte').toBe(true);
    }, 240_000);
  }

  it('is what bpftrace reads: without the tracepoints\' types the compile fails', async () => {
    const text = probeProgram(readFileSync(linuxProbeScript(), 'latin1'), 'run', process.arch, {});
    const script = join(dir, 'bare.bt');
    writeFileSync(script, text, 'latin1');
    const only = join(dir, 'only-int.btf');
    const intOnly = btfSubset(readKernelBtf(VMLINUX_BTF, ['__kernel_pid_t']), ['__kernel_pid_t'])!;
    writeFileSync(only, intOnly);
    const r = await compile(tracerArgs(script, { ...run, pidNamespace: 0 }), only, join(dir, 'bare.o'));
    expect(r.elf).toBeUndefined();
    expect(r.output).toMatch(/unknown type name 'pid_t'/);
  }, 120_000);
});
