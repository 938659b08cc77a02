/**
 * The go command's own phases (its -debug-trace, ../model/go-phases.ts) as spans under its
 * process span: `load.PackagesAndErrors`, `exec.Builder.Do (…)`, and one `action build
 * net/http` per action a worker executed, nested by time under the main goroutine's phase
 * that contains it. Joined with what the kernel saw: an action whose package was compiled by
 * a compile process during it says `go.action.compiled = true`; one that ran no compile
 * (found in GOCACHE, or an up-to-date package in GOROOT/pkg) says false. An action that
 * waited for a free worker after its dependencies were done says how long (the go command's
 * -p at work: what more parallelism, or fewer CPUs taken by other work, would change).
 */
import type { Attributes, SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { WallClock } from '../model/clock.js';
import { goActionOf, packageLabel } from '../model/go-action.js';
import type { GoPhase, GoPhases } from '../model/go-phases.js';
import type { ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import { newSpanId, spanContextOf } from './span-ids.js';
import { makeSpan } from './spans.js';

/** Attributes the go process span gets when its phases joined the trace. */
export function goPhaseCounts(phases: GoPhases): Attributes {
  let slotWaitNs = 0;
  for (const p of phases.phases) if (p.readyEpochNs !== undefined) slotWaitNs += Math.max(0, p.startEpochNs - p.readyEpochNs);
  return {
    'go.debug_trace.phases': phases.phases.length, 'go.debug_trace.folded': phases.folded, 'go.debug_trace.unmatched': phases.unmatched,
    'go.debug_trace.slot_wait_ns': slotWaitNs,
  };
}

/** Compile processes under the go process, by package, as monotonic intervals. */
function compilesByPackage(go: ProcessNode, endNs: number): Map<string, { startNs: number; endNs: number }[]> {
  const out = new Map<string, { startNs: number; endNs: number }[]>();
  for (const p of walk(go)) {
    const a = goActionOf(p);
    if (a?.kind !== 'compile') continue;
    const label = packageLabel(p, a);
    if (label === undefined) continue;
    const list = out.get(label) ?? [];
    list.push({ startNs: p.startNs, endNs: p.endNs ?? endNs });
    out.set(label, list);
  }
  return out;
}

export function goPhaseSpans(x: {
  go: ProcessNode; phases: GoPhases; parent: SpanContext; endNs: number; clock: WallClock; resource: Resource;
}): ReadableSpan[] {
  const epochOfZero = x.clock.toEpochNs(0);
  const mono = (epochNs: number): number => epochNs - epochOfZero;
  const compiles = compilesByPackage(x.go, x.endNs);
  // the main goroutine's phases contain the others (the builder contains the actions)
  const containers: { phase: GoPhase; context: SpanContext }[] = [];
  const out: ReadableSpan[] = [];
  for (const phase of x.phases.phases) {
    let parent = x.parent;
    for (let i = containers.length - 1; i >= 0; i--) {
      const c = containers[i]!.phase;
      if (c.startEpochNs <= phase.startEpochNs && c.endEpochNs >= phase.endEpochNs) { parent = containers[i]!.context; break; }
    }
    const context = spanContextOf(x.parent.traceId, newSpanId());
    if (phase.worker === 0 && !phase.action) containers.push({ phase, context });
    const startNs = mono(phase.startEpochNs);
    const endNs = mono(phase.endEpochNs);
    const attributes: Attributes = { 'go.phase': phase.name, 'go.worker': phase.worker };
    if (phase.action) {
      attributes['go.action.mode'] = phase.action.mode;
      attributes['go.action.target'] = phase.action.target;
      if (phase.readyEpochNs !== undefined) attributes['go.action.slot_wait_ns'] = Math.max(0, phase.startEpochNs - phase.readyEpochNs);
      if (phase.action.mode === 'build') {
        attributes['go.package'] = phase.action.target;
        attributes['go.action.compiled'] = (compiles.get(phase.action.target) ?? []).some((c) => c.startNs < endNs && c.endNs > startNs);
      }
    }
    const name = phase.action ? `action ${phase.action.mode} ${phase.action.target}` : phase.name;
    out.push(makeSpan({ name, context, parent, startNs, endNs, attributes, resource: x.resource, clock: x.clock }));
  }
  return out;
}
