/** What net.slow_connect and net.connect_failed share: naming the peer and the fix. */
import type { ConnectEvent } from '../events/types.js';
import type { DiagnosisContext } from './types.js';

/** "127.0.0.1:8080", "[::1]:443" */
export function peer(c: Pick<ConnectEvent, 'address' | 'port'>): string {
  return c.address.includes(':') ? `[${c.address}]:${c.port}` : `${c.address}:${c.port}`;
}

/** Whether the peer is the host of one of the GOPROXY URLs (by literal address: DNS is not traced). */
export function goproxyFor(c: Pick<ConnectEvent, 'address' | 'port'>, ctx: DiagnosisContext): string | undefined {
  const raw = ctx.go?.GOPROXY;
  if (!raw) return undefined;
  for (const entry of raw.split(/[,|]/)) {
    try {
      const u = new URL(entry);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      if (host === c.address && port === c.port) return entry;
    } catch {
      /* "direct", "off" */
    }
  }
  return undefined;
}

export const NET_HINT = 'check that the server is up and reachable from here (proxy, DNS, IPv6 route, firewall); ' +
  'for module downloads set GOPROXY to a reachable mirror, GOPRIVATE/GONOSUMDB for private modules, or HTTPS_PROXY for a corporate proxy';
