/** Runs every rule over a finished tree and ranks what they found. */
import type { ProcessNode } from '../model/process.js';
import { RULES } from './rules/index.js';
import type { Cause, DiagnosisContext, Rule } from './types.js';

/** Causes for one tree, ranked by the wall time they explain; a rule that throws is skipped, not fatal. */
export function diagnose(root: ProcessNode, ctx: DiagnosisContext, rules: Rule[] = RULES): Cause[] {
  const found: Cause[] = [];
  for (const rule of rules) {
    try {
      found.push(...rule(root, ctx));
    } catch (err) {
      process.stderr.write(`gostall: a cause rule failed and was skipped: ${(err as Error).message}\n`);
    }
  }
  return found.sort((a, b) => b.weightNs - a.weightNs);
}

/** Cause ids in rank order, each once. */
export function rankedIds(causes: Cause[]): string[] {
  return [...new Set(causes.map((c) => c.id))];
}
