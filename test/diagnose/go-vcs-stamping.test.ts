// go.vcs_stamping: a build that failed because git refused to report the checkout's status,
// or that spent a large share of its time in the stamping commands, names that, with the fix;
// git run for other reasons (module downloads) and fast stamping are not blamed.
import { describe, expect, it } from 'vitest';
import { diagnose, rankedIds } from '../../src/diagnose/diagnose.js';
import { rule, THRESHOLDS } from '../../src/diagnose/rules/go-vcs-stamping.js';
import { RULES } from '../../src/diagnose/rules/index.js';
import { vcsStampingTool } from '../../src/model/go-vcs.js';
import { S, context, proc, slowCalls } from './fixtures.js';
import { stderrWrite } from './stderr-fixture.js';

const MS = 1e6;
const goBuild = (exitCode = 0, wallNs = 2 * S) => proc({ name: 'go', args: ['go', 'build', '-o', 'app', './cmd/app'], exitCode, wallNs, uid: 1001 });

describe('go.vcs_stamping', () => {
  it('a checkout owned by another user: git status exits 128, the build fails; names the repository and the fixes', () => {
    const go = goBuild(1);
    stderrWrite(go, 'error obtaining VCS status: exit status 128\n\tUse -buildvcs=false to disable VCS stamping.\n');
    const git = proc({ parent: go, name: 'git', args: ['git', 'status', '--porcelain'], exitCode: 128, wallNs: 4 * MS, uid: 1001 });
    stderrWrite(git, "fatal: detected dubious ownership in repository at '/src/app'\nTo add an exception for this directory, call:\n");
    const causes = diagnose(go, context());
    expect(rankedIds(causes)).toEqual(['go.vcs_stamping']);
    const c = causes[0]!;
    expect(c.process).toBe(git);
    expect(c.evidence).toContain("git status --porcelain (pid");
    expect(c.evidence).toContain("exited with code 128: \"fatal: detected dubious ownership in repository at '/src/app'\"");
    expect(c.evidence).toContain('the build runs as uid 1001, and the checkout belongs to another user');
    expect(c.evidence).toContain('"error obtaining VCS status: exit status 128"');
    expect(c.hint).toContain('git config --global --add safe.directory /src/app');
    expect(c.hint).toContain('-buildvcs=false');
    expect(c.explainsFailure).toBe(true);
  });

  it('a broken repository: the fix is the repository or -buildvcs=false', () => {
    const go = goBuild(1);
    const git = proc({ parent: go, name: 'git', args: ['git', 'status', '--porcelain'], exitCode: 128, wallNs: 4 * MS });
    stderrWrite(git, 'fatal: not a git repository (or any of the parent directories): .git\n');
    const [c] = rule(go, context());
    expect(c!.evidence).toContain('"fatal: not a git repository');
    expect(c!.hint).toContain('-buildvcs=false');
    expect(c!.hint).not.toContain('safe.directory');
  });

  it('slow stamping: a large share of the build in git status, superseding the slow mount git hit', () => {
    const go = goBuild(0, 3 * S);
    const git = proc({ parent: go, name: 'git', args: ['git', 'status', '--porcelain'], wallNs: 1.2 * S });
    const show = proc({ parent: go, name: 'git', args: ['git', '-c', 'log.showsignature=false', 'show', '-s', '--format=%H:%ct'], wallNs: 0.1 * S });
    slowCalls(show, 20, { sc: 'newfstatat', latencyNs: 4 * MS, path: (i) => `/workspace/app/.git/objects/${i}` });
    slowCalls(git, 20, { sc: 'newfstatat', latencyNs: 60 * MS, path: (i) => `/workspace/app/.git/objects/${i}` });
    const causes = diagnose(go, context());
    // without the stamping rule, that is fs.slow_metadata on the FUSE workspace
    expect(rankedIds(diagnose(go, context(), RULES.filter((r) => r !== rule)))).toContain('fs.slow_metadata');
    expect(rankedIds(causes)).toEqual(['go.vcs_stamping']);
    expect(causes[0]!.process).toBe(git);
    expect(causes[0]!.evidence).toMatch(/^VCS stamping took 1\.30 s, 43% of go build \(pid \d+\)'s 3\.00 s: git status --porcelain 1\.20 s, git -c log\.showsignature=false show -s --format=%H:%ct 100 ms$/);
  });

  it('fast stamping, a failed git that the build survived, and git for module downloads are no cause', () => {
    const go = goBuild(0, 2 * S);
    proc({ parent: go, name: 'git', args: ['git', 'status', '--porcelain'], wallNs: 5 * MS });
    // an empty repository: git show fails, go tolerates it
    proc({ parent: go, name: 'git', args: ['git', '-c', 'log.showsignature=false', 'show', '-s', '--format=%H:%ct'], wallNs: 3 * MS, exitCode: 128 });
    const fetch = proc({ parent: go, name: 'git', args: ['git', 'ls-remote', '-q', 'https://example.org/x'], wallNs: 1.5 * S });
    expect(vcsStampingTool(fetch)).toBeUndefined();
    expect(rule(go, context())).toEqual([]);
    expect(THRESHOLDS.minSlowNs).toBeGreaterThan(100 * MS);
  });
});
