/**
 * net.connect_failed: TCP connections that were never established (refused, reset, timed
 * out, unreachable) and not made up for by another connection to the same service.
 */
import { walk } from '../../model/tree.js';
import type { ConnectEvent } from '../../events/types.js';
import type { Cause, Rule } from '../types.js';
import { formatDuration, listSome, plural } from '../format.js';
import { distinct, exitedWithFailure, wallNs } from '../evidence.js';
import { NET_HINT, goproxyFor, peer } from '../network.js';

export const ID = 'net.connect_failed';

export const THRESHOLDS = {
  /**
   * Any failed handshake counts unless the same process later connected to the same port:
   * Go's dialer races IPv6 and IPv4 ("happy eyeballs") and tries every address of a name,
   * so one refused address followed by a working one is normal.
   */
  minUnrecoveredFailures: 1,
  /** A failure faster than this was an answer (RST: refused), slower a silence (timeout). */
  refusedBelowNs: 1e9,
} as const;

function how(c: ConnectEvent): string {
  return c.durationNs < THRESHOLDS.refusedBelowNs
    ? `refused after ${formatDuration(c.durationNs)} (nothing listens there, or a firewall rejects it)`
    : `got no answer for ${formatDuration(c.durationNs)}`;
}

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    const failed = p.connects.filter((c) => !c.established &&
      !p.connects.some((ok) => ok.established && ok.port === c.port && ok.ts > c.ts));
    if (failed.length < THRESHOLDS.minUnrecoveredFailures) continue;
    const first = failed[0]!;
    const proxy = goproxyFor(first, ctx);
    const peers = distinct(failed.map(peer));
    const evidence = `TCP connect to ${listSome(peers)}${proxy ? ` (GOPROXY ${proxy})` : ''} failed ` +
      `${plural(failed.length, 'time')}; the first ${how(first)}${exitedWithFailure(p) ? '; the process failed' : ''}`;
    out.push({
      id: ID, process: p, evidence, hint: NET_HINT,
      weightNs: exitedWithFailure(p) ? wallNs(p, ctx) : failed.reduce((s, c) => s + c.durationNs, 0), explainsFailure: exitedWithFailure(p),
      attributes: { 'gostall.cause.peer': peer(first) },
    });
  }
  return out;
};
