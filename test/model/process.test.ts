// What a user reads off a process span: its exit code or the signal that killed it, its
// name, its command line.
import { describe, expect, it } from 'vitest';
import { argvOf, createProcess, decodeWaitStatus, displayName, executableName } from '../../src/model/process.js';
import { SC } from '../../src/vocabulary/syscalls.js';

describe('decodeWaitStatus', () => {
  it.each([
    [0, { code: 0, signal: undefined }],
    [1 << 8, { code: 1, signal: undefined }],
    [255 << 8, { code: 255, signal: undefined }],
    [9, { code: undefined, signal: 9 }],
    [15, { code: undefined, signal: 15 }],
    [0x80 | 11, { code: undefined, signal: 11 }], // SIGSEGV with a core dump
  ])('status %i', (status, expected) => {
    expect(decodeWaitStatus(status)).toEqual(expected);
  });
});

describe('names and command lines', () => {
  const withExec = (filename: string, args: string[], argvLen?: number) => {
    const p = createProcess(1, undefined, 0);
    const bytes = Buffer.from(`${args.join('\0')}\0`, 'utf8');
    p.exec = { ts: 0, filename, filenameTruncated: false, comm: 'x', argvLen: argvLen ?? bytes.length, argvParts: [bytes], argvBytes: bytes.length };
    return p;
  };

  it('a process seen only forking is unknown', () => {
    expect(executableName(createProcess(1, undefined, 0))).toBe('unknown');
    expect(displayName(createProcess(1, undefined, 0))).toBe('unknown');
  });

  it('a process whose exec failed is named after what it tried to run (its executable stays unknown)', () => {
    const p = createProcess(1, undefined, 0);
    const failed = (path: string | undefined, sc = SC.execve) => ({ kind: 'syscall' as const, ts: 1, pid: 1, tid: 1, sc, latencyNs: 1, runqNs: 0, ret: -2, fd: -1, path, pathTruncated: false });
    p.failedSyscalls.push(failed('/etc/passwd', SC.openat), failed(undefined), failed('/root/bin/nosuchcmd'), failed('/usr/bin/nosuchcmd'));
    expect(displayName(p)).toBe('nosuchcmd');
    expect(executableName(p)).toBe('unknown');
  });

  it('the span name of a tool is its executable; of go, go and its subcommand', () => {
    expect(displayName(withExec('/usr/lib/go/pkg/tool/linux_amd64/link', ['link', '-o', 'a.out']))).toBe('link');
    expect(displayName(withExec('/usr/bin/go', ['go', 'build', './...']))).toBe('go build');
    expect(displayName(withExec('/usr/bin/go', ['go', '-C', 'dir', 'vet']))).toBe('go vet');
    expect(displayName(withExec('/usr/bin/go', ['go']))).toBe('go');
  });

  it('argv keeps arguments with spaces, quotes and UTF-8 whole', () => {
    const args = ['sh', '-c', `echo "a b" 'c'`, 'é日本'];
    expect(argvOf(withExec('/bin/sh', args))).toEqual({ argv: args, truncated: false });
  });

  it('argv longer than the probe printed is flagged', () => {
    expect(argvOf(withExec('/bin/sh', ['sh', '-c', 'x'], 4000)).truncated).toBe(true);
  });
});
