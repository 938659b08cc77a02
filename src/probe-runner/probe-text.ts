/**
 * The program bpftrace loads, cut from probes/linux/gostall.bt. One source holds both probe
 * sets: `run` (short-lived: every hook, read timing included) and `agent` (always on: no
 * hooks on the hottest syscalls, whose cost every untraced process would pay). Sections
 * are marked in the source by comment lines `[NAME]` … `[end NAME]`; a left-out section
 * becomes empty lines, so bpftrace's error line numbers stay those of the file. Only
 * these fixed sections are cut: nothing from outside ever enters the program text.
 * Sections may nest (a [pidns-only] part inside an [agent-only] one).
 */

export type ProbeSet = 'run' | 'agent';

export interface ProbeVariant {
  /**
   * gostall runs in a PID namespace other than the initial one: the [pidns-only] parts
   * (selection by namespace, ids as gostall sees them) are loaded. On the host they are
   * left out, so the host's programs are exactly those without namespace support.
   */
  pidNamespace?: boolean;
  /** the agent set captures stderr writes, with a hook on write (default: no) */
  stderr?: boolean;
  /** the agent set takes a process that names itself gostall-shim as a root (default: no;
   *  only where the kernel's task_rename tracepoint has the fields it reads: environment.ts) */
  renameHook?: boolean;
}

/** Section names the source may use, and when each is left out. */
const SECTIONS: Readonly<Record<string, (set: ProbeSet, arch: string, v: ProbeVariant) => boolean>> = {
  'run-only': (set) => set !== 'run',
  'agent-only': (set) => set !== 'agent',
  // renameat: arm64 (and other generic-table architectures) have only renameat2, and a
  // tracepoint that does not exist fails the attach (the run set passes 65535 instead)
  'agent-x64-only': (set, arch) => set !== 'agent' || arch !== 'x64',
  'pidns-only': (_set, _arch, v) => !v.pidNamespace,
  'host-only': (_set, _arch, v) => v.pidNamespace === true,
  // the agent's write hook and its map's clean-up; run captures stderr in its raw_syscalls hook
  'stderr-hook': (set, _arch, v) => set === 'agent' && v.stderr !== true,
  // the agent's hook on renames (bin/gostall's named shim)
  'rename-hook': (set, _arch, v) => set !== 'agent' || v.renameHook !== true,
};

const MARKER = /^\s*\/\* \[(end )?([a-z0-9-]+)\] \*\/\s*$/;

/** The program text of one probe set for an architecture (Node's process.arch names). */
export function probeProgram(source: string, set: ProbeSet, arch: string = process.arch, variant: ProbeVariant = {}): string {
  const out: string[] = [];
  // open sections, innermost last, each with whether it is left out
  const open: { name: string; drop: boolean }[] = [];
  source.split('\n').forEach((line, i) => {
    const m = MARKER.exec(line);
    if (m) {
      const [, end, name] = m as unknown as [string, string | undefined, string];
      const leaveOut = SECTIONS[name];
      if (!leaveOut) throw new Error(`probe line ${i + 1}: unknown section [${name}]`);
      if (end) {
        if (open.at(-1)?.name !== name) throw new Error(`probe line ${i + 1}: unbalanced section [end ${name}]`);
        open.pop();
      } else {
        if (open.some((o) => o.name === name)) throw new Error(`probe line ${i + 1}: unbalanced section [${name}]`);
        open.push({ name, drop: leaveOut(set, arch, variant) });
      }
      out.push('');
      return;
    }
    out.push(open.some((o) => o.drop) ? '' : line);
  });
  if (open.length > 0) throw new Error(`probe section [${open.at(-1)!.name}] is not closed`);
  return out.join('\n');
}
