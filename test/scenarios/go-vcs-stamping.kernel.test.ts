// VCS stamping on real builds (Debian's Go 1.19 and git 2.39): a checkout owned by another
// user makes git refuse it and the build fail; a repository on a slow FUSE mount makes
// stamping a large share of the build. Each gives go.vcs_stamping and nothing else;
// -buildvcs=false and a healthy checkout give no cause.
import { execFileSync } from 'node:child_process';
import { chown, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv } from '../support/faults/goModule.js';
import { createUser } from '../support/faults/otherUser.js';
import { mountSlowFuse } from '../support/faults/slowFuse.js';
import { cleanEnv, ensureBuilt, expectNoCause, expectSoleCause, logOutcome, traced } from './harness.js';
import { writeAppModule } from './modules.js';

let workDir: string;

/** HOME in workDir: no ~/.gitconfig, so no safe.directory exception; the system gitconfig is ignored too. */
function env(): NodeJS.ProcessEnv {
  return cleanEnv({
    ...goEnv({ gocache: join(workDir, 'gocache'), gomodcache: join(workDir, 'gomodcache'), home: join(workDir, 'home') }),
    GIT_CONFIG_NOSYSTEM: '1',
  });
}

/** A committed git checkout of the app module at dir (the git directory elsewhere when gitDir is given). */
async function writeCheckout(dir: string, gitDir?: string): Promise<void> {
  await writeAppModule(dir);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env: env(), stdio: 'ignore' });
  git('init', '-q', ...(gitDir ? ['--separate-git-dir', gitDir] : []));
  git('add', '-A');
  git('-c', 'user.email=test@example.org', '-c', 'user.name=test', 'commit', '-qm', 'init');
}

const stampingSpans = (run: { spans: { attributes: Record<string, unknown> }[] }) => run.spans.filter((s) => s.attributes['go.action'] === 'vcs_stamping');

beforeAll(async () => {
  ensureBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'gostall-vcs-'));
  await mkdir(join(workDir, 'home'));
  await writeCheckout(join(workDir, 'own'));
  // warm the build cache, so the traced builds are mostly link and stamping
  execFileSync('go', ['build', '-buildvcs=false', '-o', join(workDir, 'warm'), './cmd/app'], { cwd: join(workDir, 'own'), env: env(), stdio: 'ignore' });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('VCS stamping', () => {
  it('a healthy checkout is stamped with no cause; the git runs are marked as stamping', async () => {
    const run = await traced(['go', 'build', '-o', join(workDir, 'bin-own'), './cmd/app'], { cwd: join(workDir, 'own'), env: env() });
    logOutcome('stamping a healthy checkout', run);
    expect(run.exitCode).toBe(0);
    expectNoCause(run);
    const git = stampingSpans(run);
    expect(git.map((s) => s.attributes['process.command_args'])).toContainEqual(['git', 'status', '--porcelain']);
    expect(git.every((s) => s.attributes['go.vcs'] === 'git' && s.attributes['process.exit.code'] === 0)).toBe(true);
  });

  it('a checkout owned by another user fails the build: go.vcs_stamping on git status, naming the repository and safe.directory', async () => {
    const user = await createUser();
    const dir = join(workDir, 'theirs');
    try {
      await cp(join(workDir, 'own'), dir, { recursive: true });
      execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
      const run = await traced(['go', 'build', '-o', join(workDir, 'bin-theirs'), './cmd/app'], { cwd: dir, env: env() });
      logOutcome('stamping a checkout owned by another user', run);
      expect(run.exitCode).not.toBe(0);
      const c = expectSoleCause(run, 'go.vcs_stamping', 'git');
      expect(c.evidence).toContain('git status --porcelain');
      expect(c.evidence).toContain(`fatal: detected dubious ownership in repository at '${dir}'`);
      expect(c.evidence).toContain('error obtaining VCS status: exit status 128');
      expect(c.hint).toContain(`git config --global --add safe.directory ${dir}`);
      expect(run.stderr).toContain('-buildvcs=false');

      // the fix the hint names works, and leaves nothing to blame
      const fixed = await traced(['go', 'build', '-buildvcs=false', '-o', join(workDir, 'bin-theirs'), './cmd/app'], { cwd: dir, env: env() });
      logOutcome('-buildvcs=false on a checkout owned by another user', fixed);
      expect(fixed.exitCode).toBe(0);
      expectNoCause(fixed);
      expect(stampingSpans(fixed)).toEqual([]);
    } finally {
      await chown(workDir, 0, 0).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      await user.restore();
    }
  });

  it('a git directory on a slow FUSE mount: go.vcs_stamping for the time git spent, not the mount', async () => {
    const backing = join(workDir, 'gitdirs');
    await mkdir(backing);
    const mountPoint = join(workDir, 'slowgit');
    const dir = join(workDir, 'slowcheckout');
    // the work tree stays on local disk: only git's own files are slow
    const fuse = await mountSlowFuse({ backingDir: backing, mountPoint, getattrDelayMs: 5, readDelayMs: 5, openDelayMs: 5 });
    try {
      await writeCheckout(dir, join(fuse.mountPoint, 'app.git'));
      const run = await traced(['go', 'build', '-o', join(workDir, 'bin-slow'), './cmd/app'], { cwd: dir, env: env() });
      logOutcome('stamping with the git directory on slow FUSE', run);
      expect(run.exitCode).toBe(0);
      const c = expectSoleCause(run, 'go.vcs_stamping', 'git');
      expect(c.evidence).toMatch(/^VCS stamping took [\d.]+ (s|ms), \d+% of go build \(pid \d+\)'s /);
      expect(c.evidence).toContain('git status --porcelain');
      expect(c.hint).toContain('-buildvcs=false');
    } finally {
      await fuse.restore();
    }
  });
});
