/**
 * net.slow_connect: TCP handshakes that took a second or more: the SYN (or its answer) was
 * dropped and retransmitted — an overloaded server with a full accept queue, a proxy that
 * drops packets, an IPv6 route into a black hole.
 */
import { walk } from '../../model/tree.js';
import type { Cause, Rule } from '../types.js';
import { listSome, formatDuration } from '../format.js';
import { wallNs, distinct } from '../evidence.js';
import { NET_HINT, goproxyFor, peer } from '../network.js';

export const ID = 'net.slow_connect';

export const THRESHOLDS = {
  /**
   * Linux's initial SYN retransmission timeout is 1 s: a handshake that took ≥ 1 s lost at
   * least one SYN or SYN-ACK. Healthy handshakes take well under 1 ms on loopback and one
   * round trip (< 300 ms) across the world.
   */
  minHandshakeNs: 1e9,
} as const;

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const p of walk(root)) {
    const slow = p.connects.filter((c) => c.established && c.durationNs >= THRESHOLDS.minHandshakeNs);
    if (slow.length === 0) continue;
    slow.sort((a, b) => b.durationNs - a.durationNs);
    const worst = slow[0]!;
    const total = slow.reduce((s, c) => s + c.durationNs, 0);
    const proxy = goproxyFor(worst, ctx);
    const peers = distinct(slow.map(peer));
    const evidence = `${slow.length === 1 ? 'the TCP handshake' : `${slow.length} TCP handshakes`} with ` +
      `${listSome(peers)}${proxy ? ` (GOPROXY ${proxy})` : ''} took ${slow.length === 1 ? formatDuration(worst.durationNs) : `up to ${formatDuration(worst.durationNs)}, ${formatDuration(total)} in all`}: ` +
      'the first SYN went unanswered and had to be sent again (server overloaded or packets dropped)';
    out.push({
      id: ID, process: p, evidence, hint: NET_HINT, weightNs: Math.min(wallNs(p, ctx), total),
      attributes: { 'gostall.cause.peer': peer(worst) },
    });
  }
  return out;
};
