// The collector configs and the compose kit, checked without pulling an image (no registry is
// reachable here): every YAML parses, every collector component exists under its current name in
// the pinned collector release, pipelines are wired, the Grafana dashboard is a valid model over
// provisioned datasources, and every PromQL and TraceQL query (dashboard and docs) parses.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parser as traceql } from '@grafana/lezer-traceql';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { PROJECT_ROOT } from '../support/otlp-decode.js';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : {});
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

function loadYaml(path: string): Obj {
  const doc = parseDocument(readFileSync(path, 'utf8'), { uniqueKeys: true, prettyErrors: true });
  expect(doc.errors.map(String), path).toEqual([]);
  return obj(doc.toJS());
}

const FIXTURE = loadYaml(join(PROJECT_ROOT, 'test/otel-config/fixtures/otelcol-contrib-0.147.0-components.yaml'));
const KINDS = ['receivers', 'processors', 'exporters', 'connectors', 'extensions'] as const;
const OTEL_DIR = join(PROJECT_ROOT, 'otel-config');
const COMPOSE_DIR = join(PROJECT_ROOT, 'deploy/compose');
const collectorConfigs = readdirSync(OTEL_DIR).filter((f) => f.endsWith('.yaml')).map((f) => join(OTEL_DIR, f));

/** A query parses when lezer's tree has no error node. */
function parses(p: typeof traceql | typeof promql, query: string): boolean {
  let ok = true;
  p.parse(query).iterate({ enter: (n) => { if (n.type.isError) ok = false; } });
  return ok && query.trim() !== '';
}

describe.each(collectorConfigs.map((p) => [p.slice(PROJECT_ROOT.length + 1), p]))('%s', (_name, path) => {
  const cfg = loadYaml(path);

  it(`uses only components of otelcol-contrib ${String(FIXTURE.version)}, under their current names`, () => {
    for (const kind of KINDS) {
      for (const id of Object.keys(obj(cfg[kind]))) {
        const type = id.split('/')[0]!;
        expect(list(FIXTURE[kind]), `${kind}.${id}`).toContain(type);
        if (kind === 'exporters') expect(Object.keys(obj(FIXTURE.deprecated)), `${kind}.${id} is a deprecated alias`).not.toContain(type);
      }
    }
  });

  it('wires every pipeline to defined components and uses every component it defines', () => {
    const service = obj(cfg.service);
    const used = new Set<string>();
    for (const [name, raw] of Object.entries(obj(service.pipelines))) {
      const p = obj(raw);
      for (const r of list(p.receivers)) { expect(Object.keys({ ...obj(cfg.receivers), ...obj(cfg.connectors) }), `${name} receiver`).toContain(r); used.add(String(r)); }
      for (const r of list(p.processors)) { expect(Object.keys(obj(cfg.processors)), `${name} processor`).toContain(r); used.add(String(r)); }
      for (const r of list(p.exporters)) { expect(Object.keys({ ...obj(cfg.exporters), ...obj(cfg.connectors) }), `${name} exporter`).toContain(r); used.add(String(r)); }
    }
    for (const e of list(service.extensions)) { expect(Object.keys(obj(cfg.extensions))).toContain(e); used.add(String(e)); }
    for (const kind of KINDS) for (const id of Object.keys(obj(cfg[kind]))) expect(used, `${kind}.${id} is defined but unused`).toContain(id);
  });
});

describe('the gateway', () => {
  const cfg = loadYaml(join(OTEL_DIR, 'collector-gateway.yaml'));
  it('keeps every trace with a cause (root span gostall.cause.primary) and samples the rest', () => {
    const policies = list(obj(obj(cfg.processors).tail_sampling).policies).map(obj);
    const byCause = policies.find((p) => obj(p.string_attribute).key === 'gostall.cause.primary');
    expect(obj(byCause?.string_attribute)).toMatchObject({ values: ['.+'], enabled_regex_matching: true });
    expect(policies.some((p) => p.type === 'probabilistic')).toBe(true);
  });
  it('has span metrics with gostall.cause as a dimension, computed before sampling', () => {
    const dims = list(obj(obj(cfg.connectors).spanmetrics).dimensions).map((d) => obj(d).name);
    expect(dims).toContain('gostall.cause');
    const pipelines = obj(obj(cfg.service).pipelines);
    const entry = Object.values(pipelines).map(obj).find((p) => list(p.receivers).includes('otlp'))!;
    expect(entry.exporters).toContain('spanmetrics');
    expect(list(entry.processors)).not.toContain('tail_sampling');
  });
});

describe('the DaemonSet collector', () => {
  it('adds Kubernetes metadata for its own node and routes by trace id', () => {
    const cfg = loadYaml(join(OTEL_DIR, 'collector-daemonset.yaml'));
    const k8s = obj(obj(cfg.processors).k8sattributes);
    expect(obj(k8s.filter).node_from_env_var).toBe('K8S_NODE_NAME');
    expect(list(obj(k8s.extract).metadata)).toEqual(expect.arrayContaining(['k8s.namespace.name', 'k8s.pod.name', 'k8s.node.name']));
    expect(obj(obj(cfg.exporters).loadbalancing).routing_key).toBe('traceID');
  });
});

describe('deploy/compose', () => {
  const compose = loadYaml(join(COMPOSE_DIR, 'compose.yaml'));
  const services = obj(compose.services);

  it('runs the collector, Jaeger, Tempo, Prometheus and Grafana from pinned images', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'jaeger', 'otel-collector', 'prometheus', 'tempo']);
    for (const [name, s] of Object.entries(services)) expect(String(obj(s).image), name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    expect(obj(services['otel-collector']).image).toBe(`otel/opentelemetry-collector-contrib:${String(FIXTURE.version)}`);
  });

  it('mounts files that exist, the collector the gateway config itself', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of list(obj(s).volumes).map(String)) {
        const src = v.split(':')[0]!;
        if (!src.startsWith('.')) continue; // a named volume
        expect(existsSync(resolve(COMPOSE_DIR, src)), `${name}: ${src}`).toBe(true);
      }
    }
    expect(list(obj(services['otel-collector']).volumes)[0]).toMatch(/^\.\.\/\.\.\/otel-config\/collector-gateway\.yaml:/);
  });

  it('sends traces to services of the kit, and scrapes the span metrics the gateway exports', () => {
    const gw = loadYaml(join(OTEL_DIR, 'collector-gateway.yaml'));
    for (const [id, e] of Object.entries(obj(gw.exporters))) {
      const endpoint = String(obj(e).endpoint ?? '');
      if (id.startsWith('otlp_grpc')) expect(Object.keys(services)).toContain(endpoint.split(':')[0]);
    }
    const prom = loadYaml(join(COMPOSE_DIR, 'prometheus.yml'));
    const targets = list(prom.scrape_configs).flatMap((c) => list(obj(c).static_configs).flatMap((s) => list(obj(s).targets)));
    expect(targets).toContain(`otel-collector:${String(obj(obj(gw.exporters).prometheus).endpoint).split(':')[1]}`);
  });

  it('provisions the datasources and a valid Grafana dashboard over them', () => {
    const ds = loadYaml(join(COMPOSE_DIR, 'grafana/provisioning/datasources/datasources.yaml'));
    expect(ds.apiVersion).toBe(1);
    const uids = list(ds.datasources).map((d) => obj(d).uid);
    expect(new Set(uids).size).toBe(uids.length);
    const providers = loadYaml(join(COMPOSE_DIR, 'grafana/provisioning/dashboards/dashboards.yaml'));
    expect(obj(obj(list(providers.providers)[0]).options).path).toBe('/var/lib/grafana/dashboards');

    const dash = JSON.parse(readFileSync(join(COMPOSE_DIR, 'grafana/dashboards/go-tooling.json'), 'utf8')) as Obj;
    expect(dash.title).toBe('Go tooling: causes over time, slowest processes, agent health');
    expect(typeof dash.uid).toBe('string');
    expect(Number.isInteger(dash.schemaVersion)).toBe(true);
    const panels = list(dash.panels).map(obj);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const KNOWN = ['row', 'timeseries', 'table', 'stat', 'bargauge', 'gauge', 'text', 'barchart', 'piechart', 'traces'];
    for (const p of panels) {
      expect(KNOWN, String(p.title)).toContain(p.type);
      const g = obj(p.gridPos);
      for (const k of ['x', 'y', 'w', 'h']) expect(Number.isInteger(g[k]), `${String(p.title)} gridPos.${k}`).toBe(true);
      expect(Number(g.x) + Number(g.w)).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(uids, String(p.title)).toContain(obj(p.datasource).uid);
      const targets = list(p.targets).map(obj);
      expect(targets.length, String(p.title)).toBeGreaterThan(0);
      for (const t of targets) {
        expect(uids).toContain(obj(t.datasource).uid);
        if (typeof t.expr === 'string') {
          // Grafana replaces its variables before the query reaches Prometheus.
          const expr = t.expr.replace(/\$__rate_interval|\$__range|\$__interval/g, '5m');
          expect(parses(promql, expr), `PromQL of "${String(p.title)}": ${t.expr}`).toBe(true);
        }
        if (t.queryType === 'traceql') expect(parses(traceql, String(t.query)), `TraceQL of "${String(p.title)}"`).toBe(true);
      }
    }
    const cause = panels.find((p) => list(p.targets).some((t) => String(obj(t).expr).includes('gostall_cause')));
    expect(cause, 'a panel of causes over time').toBeDefined();
    expect(panels.some((p) => list(p.targets).some((t) => String(obj(t).expr).includes('gostall_tracer_up')))).toBe(true);
  });
});

describe('TraceQL in the docs', () => {
  const docs = [join(COMPOSE_DIR, 'README.md'), join(PROJECT_ROOT, 'docs/report.md')];
  const queries = docs.flatMap((d) => [...readFileSync(d, 'utf8').matchAll(/```traceql\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n').filter((l) => l.trim() !== '')).map((q) => [dirname(d).slice(PROJECT_ROOT.length + 1) || '.', q]));
  it('has queries to check', () => { expect(queries.length).toBeGreaterThanOrEqual(3); });
  it.each(queries)('%s: %s parses', (_doc, q) => { expect(parses(traceql, q!)).toBe(true); });
  it('rejects a broken query (the parser is not accepting everything)', () => {
    expect(parses(traceql, '{ span.gostall.cause = ')).toBe(false);
    expect(parses(promql, 'sum(rate(x[5m]')).toBe(false);
  });
});
