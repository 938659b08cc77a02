// exec.failed: execve that failed for good.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/exec-failed.js';
import { ERRNO, MS, S, context, failure, proc } from '../fixtures.js';

describe('exec.failed', () => {
  it('puts a failed exec in a forked child that never ran a program of its own on the parent', () => {
    const go = proc({ exitCode: 1, wallNs: 0.1 * S, args: ['go', 'build', '-toolexec', '/opt/dlv'] });
    const child = proc({ parent: go, exitCode: 0 });
    child.exec = { ...go.exec!, ts: go.startNs }; // inherited at fork, before the child started
    child.endNs = child.startNs + MS;
    failure(child, { sc: 'execve', errno: ERRNO.ENOENT, path: '/opt/dlv' });
    const [c, ...rest] = rule(go, context());
    expect(rest).toEqual([]);
    expect(c!.process).toBe(go);
    expect(c!.evidence).toBe(`could not start /opt/dlv: execve failed with ENOENT (no such file) 1 time in forked child ${child.pid}; the command failed`);
    expect(c!.hint).toContain('GOROOT');
    expect(c!.weightNs).toBe(0.1 * S);
  });

  it('keeps it on a process that exec\'d a program of its own (a shell), and explains EACCES', () => {
    const sh = proc({ name: 'sh', exitCode: 126, args: ['sh', '-c', 'exec ./dlv'] });
    failure(sh, { sc: 'execve', errno: ERRNO.EACCES, path: './dlv' });
    const [c] = rule(sh, context());
    expect(c!.process).toBe(sh);
    expect(c!.evidence).toContain('could not start /workspace/dlv: execve failed with EACCES (permission denied: not executable, or on a noexec mount)');
    expect(c!.hint).toContain('chmod +x');
  });

  it('mentions GOROOT when the missing program should be one of Go\'s tools', () => {
    const go = proc({ exitCode: 1 });
    failure(go, { sc: 'execve', errno: ERRNO.ENOENT, path: '/usr/local/go/pkg/tool/linux_amd64/vet' });
    expect(rule(go, context())[0]!.evidence).toContain('(GOROOT is /usr/local/go)');
  });

  it('has no cause when every exec succeeded (PATH-search failures are dropped by the model)', () => {
    const go = proc();
    failure(go, { sc: 'openat', errno: ERRNO.ENOENT, path: '/x' });
    expect(rule(go, context())).toEqual([]);
  });
});
