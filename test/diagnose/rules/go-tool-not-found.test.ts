// go.tool_not_found: a Go tool missing from PATH, with the PATH searched and where it is instead;
// exec.failed keeps the other exec failures and never reports the same one.
import { describe, expect, it } from 'vitest';
import { rule } from '../../../src/diagnose/rules/go-tool-not-found.js';
import { rule as execFailed } from '../../../src/diagnose/rules/exec-failed.js';
import { stderrWrite } from '../stderr-fixture.js';
import { ERRNO, context, failure, proc } from '../fixtures.js';

describe('go.tool_not_found', () => {
  it('names the directories an exec search tried and where the tool is installed instead', () => {
    const sh = proc({ exitCode: 127, name: 'sh', args: ['sh', '-c', 'gopls version'] });
    for (const d of ['/usr/local/bin', '/usr/bin', '/bin']) failure(sh, { sc: 'execve', errno: ERRNO.ENOENT, path: `${d}/gopls` });
    const ctx = context({ envOf: () => ({ HOME: '/home/dev', PATH: '/usr/local/bin:/usr/bin:/bin' }) });
    ctx.findExecutable = (name, dirs) => (dirs.includes('/home/dev/go/bin') ? `/home/dev/go/bin/${name}` : undefined);
    const [c, ...rest] = rule(sh, ctx);
    expect(rest).toEqual([]);
    expect(c!.evidence).toContain('gopls was not found on PATH (execve failed with ENOENT in: /usr/local/bin, /usr/bin, /bin)');
    expect(c!.evidence).toContain('installed at /home/dev/go/bin/gopls');
    expect(c!.hint).toContain('export PATH="$PATH:/home/dev/go/bin"');
    expect(execFailed(sh, ctx)).toEqual([]);
  });

  it('reads a shell\'s stat search from its words, when its PATH agrees', () => {
    const sh = proc({ exitCode: 127, name: 'sh' });
    sh.sums.stat.enoent = 6;
    stderrWrite(sh, 'sh: 1: dlv: not found\n');
    const ctx = context({ envOf: () => ({ HOME: '/home/dev', PATH: '/usr/bin:/bin' }) });
    expect(rule(sh, ctx)[0]!.evidence).toContain('dlv was not found on PATH (PATH searched, 6 lookups failed with ENOENT: /usr/bin, /bin)');
    ctx.findExecutable = (name, dirs) => (dirs.includes('/usr/bin') ? `/usr/bin/${name}` : undefined);
    expect(rule(sh, ctx)).toEqual([]); // it is on PATH now: the words alone name nothing
  });

  it('leaves other exec failures to exec.failed', () => {
    const go = proc({ exitCode: 1, args: ['go', 'vet'] });
    failure(go, { sc: 'execve', errno: ERRNO.ENOENT, path: '/usr/local/go/pkg/tool/linux_amd64/vet' });
    const ctx = context({ envOf: () => ({ PATH: '/usr/bin' }) });
    expect(rule(go, ctx)).toEqual([]);
    expect(execFailed(go, ctx).map((c) => c.id)).toEqual(['exec.failed']);
    const sh = proc({ exitCode: 127, name: 'sh' });
    failure(sh, { sc: 'execve', errno: ERRNO.ENOENT, path: '/usr/bin/make' });
    failure(sh, { sc: 'execve', errno: ERRNO.ENOENT, path: '/bin/make' });
    expect(rule(sh, ctx)).toEqual([]); // not a Go tool, not installed where go install puts tools
  });
});
