/** The OpenTelemetry resource of a trace: who ran, where, and what made the spans. */
import { readContainerId } from '../vocabulary/procfs.js';
import { hostname } from 'node:os';
import { SDK_INFO } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { Attributes } from '@opentelemetry/api';
import { GOSTALL_VERSION } from '../version.js';
import { resolveResourceSettings, type ResourceSettings } from './settings.js';

export { GOSTALL_VERSION };

/** Container id from a process's cgroup paths (docker, containerd, cri-o, podman), if any. */
export const containerIdOf = readContainerId;

/**
 * service.name is the root executable unless OTEL_SERVICE_NAME says otherwise. `from` is
 * the resolved settings (settings.ts parses the variables), or an environment to resolve.
 */
export function buildResource(rootExecutable: string, from: ResourceSettings | NodeJS.ProcessEnv = process.env): Resource {
  const settings = isResourceSettings(from) ? from : resolveResourceSettings(from);
  const fromEnv = settings.attributes;
  const attrs: Attributes = {
    ...fromEnv,
    'host.name': hostname(),
    'os.type': process.platform,
    // The spans are made by OpenTelemetry JS's SDK; gostall is the distribution around it.
    'telemetry.sdk.name': SDK_INFO['telemetry.sdk.name'],
    'telemetry.sdk.language': SDK_INFO['telemetry.sdk.language'],
    'telemetry.sdk.version': SDK_INFO['telemetry.sdk.version'],
    'telemetry.distro.name': 'gostall',
    'telemetry.distro.version': GOSTALL_VERSION,
    'gostall.version': GOSTALL_VERSION,
  };
  if (typeof fromEnv['service.version'] !== 'string') attrs['service.version'] = GOSTALL_VERSION;
  const cid = containerIdOf();
  if (cid) attrs['container.id'] = cid;
  // Precedence as the OpenTelemetry SDKs have it: OTEL_SERVICE_NAME, then service.name in
  // OTEL_RESOURCE_ATTRIBUTES, then gostall's default (the root executable).
  attrs['service.name'] = settings.serviceName || (typeof fromEnv['service.name'] === 'string' && fromEnv['service.name']) || rootExecutable;
  return resourceFromAttributes(attrs);
}

function isResourceSettings(x: ResourceSettings | NodeJS.ProcessEnv): x is ResourceSettings {
  return typeof (x as ResourceSettings).attributes === 'object' && (x as ResourceSettings).attributes !== null;
}
