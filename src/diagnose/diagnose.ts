/** Runs every rule over a finished tree and ranks what they found. */
import type { ProcessNode } from '../model/process.js';
import { RULES } from './rules/index.js';
import type { Cause, DiagnosisContext, Rule } from './types.js';
import { exitedWithFailure } from './evidence.js';

/**
 * Causes for one tree, ranked by the wall time they explain (when the command failed, the
 * causes of failures first); a rule that throws is skipped, not fatal.
 */
export function diagnose(root: ProcessNode, ctx: DiagnosisContext, rules: Rule[] = RULES): Cause[] {
  const found: Cause[] = [];
  for (const rule of rules) {
    try {
      found.push(...rule(root, ctx));
    } catch (err) {
      process.stderr.write(`gostall: a cause rule failed and was skipped: ${(err as Error).message}\n`);
    }
  }
  const superseded = new Map<ProcessNode, string>();
  for (const c of found) for (const p of c.supersedes ?? []) superseded.set(p, c.id);
  const kept = found.filter((c) => { const by = superseded.get(c.process); return by === undefined || by === c.id; });
  const failed = exitedWithFailure(root);
  const first = (c: Cause): number => (failed && c.explainsFailure ? 1 : 0);
  return kept.sort((a, b) => first(b) - first(a) || b.weightNs - a.weightNs);
}

/** Cause ids in rank order, each once. */
export function rankedIds(causes: Cause[]): string[] {
  return [...new Set(causes.map((c) => c.id))];
}
