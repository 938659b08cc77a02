// The Kubernetes manifests a platform team applies: the plain DaemonSet and the Helm chart's
// rendered output are valid Kubernetes objects (checked offline against the Kubernetes
// OpenAPI schemas bundled in the kubernetes-models package), never privileged, and grant
// exactly gostall's capability list. No cluster runs here; the chart is rendered with
// test/deploy/helm-render (Go text/template + sprig, Helm's own template library).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace } from 'kubernetes-models/v1';
import { capabilityNames } from '../../src/probe-runner/capabilities.js';
import { GOSTALL_BIN } from '../integration/harness.js';
import { PROJECT_ROOT } from './support.js';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
// Structural view of the parts of a DaemonSet the assertions read.
interface PodSpec {
  hostPID?: boolean; nodeSelector?: Record<string, string>; priorityClassName?: string; tolerations?: unknown[];
  containers: { image: string; env?: { name: string; value?: string }[]; resources?: { requests?: object; limits?: object };
    securityContext?: { privileged?: boolean; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
    volumeMounts?: { name: string; mountPath: string }[] }[];
  volumes?: { name: string; hostPath?: { path: string } }[];
}

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'gostall-k8s-')); });
afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
}

/** Validates one object against the Kubernetes schema of its kind; throws naming the field. */
function validate(o: K8sObject): void {
  const models: Record<string, new (x: never) => { validate(): void }> = { DaemonSet, ConfigMap, Namespace };
  const Model = models[o.kind];
  if (!Model) throw new Error(`no schema for kind ${o.kind}`);
  new Model(o as never).validate();
}

function renderChart(values?: Record<string, unknown>): K8sObject[] {
  const args = ['run', join(PROJECT_ROOT, 'test/deploy/helm-render/main.go'), join(PROJECT_ROOT, 'deploy/helm/gostall'), 'gostall', 'tracing'];
  if (values) {
    const file = join(work, 'values.yaml');
    writeFileSync(file, JSON.stringify(values)); // JSON is YAML
    args.push(file);
  }
  const out = execFileSync('go', args, {
    encoding: 'utf8', timeout: 120_000,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(work, 'gocache'), GOFLAGS: '' },
  });
  return parseObjects(out);
}

function podSpec(objects: K8sObject[]): PodSpec {
  const ds = objects.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: PodSpec } } };
  return ds.spec.template.spec;
}

/** What every DaemonSet of gostall must be, whichever way it was made. */
function expectLeastPrivilegeAgent(spec: PodSpec): void {
  const c = spec.containers[0]!;
  expect(spec.hostPID).toBe(true);
  expect(c.securityContext?.privileged).not.toBe(true);
  expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
  expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
  expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
  expect([...(c.securityContext?.capabilities?.add ?? [])].sort()).toEqual(capabilityNames().sort());
  expect(spec.nodeSelector?.['kubernetes.io/os']).toBe('linux');
  expect(spec.priorityClassName).toBeTruthy();
  expect(c.resources?.requests).toBeTruthy();
  expect(c.resources?.limits).toBeTruthy();
  const mounted = (c.volumeMounts ?? []).map((m) => m.mountPath);
  for (const p of ['/sys/kernel/tracing', '/sys/kernel/btf', '/sys/fs/cgroup']) {
    expect(mounted).toContain(p);
    const vol = spec.volumes?.find((v) => v.name === c.volumeMounts!.find((m) => m.mountPath === p)!.name);
    expect(vol?.hostPath?.path).toBe(p);
  }
}

/** The agent.json a ConfigMap carries, checked by gostall's own config loader. */
function expectAgentAcceptsConfig(objects: K8sObject[]): Record<string, unknown> {
  const cm = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  const file = join(work, 'agent.json');
  writeFileSync(file, cm.data['agent.json']!);
  const r = spawnSync(process.execPath, [GOSTALL_BIN, 'agent', '--config', file, '--print-config'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(cm.data['agent.json']!) as Record<string, unknown>;
}

describe('the schema check', () => {
  it('rejects a DaemonSet with a wrongly typed field (the validator is not vacuous)', () => {
    const bad = parseObjects(readFileSync(join(PROJECT_ROOT, 'deploy/kubernetes/gostall-agent.yaml'), 'utf8')).find((o) => o.kind === 'DaemonSet')!;
    const spec = (bad as unknown as { spec: { template: { spec: { hostPID: unknown } } } }).spec.template.spec;
    spec.hostPID = 'yes';
    expect(() => validate(bad)).toThrow(/hostPID must be boolean/);
  });
});

describe('deploy/kubernetes/gostall-agent.yaml', () => {
  const objects = parseObjects(readFileSync(join(PROJECT_ROOT, 'deploy/kubernetes/gostall-agent.yaml'), 'utf8'));

  it('is valid against the Kubernetes schema', () => {
    expect(objects.map((o) => o.kind)).toEqual(['Namespace', 'ConfigMap', 'DaemonSet']);
    for (const o of objects) validate(o);
  });

  it('runs the agent unprivileged with exactly the capability list', () => {
    expectLeastPrivilegeAgent(podSpec(objects));
    expectAgentAcceptsConfig(objects);
  });
});

describe('the Helm chart deploy/helm/gostall', () => {
  it('renders valid objects with its default values', () => {
    const objects = renderChart();
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'DaemonSet']);
    for (const o of objects) validate(o);
    expectLeastPrivilegeAgent(podSpec(objects));
    expect(podSpec(objects).containers[0]!.image).toBe('gostall:0.1.0');
    expectAgentAcceptsConfig(objects);
  });

  it('carries endpoint, executables, resources, tolerations and extra env from the values', () => {
    const objects = renderChart({
      endpoint: 'http://tempo.observability:4318',
      executables: ['go', 'gopls'],
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '2', memory: '2Gi' } },
      tolerations: [{ key: 'ci', operator: 'Equal', value: 'runner', effect: 'NoSchedule' }],
      extraEnv: [{ name: 'OTEL_SERVICE_NAME', value: 'ci-go' }],
      image: { repository: 'registry.example/gostall', tag: '9.9.9' },
    });
    for (const o of objects) validate(o);
    const spec = podSpec(objects);
    expectLeastPrivilegeAgent(spec);
    const config = expectAgentAcceptsConfig(objects);
    expect(config).toMatchObject({ executables: ['go', 'gopls'], export: { endpoint: 'http://tempo.observability:4318' } });
    const c = spec.containers[0]!;
    expect(c.image).toBe('registry.example/gostall:9.9.9');
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '2', memory: '2Gi' } });
    expect(spec.tolerations).toEqual([{ key: 'ci', operator: 'Equal', value: 'runner', effect: 'NoSchedule' }]);
    expect(c.env).toContainEqual({ name: 'OTEL_SERVICE_NAME', value: 'ci-go' });
  });
});
