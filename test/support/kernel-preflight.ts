/**
 * Global setup of the kernel project: its tests load eBPF programs and change system state, so
 * they need root, bpftrace, BTF, tracefs and the real Go tools. When any is missing the run fails
 * here with the list, instead of every test skipping or failing one by one: CI must never pass a
 * kernel suite that did not run.
 */
import { execFileSync } from 'node:child_process';
import { checkTracingEnvironment } from '../../src/probe-runner/environment.js';

function missingTools(names: string[]): string[] {
  return names.filter((name) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

export default function kernelPreflight(): void {
  const problems: string[] = [];
  if (process.geteuid?.() !== 0) problems.push('the kernel tests must run as root (sudo npm test)');
  for (const p of checkTracingEnvironment()) problems.push(`${p.what}: ${p.fix}`);
  const tools = missingTools(['go', 'gopls', 'fusermount3', 'strace', 'git', 'openssl', 'podman', 'runc', 'debootstrap', 'systemd-analyze', 'capsh', 'chromium', 'tmux', 'perl']);
  if (tools.length > 0) problems.push(`missing tools: ${tools.join(', ')} (run sudo bash scripts/setup.sh)`);
  if (problems.length > 0) {
    throw new Error(`the kernel test project cannot run on this machine:\n- ${problems.join('\n- ')}`);
  }
}
