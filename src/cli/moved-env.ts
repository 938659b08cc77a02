/**
 * Variables bin/gostall hands to Node under another name, and Node puts back.
 *
 * NODE_EXTRA_CA_CERTS makes Node build its whole certificate store while it starts, before
 * gostall's first line runs: `node -e 0` took 77 ms with the 144-certificate bundle this
 * machine names there, 53 ms with one certificate, 28 ms without (medians of 15). A
 * `gostall run` that exports to no collector makes no TLS connection, so bin/gostall passes
 * the variable as GOSTALL_MOVED_NODE_EXTRA_CA_CERTS when neither `--endpoint` nor an
 * OTEL_EXPORTER_OTLP_* variable is given; Node restores it first thing, and CMD gets the
 * environment exactly as the user gave it (shim.ts). Elsewhere nothing is moved.
 */

const MOVED_PREFIX = 'GOSTALL_MOVED_';
/** the only variables bin/gostall moves */
const MOVABLE: readonly string[] = ['NODE_EXTRA_CA_CERTS'];

/** Puts moved variables back under their own names (a variable set under its own name as well wins). */
export function restoreMovedEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of MOVABLE) {
    const moved = env[MOVED_PREFIX + name];
    if (moved === undefined) continue;
    delete env[MOVED_PREFIX + name];
    if (env[name] === undefined) env[name] = moved;
  }
}

/** The same for raw environment entries (`NAME=value` bytes, as /proc/self/environ gives them). */
export function restoreMovedEntries(environ: Buffer[]): Buffer[] {
  return environ.flatMap((entry) => {
    const name = MOVABLE.find((n) => startsWithName(entry, MOVED_PREFIX + n));
    if (name === undefined) return [entry];
    if (environ.some((e) => startsWithName(e, name))) return [];
    return [Buffer.concat([Buffer.from(name, 'latin1'), entry.subarray(MOVED_PREFIX.length + name.length)])];
  });
}

/** Whether a raw entry is `name=…`. */
function startsWithName(entry: Buffer, name: string): boolean {
  return entry.length > name.length && entry[name.length] === 0x3d && entry.toString('latin1', 0, name.length) === name;
}
