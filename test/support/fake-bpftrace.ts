/**
 * A stand-in for bpftrace that replays a prepared byte stream, for input the real probe can
 * never produce (a 10 MB line, binary garbage): the hostile-input tests need the real reading
 * path (execa, readline, parseLine, the tree) fed with it. Named fake on purpose: everything
 * the kernel can produce is tested with the real bpftrace instead.
 *
 * The fake is called like bpftrace (`-B line SCRIPT ROOTPID …`): SCRIPT names the stream file
 * to write to stdout. Lines in the stream may use the placeholders ROOTPID, replaced by the pid
 * gostall passes (the shim of `gostall run`), and NOWNS, the monotonic time of writing; lines
 * that start with STDERR: are written to stderr instead. It writes the stream once the root pid has
 * exited (as the real probe prints a process's records by its exit; `gostall run` reads until its
 * tracer goes quiet and then ends it), or when SIGINT arrives (the agent stops its tracer), or at
 * once with FAKE_BPFTRACE_EAGER=1, then exits 0.
 */
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FAKE_SOURCE = `
const fs = require('node:fs');
const [, , , , streamPath, rootPid] = process.argv;
const template = fs.readFileSync(streamPath).toString('latin1').split('ROOTPID').join(rootPid);
// NOWNS: the monotonic clock (bpftrace's nsecs) when the stream is written. Lines that start
// with STDERR: go to stderr (newer bpftrace prints "Lost N events" there).
const stream = () => template.split('NOWNS').join(String(process.hrtime.bigint())).split('\\n');
const toStdout = (lines) => Buffer.from(lines.filter((l) => !l.startsWith('STDERR:')).join('\\n'), 'latin1');
const toStderr = (lines) => lines.filter((l) => l.startsWith('STDERR:')).map((l) => l.slice(7) + '\\n').join('');
let done = false;
function emit() {
  if (done) return;
  done = true;
  const lines = stream();
  process.stderr.write(toStderr(lines));
  process.stdout.write(toStdout(lines), () => process.exit(0));
}
process.on('SIGINT', emit);
process.on('SIGTERM', emit);
// The root has exited (gone, or a zombie its parent has not reaped yet).
const rootGone = () => {
  try { const st = fs.readFileSync('/proc/' + rootPid + '/stat', 'latin1'); return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z'; } catch { return true; }
};
// Ready (after the handlers: gostall may stop tracing as soon as it sees the R record).
process.stdout.write('Attaching 1 probe...\\nR\\t1\\t' + rootPid + '\\t1000000\\t1000000\\n');
if (process.env.FAKE_BPFTRACE_EAGER === '1') emit();
setInterval(() => { if (Number(rootPid) > 0 && rootGone()) emit(); }, 10);
`;

/** Writes the fake tracer into a fresh directory and returns its path (an executable file). */
export async function writeFakeBpftrace(dir?: string): Promise<string> {
  const where = dir ?? (await mkdtemp(join(tmpdir(), 'gostall-fake-bpftrace-')));
  const path = join(where, 'bpftrace');
  await writeFile(path, `#!${process.execPath}\n${FAKE_SOURCE}`);
  await chmod(path, 0o755);
  return path;
}
