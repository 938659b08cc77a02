/**
 * net.dns_failed: a module proxy, checksum database or VCS host did not resolve (no resolver
 * answering, NXDOMAIN, SERVFAIL, timeout), so the download failed. Names the host and the
 * resolver. Go's or git's words say which host; the kernel (DNS replies refused, TCP to
 * port 53) or the resolv.conf the process saw must back them.
 */
import type { Cause, Rule } from '../types.js';
import { exitText, processLabel, wallNs } from '../evidence.js';
import { confirmedDnsFailures, type DnsFailureKind } from '../net-failures.js';
import { listSome, plural } from '../format.js';

export const ID = 'net.dns_failed';

export const THRESHOLDS = {
  /**
   * One failed lookup that made the command fail is enough. Measured here in a network
   * namespace whose resolv.conf names 127.0.0.1 with nothing listening: go build with
   * GOPROXY=https://proxy.golang.org read ECONNREFUSED 4 times on its UDP socket and said
   * "lookup proxy.golang.org on 127.0.0.1:53: … connection refused"; with GOPROXY=direct,
   * git-remote-https said "Could not resolve host: github.com" (glibc's queries are not
   * timed by the probe; the resolv.conf it saw names the resolver).
   */
  minFailures: 1,
} as const;

const MEANING: Record<DnsFailureKind, string> = {
  NXDOMAIN: 'the resolver says the name does not exist (NXDOMAIN)',
  SERVFAIL: 'the resolver failed to answer (SERVFAIL)',
  timeout: 'no answer before the timeout',
  refused: 'nothing answers on the resolver\'s port (connection refused)',
  unresolved: 'the name did not resolve',
};

function hint(host: string, resolvers: string[]): string {
  const where = resolvers.length > 0 ? `nameserver ${resolvers.join(', ')}` : 'the nameservers in /etc/resolv.conf';
  return `make ${host} resolvable where the tool runs: check ${where} answers (\`getent hosts ${host}\`), the container's or VPN's DNS ` +
    'settings; or reach modules through a GOPROXY this machine can resolve (GOPROXY=https://proxy.golang.org or your mirror), ' +
    'and for private hosts set GOPRIVATE/GONOSUMDB so the checksum database is not asked';
}

export const rule: Rule = (root, ctx) => {
  const out: Cause[] = [];
  for (const { f, resolvers, traffic } of confirmedDnsFailures(root, ctx)) {
    // The message may be cut before its reason; refused replies in the kernel say which.
    const kind: DnsFailureKind = f.kind === 'unresolved' && traffic.refusedReads > 0 ? 'refused' : f.kind;
    const resolver = f.resolver ?? (resolvers.length > 0 ? listSome(resolvers) : 'the default resolver');
    const seen = resolvers.length > 0 ? ` (nameserver in the resolv.conf ${processLabel(f.p)} saw: ${listSome(resolvers)})` : '';
    const kernel = [traffic.refusedReads > 0 ? `${plural(traffic.refusedReads, 'DNS reply', 'DNS replies')} refused (read ECONNREFUSED on a UDP socket)` : '',
      traffic.tcp53 > 0 ? `${plural(traffic.tcp53, 'TCP connect')} to port 53` : ''].filter(Boolean).join(', ');
    out.push({
      id: ID, process: f.p,
      evidence: `${f.host} did not resolve with resolver ${resolver}${f.resolver ? '' : seen}: ${MEANING[kind]}` +
        `${kernel ? `; ${kernel}` : ''}; ${processLabel(f.p)} ${exitText(f.p)}: "${f.line.length > 200 ? `${f.line.slice(0, 200)}…` : f.line}"`,
      hint: hint(f.host, resolvers),
      weightNs: wallNs(f.p, ctx), explainsFailure: true,
      attributes: { 'server.address': f.host, ...(f.resolver ?? resolvers[0] ? { 'gostall.cause.resolver': (f.resolver ?? resolvers[0])! } : {}) },
    });
  }
  return out;
};
