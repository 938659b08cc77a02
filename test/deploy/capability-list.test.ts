// One capability list everywhere: every file that grants gostall its privileges grants
// exactly the list in src/probe-runner/capabilities.ts, and the README and docs name it.
// (The systemd unit and the Kubernetes manifests are checked in their own tests.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CAPABILITIES, capabilityNames } from '../../src/probe-runner/capabilities.js';
import { PROJECT_ROOT } from './support.js';

const LIST = capabilityNames().sort();
const read = (p: string): string => readFileSync(join(PROJECT_ROOT, p), 'utf8');

/** JSON with // comments (devcontainer.json allows them). */
function parseJsonc(text: string): unknown {
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

describe('the capability list', () => {
  it('the Dev Container Feature adds exactly the list and the tracefs and BTF mounts', () => {
    const feature = parseJsonc(read('deploy/devcontainer/feature/gostall/devcontainer-feature.json')) as { capAdd: string[]; mounts: { target: string }[]; privileged?: boolean; options: Record<string, unknown> };
    expect([...feature.capAdd].sort()).toEqual(LIST);
    expect(feature.privileged).toBeUndefined();
    expect(feature.mounts.map((m) => m.target).sort()).toEqual(['/sys/kernel/btf', '/sys/kernel/tracing']);
    expect(Object.keys(feature.options).sort()).toEqual(['endpoint', 'executables', 'outputDirectory', 'package']);
  });

  it('the sidecar example drops ALL, adds exactly the list and shares the dev container\'s PID namespace', () => {
    const compose = parse(read('deploy/devcontainer/example/.devcontainer/compose.yaml')) as { services: Record<string, { pid?: string; cap_add?: string[]; cap_drop?: string[]; privileged?: boolean }> };
    const sidecar = compose.services.gostall!;
    expect(sidecar.pid).toBe('service:dev');
    expect(sidecar.cap_drop).toEqual(['ALL']);
    expect([...sidecar.cap_add!].sort()).toEqual(LIST);
    expect(sidecar.privileged).toBeUndefined();
    const dc = parseJsonc(read('deploy/devcontainer/example/.devcontainer/devcontainer.json')) as { service: string; runServices: string[] };
    expect(dc.service).toBe('dev');
    expect(dc.runServices).toContain('gostall');
  });

  it('the Containerfile example and the README name exactly the list', () => {
    const containerfile = read('Containerfile');
    expect(containerfile).toContain('--cap-drop=ALL');
    expect([...containerfile.matchAll(/--cap-add=([A-Z_]+)/g)].map((m) => m[1]).sort()).toEqual(LIST);
    const readme = read('README.md');
    for (const c of CAPABILITIES) expect(readme).toContain(`CAP_${c.name}`);
    const deploy = read('docs/deploy.md');
    for (const c of CAPABILITIES) expect(deploy).toContain(`\`${c.name}\``);
  });
});
