/** Causes: the public contract of the diagnose stage (ids never change once published). */
import type { ProcessNode } from '../model/process.js';

export interface Cause {
  /** public id, e.g. fs.slow_metadata (see docs/root-causes.md) */
  id: string;
  /** process whose span carries the evidence */
  process: ProcessNode;
  /** short, with numbers: "p50 newfstatat 41 ms on fuse /workspace" */
  evidence: string;
  /** the fix to print */
  hint: string;
  /** ranking weight: nanoseconds of the run's wall time the cause explains (higher first) */
  weightNs: number;
  /** extra attributes for the span (e.g. gostall.cause.scope) */
  attributes?: Record<string, string | number>;
}

/** What rules may look at besides the process tree. Filled by src/diagnose/context. */
export interface DiagnosisContext {
  /** monotonic ns when the trace ended (for processes still running) */
  endNs: number;
  /** filesystem of a path: type and mount point, when known */
  mountOf(path: string): { fsType: string; mountPoint: string; source: string } | undefined;
  /** extra facts gathered during the run, by name */
  facts: Record<string, unknown>;
}

/** One cause rule: looks at a whole tree, returns what it can prove. */
export type Rule = (root: ProcessNode, ctx: DiagnosisContext) => Cause[];
