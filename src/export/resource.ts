/** The OpenTelemetry resource of a trace: who ran, where. */
import { readContainerId } from '../vocabulary/procfs.js';
import { hostname } from 'node:os';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { Attributes } from '@opentelemetry/api';

export { GOSTALL_VERSION } from '../version.js';
import { GOSTALL_VERSION } from '../version.js';

/** Container id from a process's cgroup paths (docker, containerd, cri-o, podman), if any. */
export const containerIdOf = readContainerId;

/** OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value, values percent-encoded. */
export function parseResourceAttributes(raw: string | undefined): Attributes {
  const out: Attributes = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      out[key] = part.slice(eq + 1).trim();
    }
  }
  return out;
}

/** service.name is the root executable unless OTEL_SERVICE_NAME says otherwise. */
export function buildResource(rootExecutable: string, env: NodeJS.ProcessEnv = process.env): Resource {
  const fromEnv = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
  const attrs: Attributes = {
    ...fromEnv,
    'host.name': hostname(),
    'os.type': process.platform,
    'telemetry.sdk.name': 'gostall',
    'telemetry.sdk.language': 'nodejs',
    'gostall.version': GOSTALL_VERSION,
  };
  const cid = containerIdOf();
  if (cid) attrs['container.id'] = cid;
  // Precedence as the OpenTelemetry SDKs have it: OTEL_SERVICE_NAME, then service.name in
  // OTEL_RESOURCE_ATTRIBUTES, then gostall's default (the root executable).
  attrs['service.name'] = env.OTEL_SERVICE_NAME || (typeof fromEnv['service.name'] === 'string' && fromEnv['service.name']) || rootExecutable;
  return resourceFromAttributes(attrs);
}
