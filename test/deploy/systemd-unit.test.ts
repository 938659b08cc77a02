// The systemd unit a platform team installs: systemd itself accepts it (systemd-analyze
// verify), its sandbox rates below 4.0 in systemd-analyze security, and it grants exactly
// gostall's capability list. systemd is not booted: both analyses run offline on the file.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilityNames } from '../../src/probe-runner/capabilities.js';
import { PROJECT_ROOT, unitDirectives } from './support.js';

const UNIT = join(PROJECT_ROOT, 'deploy/systemd/gostall-agent.service');
let root: string;

beforeAll(() => {
  // A root directory holding the unit, the system's own units (targets it depends on) and an
  // executable at ExecStart's path: verify checks all three.
  root = mkdtempSync(join(tmpdir(), 'gostall-unit-'));
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
  cpSync('/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, dereference: false, verbatimSymlinks: true });
  writeFileSync(join(root, 'usr/bin/gostall'), '#!/bin/sh\n', { mode: 0o755 });
  cpSync(UNIT, join(root, 'etc/systemd/system/gostall-agent.service'));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('deploy/systemd/gostall-agent.service', () => {
  it('passes systemd-analyze verify with no complaint', () => {
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'gostall-agent.service'], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('a typo in a directive is caught by the same check (the check is not vacuous)', () => {
    const broken = readFileSync(UNIT, 'utf8').replace('ProtectSystem=strict', 'ProtectSytem=strict');
    writeFileSync(join(root, 'etc/systemd/system/gostall-broken.service'), broken);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'gostall-broken.service'], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/Unknown key 'ProtectSytem'/);
  });

  it('rates below 4.0 in systemd-analyze security', () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', `--root=${root}`, '--no-pager', 'gostall-agent.service'], { encoding: 'utf8' });
    const m = /Overall exposure level for gostall-agent\.service: (\d+\.\d+)/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(4.0);
  });

  it('bounds and grants exactly the capability list, with no new privileges', () => {
    const d = unitDirectives(readFileSync(UNIT, 'utf8'));
    const list = capabilityNames('CAP_').sort();
    expect(d.get('CapabilityBoundingSet')?.split(/\s+/).sort()).toEqual(list);
    expect(d.get('AmbientCapabilities')?.split(/\s+/).sort()).toEqual(list);
    expect(d.get('NoNewPrivileges')).toBe('yes');
    expect(d.get('ProtectSystem')).toBe('strict');
    expect(d.get('SystemCallArchitectures')).toBe('native');
  });
});
