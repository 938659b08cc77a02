/**
 * The program bpftrace loads, cut from probes/linux/gostall.bt. One source holds both probe
 * sets: `run` (short-lived: every hook, read timing included) and `agent` (always on: no
 * hooks on the hottest syscalls, whose cost every untraced process would pay). Sections
 * are marked in the source by comment lines `[NAME]` … `[end NAME]`; a left-out section
 * becomes empty lines, so bpftrace's error line numbers stay those of the file. Only
 * these fixed sections are cut: nothing from outside ever enters the program text.
 */

export type ProbeSet = 'run' | 'agent';

/** Section names the source may use, and when each is left out. */
const SECTIONS: Readonly<Record<string, (set: ProbeSet, arch: string) => boolean>> = {
  'run-only': (set) => set !== 'run',
  'agent-only': (set) => set !== 'agent',
  // renameat: arm64 (and other generic-table architectures) have only renameat2, and a
  // tracepoint that does not exist fails the attach (the run set passes 65535 instead)
  'agent-x64-only': (set, arch) => set !== 'agent' || arch !== 'x64',
};

const MARKER = /^\s*\/\* \[(end )?([a-z0-9-]+)\] \*\/\s*$/;

/** The program text of one probe set for an architecture (Node's process.arch names). */
export function probeProgram(source: string, set: ProbeSet, arch: string = process.arch): string {
  const out: string[] = [];
  let open: string | undefined;
  let dropping = false;
  source.split('\n').forEach((line, i) => {
    const m = MARKER.exec(line);
    if (m) {
      const [, end, name] = m as unknown as [string, string | undefined, string];
      const leaveOut = SECTIONS[name];
      if (!leaveOut) throw new Error(`probe line ${i + 1}: unknown section [${name}]`);
      if (end ? open !== name : open !== undefined) throw new Error(`probe line ${i + 1}: unbalanced section [${end ?? ''}${name}]`);
      open = end ? undefined : name;
      dropping = !end && leaveOut(set, arch);
      out.push('');
      return;
    }
    out.push(dropping ? '' : line);
  });
  if (open !== undefined) throw new Error(`probe section [${open}] is not closed`);
  return out.join('\n');
}
