/**
 * The short tracepoint list bpftrace is shown while it compiles (shim/gostall-bpftrace): the
 * lines of the kernel's available_events that name a tracepoint the probe attaches to.
 * bpftrace 0.17 re-reads and scans the whole list about 400 times for gostall's probe, over
 * half of its compile; the short list gives the same program. A tracepoint the kernel does
 * not have stays out of the list, and bpftrace reports it as it would have.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRACEFS_MOUNTS } from './environment.js';

export const AVAILABLE_EVENTS_PATHS = TRACEFS_MOUNTS.map((d) => join(d, 'available_events'));

/** `category:name` of every tracepoint an attach point of the program names. */
export function tracepointsIn(program: string): Set<string> {
  const out = new Set<string>();
  for (const m of program.matchAll(/(?:^|[\s,])tracepoint:([a-z0-9_]+):([a-z0-9_]+)/gm)) out.add(`${m[1]}:${m[2]}`);
  return out;
}

/** The lines of available_events that the program attaches to, in the kernel's order. */
export function shortEventList(available: string, program: string): string {
  const wanted = tracepointsIn(program);
  return available.split('\n').filter((line) => wanted.has(line)).map((line) => `${line}\n`).join('');
}

/** The kernel's list, from whichever tracefs mount has it; undefined when none is readable. */
export function readAvailableEvents(paths: readonly string[] = AVAILABLE_EVENTS_PATHS): string | undefined {
  for (const p of paths) {
    try { return readFileSync(p, 'latin1'); } catch { /* the next mount point */ }
  }
  return undefined;
}
