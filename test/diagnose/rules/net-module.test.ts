// net.dns_failed and net.module_fetch_failed: Go's and git's words name the host or the
// setting; the kernel or the context must agree, and one failure is never both.
import { describe, expect, it } from 'vitest';
import { rule as dnsFailed } from '../../../src/diagnose/rules/net-dns-failed.js';
import { rule as fetchFailed } from '../../../src/diagnose/rules/net-module-fetch-failed.js';
import { diagnose, rankedIds } from '../../../src/diagnose/diagnose.js';
import { stderrWrite } from '../stderr-fixture.js';
import { ERRNO, connect, context, proc, record } from '../fixtures.js';

const refusedRead = (p: ReturnType<typeof proc>) =>
  p.failedSyscalls.push({ ...record(p, { sc: 'read', latencyNs: 20_000, ret: -ERRNO.ECONNREFUSED, fd: 7 }), path: undefined });

describe('net.dns_failed', () => {
  it('names the host and the resolver Go used, with the refused replies the kernel saw', () => {
    const go = proc({ exitCode: 1, args: ['go', 'build', '.'] });
    for (let i = 0; i < 4; i++) refusedRead(go);
    stderrWrite(go, 'main.go:2:8: Get "https://proxy.golang.org/x/@v/list": dial tcp: lookup proxy.golang.org on 127.0.0.1:53: read udp 127.0.0.1:4->127.0.0.1:53: read: connection refused\n');
    const [c, ...rest] = dnsFailed(go, context());
    expect(rest).toEqual([]);
    expect(c!.evidence).toContain('proxy.golang.org did not resolve with resolver 127.0.0.1:53');
    expect(c!.evidence).toContain('4 DNS replies refused');
    expect(rankedIds(diagnose(go, context()))).toEqual(['net.dns_failed']);
  });

  it('names git\'s host with the nameserver of the resolv.conf it saw', () => {
    const go = proc({ exitCode: 1 });
    const git = proc({ parent: go, name: 'git-remote-https', exitCode: 128 });
    stderrWrite(git, "fatal: unable to access 'https://tok:secret@github.com/a/b/': Could not resolve host: github.com\n");
    const ctx = context();
    ctx.resolversOf = () => ['10.0.0.2'];
    const [c] = dnsFailed(go, ctx);
    expect(c!.process).toBe(git);
    expect(c!.evidence).toContain('github.com did not resolve with resolver 10.0.0.2');
    expect(c!.evidence).not.toContain('secret');
    expect(fetchFailed(go, ctx)).toEqual([]);
  });

  it('does not name a cause from words alone, nor for a command that succeeded', () => {
    const go = proc({ exitCode: 1 });
    stderrWrite(go, 'dial tcp: lookup proxy.golang.org: no such host\n');
    expect(dnsFailed(go, context())).toEqual([]); // no refused reply, no resolver known
    const ok = proc({ exitCode: 0 });
    refusedRead(ok);
    stderrWrite(ok, 'lookup x.example on 127.0.0.1:53: no such host\n');
    expect(dnsFailed(ok, context())).toEqual([]);
  });
});

describe('net.module_fetch_failed', () => {
  it('GOPROXY=off: only when the go command had GOPROXY=off', () => {
    const go = proc({ exitCode: 1 });
    stderrWrite(go, 'main.go:3:8: module lookup disabled by GOPROXY=off\n');
    expect(fetchFailed(go, context({ envOf: () => ({ GOPROXY: 'off' }) }))[0]!.attributes!['gostall.cause.variable']).toBe('GOPROXY');
    expect(fetchFailed(go, context({ envOf: () => ({ GOPROXY: 'https://proxy.golang.org' }) }))).toEqual([]);
  });

  it('a proxy\'s 404 after an established connect names GOPRIVATE; an unreachable proxy is left to net.connect_failed', () => {
    const go = proc({ exitCode: 1 });
    connect(go, { durationNs: 100_000, established: true, port: 3000 });
    stderrWrite(go, 'main.go:3:8: example.com/dep@v1.0.0: reading http://127.0.0.1:3000/example.com/dep/@v/v1.0.0.zip: 404 Not Found\n');
    const [c] = fetchFailed(go, context());
    expect(c!.evidence).toContain('the module proxy answered HTTP 404');
    expect(c!.attributes!['gostall.cause.variable']).toBe('GOPRIVATE');
    const down = proc({ exitCode: 1 });
    connect(down, { durationNs: 100_000, established: false, port: 3000 });
    stderrWrite(down, 'reading http://127.0.0.1:3000/x/@v/list: 502 Bad Gateway\n');
    expect(fetchFailed(down, context())).toEqual([]);
  });

  it('never shows the credentials of a GOPROXY URL', () => {
    const go = proc({ exitCode: 1 });
    connect(go, { durationNs: 100_000, established: true, port: 443 });
    stderrWrite(go, 'reading https://proxy.corp.example/x/@v/list: 403 Forbidden\n');
    const [c] = fetchFailed(go, context({ envOf: () => ({ GOPROXY: 'https://me:s3cret@proxy.corp.example/?t=tok' }) }));
    expect(c!.evidence).toContain('GOPROXY=https://proxy.corp.example');
    expect(c!.evidence).not.toMatch(/s3cret|tok/);
  });

  it('GOPROXY=direct with a failed git child quotes git', () => {
    const go = proc({ exitCode: 1 });
    const git = proc({ parent: go, name: 'git', exitCode: 128, args: ['git', 'ls-remote', '-q', 'origin'] });
    stderrWrite(git, "fatal: '/x/repo' does not appear to be a git repository\n");
    const [c] = fetchFailed(go, context({ envOf: () => ({ GOPROXY: 'direct' }) }));
    expect(c!.evidence).toContain(`GOPROXY=direct`);
    expect(c!.evidence).toContain(`git (pid ${git.pid}) exited with code 128`);
    expect(c!.evidence).toContain('does not appear to be a git repository');
  });
});
