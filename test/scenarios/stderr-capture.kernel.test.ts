// The probe's stderr capture on the real kernel: the first 200 bytes of a traced process's
// first 4 writes to fd 2 reach its span as gostall.stderr — escape sequences dropped, invalid
// UTF-8 visible as \xNN, credentials in URLs redacted — while the terminal still gets every
// byte unchanged, and the output is no cause by itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SYSTEM_PYTHON } from '../support/faults/slowFuse.js';
import { cleanEnv, ensureBuilt, expectNoCause, logOutcome, rootPid, traced } from './harness.js';

let workDir: string;

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-stderr-'));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const PROGRAM = [
  'import os',
  'os.write(2, b"fatal: unable to access \'https://bob:s3cret@git.example.com/r.git/?token=t0k\': \\x1b[31mdenied\\x1b[0m \\xff\\xfe\\n")',
  'os.write(2, b"a" * 300 + b"\\n")',
  'os.write(2, b"third\\n")',
  'os.write(2, b"fourth\\n")',
  'os.write(2, b"fifth: not captured\\n")',
].join('\n');

it('a process\'s first writes to stderr are on its span, made safe, and still reach the terminal whole', async () => {
  const run = await traced([SYSTEM_PYTHON, '-c', PROGRAM], { cwd: workDir, env: cleanEnv({}) });
  logOutcome('hostile stderr', run);
  expect(run.exitCode).toBe(0);
  expectNoCause(run);
  const span = run.spans.find((s) => s.attributes['process.pid'] === rootPid(run))!;
  const captured = span.attributes['gostall.stderr'] as string;
  expect(captured).toBe("fatal: unable to access 'https://REDACTED@git.example.com/r.git/?REDACTED': denied \\xff\\xfe\n" +
    `${'a'.repeat(200)}…\nthird\nfourth\n`);
  // the terminal got the original bytes, secrets and colours included: gostall only reads them
  expect(run.stderr).toContain("https://bob:s3cret@git.example.com/r.git/?token=t0k': \x1b[31mdenied");
  expect(run.stderr).toContain(`${'a'.repeat(300)}\n`);
  expect(run.stderr).toContain('fifth: not captured');
});
