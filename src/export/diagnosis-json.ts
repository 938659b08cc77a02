/** --json: the diagnosis as JSON for scripts (same content as the terminal summary). */
import { displayName, type ProcessNode } from '../model/process.js';
import type { Cause } from '../diagnose/types.js';
import { writePrivate } from './private-file.js';

interface Published { traceId: string; causes: Cause[] }

export function diagnosisJson(root: ProcessNode, published: Pick<Published, 'traceId' | 'causes'>, endNs: number): object {
  return {
    traceId: published.traceId,
    command: displayName(root),
    wallNs: (root.endNs ?? endNs) - root.startNs,
    causes: published.causes.map((c) => ({
      id: c.id, pid: c.process.pid, process: displayName(c.process), evidence: c.evidence, hint: c.hint,
      weightNs: c.weightNs, attributes: c.attributes ?? {},
    })),
  };
}

/** The file's text: what --json writes, from Node or, through an agent, from bin/gostall. */
export function diagnosisJsonText(root: ProcessNode, published: Pick<Published, 'traceId' | 'causes'>, endNs: number): string {
  return `${JSON.stringify(diagnosisJson(root, published, endNs), null, 2)}\n`;
}

export async function writeDiagnosisJson(target: string, root: ProcessNode, published: Published, endNs: number): Promise<void> {
  await writePrivate(target, diagnosisJsonText(root, published, endNs));
}
