/** The replay path the bench measures: parse a line and feed the process tree, as `run` does. */
import { parseLine } from '../src/events/parse.js';
import type { ProcessTree } from '../src/model/tree.js';

export interface FeedCounts { lines: number; events: number; malformed: number }

/** One line into the tree; a ready record seeds its root the way `run` adds the shim. */
export function feedLine(tree: ProcessTree, line: string, counts: FeedCounts): void {
  counts.lines++;
  const r = parseLine(line);
  if (r.ok === true) {
    counts.events++;
    if (r.event.kind === 'ready') tree.addRoot(r.event.rootPid, r.event.ts);
    tree.add(r.event);
  } else if (r.ok === false) {
    counts.malformed++;
  }
}
