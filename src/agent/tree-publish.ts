/**
 * Spans of a finished tree, or of a finished subtree of a tree whose root still runs, with
 * the process span ids the agent assigned up front (so episodes and windows exported
 * earlier hang under the right spans). Diagnosis and span building are the same as for
 * `gostall run` (diagnose + buildTraceSpans); only the ids are rebased afterwards.
 */
import type { Attributes, SpanContext } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { diagnose, rankedIds } from '../diagnose/diagnose.js';
import type { Cause, DiagnosisContext } from '../diagnose/types.js';
import { CollectingSpanProcessor } from '../export/collect.js';
import { buildResource, containerIdOf } from '../export/resource.js';
import { buildTraceSpans } from '../export/spans.js';
import type { WallClock } from '../model/clock.js';
import { executableName, type ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { type IdRegistry } from './span-context.js';
import { rebaseSpan } from './span-context.js';

export interface PublishInput {
  /** the tree's root, or the top of a finished subtree */
  node: ProcessNode;
  /**
   * the span node hangs under when the model no longer links it to its parent: an orphan
   * detached from a tree published before it (then node is not the trace's root)
   */
  parentContext?: SpanContext;
  ids: IdRegistry;
  clock: WallClock;
  thresholdNs: number;
  endNs: number;
  ctx: DiagnosisContext;
  resource: Resource;
  /** attributes for the trace's root span (only when node is the root) */
  rootAttributes: Attributes;
  /** cause ids found earlier in this trace (episodes, subtrees published before) */
  earlierCauseIds: string[];
  /** extra attributes per process span (tracer gaps, adoption) */
  processAttributes: (p: ProcessNode) => Attributes | undefined;
}

export interface PublishOutput { spans: ReadableSpan[]; causes: Cause[] }

const ROOT_ONLY = ['gostall.causes', 'gostall.cause.primary'];

export async function buildTreeSpans(x: PublishInput): Promise<PublishOutput> {
  const isRoot = x.node.parent === undefined && x.parentContext === undefined;
  const causes = diagnose(x.node, x.ctx);
  const collector = new CollectingSpanProcessor();
  const provider = new BasicTracerProvider({
    resource: x.resource,
    spanProcessors: [collector],
    spanLimits: { attributeCountLimit: 256, attributeValueLengthLimit: 4096 },
  });
  await buildTraceSpans(provider.getTracer('gostall'), x.node, {
    clock: x.clock, thresholdNs: x.thresholdNs, endNs: x.endNs, causes, rootAttributes: isRoot ? x.rootAttributes : {},
  });
  const built = collector.drain();
  await provider.shutdown();

  // Process spans end in walk order (each after its evidence spans); evidence spans never
  // carry process.pid. Pair them up with the nodes and check the pids agree.
  const nodes = [...walk(x.node)];
  const processSpans = built.filter((s) => s.attributes['process.pid'] !== undefined && s.attributes['thread.id'] === undefined);
  const nodeOfSpan = new Map<string, ProcessNode>();
  if (processSpans.length === nodes.length && processSpans.every((s, i) => s.attributes['process.pid'] === nodes[i]!.pid)) {
    processSpans.forEach((s, i) => nodeOfSpan.set(s.spanContext().spanId, nodes[i]!));
  } else {
    // Defensive: match by pid and start time if span building ever changes its order.
    for (const s of processSpans) {
      const n = nodes.find((p) => p.pid === s.attributes['process.pid'] && Math.abs(x.clock.toEpochNs(p.startNs) - (s.startTime[0] * 1e9 + s.startTime[1])) < 2_000);
      if (n) nodeOfSpan.set(s.spanContext().spanId, n);
    }
  }

  const traceId = x.ids.of(x.node).traceId;
  const newId = new Map<string, string>();
  for (const [old, n] of nodeOfSpan) newId.set(old, x.ids.of(n).spanId);
  const topParent: SpanContext | undefined = x.parentContext ?? (x.node.parent ? x.ids.contextOf(x.node.parent) : undefined);
  const out: ReadableSpan[] = [];
  for (const s of built) {
    const old = s.spanContext().spanId;
    const node = nodeOfSpan.get(old);
    const parentOld = s.parentSpanContext?.spanId;
    let parent: SpanContext | undefined;
    if (parentOld !== undefined && s.parentSpanContext) {
      parent = { ...s.parentSpanContext, traceId, spanId: newId.get(parentOld) ?? parentOld };
    } else if (node === x.node) {
      parent = topParent;
    }
    let attributes: Attributes | undefined;
    if (node) {
      const extra = x.processAttributes(node);
      if (extra || (node === x.node && (!isRoot || x.earlierCauseIds.length > 0))) {
        attributes = { ...s.attributes, ...(extra ?? {}) };
        if (node === x.node && !isRoot) for (const k of ROOT_ONLY) delete attributes[k];
        if (node === x.node && isRoot && x.earlierCauseIds.length > 0) {
          const ids = [...new Set([...rankedIds(causes), ...x.earlierCauseIds])];
          attributes['gostall.causes'] = ids;
          if (ids[0] !== undefined) attributes['gostall.cause.primary'] = ids[0];
        }
      }
    }
    out.push(rebaseSpan(s, { traceId, spanId: newId.get(old) ?? old }, parent, attributes));
  }
  return { spans: out, causes };
}

/** Resources per (root executable, container): a few distinct ones on a host, built once each. */
export function createResourceCache(env: NodeJS.ProcessEnv): (root: ProcessNode, containerId: string | undefined) => Resource {
  const cache = new Map<string, Resource>();
  return (root, containerId) => {
    const name = executableName(root);
    const key = `${name}\0${containerId ?? ''}`;
    let r = cache.get(key);
    if (r) return r;
    // buildResource names gostall's own container; the agent reports the traced process's.
    const attrs = { ...buildResource(name, env).attributes };
    delete attrs['container.id'];
    if (containerId) attrs['container.id'] = containerId;
    r = resourceFromAttributes(attrs);
    if (cache.size >= 256) cache.clear();
    cache.set(key, r);
    return r;
  };
}

export { containerIdOf };
