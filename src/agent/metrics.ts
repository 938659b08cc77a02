/**
 * The agent's own health, in the Prometheus text exposition format (version 0.0.4), and
 * the tiny HTTP server that serves it: /metrics, and /healthz answering 200 only while
 * the probes are attached. Loss is data: lost events, dropped spans and their reasons are
 * metrics, not only log lines.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Sample { labels?: Record<string, string>; value: number }
export interface MetricFamily { name: string; help: string; type: 'counter' | 'gauge'; samples: Sample[] }

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function renderPrometheus(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels && Object.keys(s.labels).length > 0
        ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
        : '';
      out.push(`${f.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Samples of a map counter, one per label value (an empty map gives no samples). */
export function labelled(label: string, m: ReadonlyMap<string, number>): Sample[] {
  return [...m.entries()].map(([k, v]) => ({ labels: { [label]: k }, value: v }));
}

export interface MetricsServer {
  /** the address actually bound (port 0 picks a free one) */
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serve /metrics and /healthz on host:port. */
export async function startMetricsServer(x: {
  host: string; port: number; metrics: () => MetricFamily[]; healthy: () => { ok: boolean; detail: string };
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    try {
      if (path === '/metrics') {
        const body = renderPrometheus(x.metrics());
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
      } else if (path === '/healthz') {
        const h = x.healthy();
        res.writeHead(h.ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : `${h.detail}\n`);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: try /metrics or /healthz\n');
      }
    } catch (err) {
      res.writeHead(500).end(`${(err as Error).message}\n`);
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: x.host, port: x.port }, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
