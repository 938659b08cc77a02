/** Resources per (root executable, container): a few distinct ones on a host, built once each. */
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { executableName, type ProcessNode } from '../model/process.js';
import { buildResource } from './resource.js';

const MAX_CACHED = 256;

export function createResourceCache(env: NodeJS.ProcessEnv): (root: ProcessNode, containerId: string | undefined) => Resource {
  const cache = new Map<string, Resource>();
  return (root, containerId) => {
    const name = executableName(root);
    const key = `${name}\0${containerId ?? ''}`;
    let r = cache.get(key);
    if (r) return r;
    // buildResource names gostall's own container; a trace carries its traced process's.
    const attrs = { ...buildResource(name, env).attributes };
    delete attrs['container.id'];
    if (containerId) attrs['container.id'] = containerId;
    r = resourceFromAttributes(attrs);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, r);
    return r;
  };
}
