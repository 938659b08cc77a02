/**
 * The go command's own trace, when the user asked for one (`go build -debug-trace=FILE`):
 * read after the go process exited, so its phases join gostall's trace under its span. Only
 * on the live machine (a replay has no such file), and carefully — the agent runs as root
 * and the path comes from another user's command line: the file must be a regular file owned
 * by the go process's own user, is opened without following a final symlink, and is read up
 * to MAX_DEBUG_TRACE_BYTES; anything else is not read. gostall never adds the flag itself: it
 * would change the traced command (it does not change Go's cache keys: checked with
 * GODEBUG=gocachehash=1 on Go 1.19, every action ID the same with and without it).
 */
import { isAbsolute, resolve } from 'node:path';
import { parseGoDebugTrace } from '../events/go-debug-trace.js';
import { goPhasesOf, type GoPhases } from '../model/go-phases.js';
import { flagValue } from '../model/go-action.js';
import { argvOf, executableName, type ProcessNode } from '../model/process.js';
import { readRegularFile } from '../vocabulary/regular-file.js';

/** A -debug-trace of a build of thousands of packages is a few MiB. */
const MAX_DEBUG_TRACE_BYTES = 64 * 1024 * 1024;

/** The FILE of -debug-trace=FILE (or -debug-trace FILE) on a go command line, as given. */
export function debugTraceFlag(argv: string[]): string | undefined {
  return flagValue(argv, '-debug-trace') || undefined;
}

/** The phases of the go process's -debug-trace file; undefined without the flag or a readable, valid file. */
export function goDebugTraceOf(p: ProcessNode, workspace: string | undefined): GoPhases | undefined {
  if (!p.exec || executableName(p) !== 'go' || p.endNs === undefined) return undefined;
  const file = debugTraceFlag(argvOf(p).argv);
  if (file === undefined) return undefined;
  const path = isAbsolute(file) ? file : workspace ? resolve(workspace, file) : undefined;
  if (!path) return undefined;
  const data = readRegularFile(path, { maxBytes: MAX_DEBUG_TRACE_BYTES, ownerUid: p.uid });
  const events = data === undefined ? undefined : parseGoDebugTrace(data.toString('utf8'));
  return events ? goPhasesOf(events) : undefined;
}
