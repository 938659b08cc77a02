/**
 * What module downloads said when they failed, read from the stderr of go and the VCS tools
 * it ran, with the kernel's and the context's view next to it: which host did not resolve
 * and with which resolver, how many DNS replies were refused (read ECONNREFUSED on a UDP
 * socket), whether a VCS child failed. Shared by net.dns_failed and net.module_fetch_failed
 * so that one failure is never both.
 */
import { ERRNO } from '../vocabulary/errno.js';
import { SC } from '../vocabulary/syscalls.js';
import type { ProcessNode } from '../model/process.js';
import { walk } from '../model/tree.js';
import type { DiagnosisContext } from './types.js';
import { exitedWithFailure, stderrLine } from './evidence.js';

const READ_SYSCALLS = new Set([SC.read, SC.pread64]);
const ECONNREFUSED = -ERRNO.ECONNREFUSED;
const DNS_PORT = 53;

export type DnsFailureKind = 'NXDOMAIN' | 'SERVFAIL' | 'timeout' | 'refused' | 'unresolved';

export interface DnsFailure {
  /** the process that said so */
  p: ProcessNode;
  host: string;
  /** the resolver Go named ("127.0.0.1:53"), when it did */
  resolver: string | undefined;
  kind: DnsFailureKind;
  line: string;
}

const HOST = '([A-Za-z0-9][A-Za-z0-9.-]{0,252})';
const GO_LOOKUP = new RegExp(`lookup ${HOST}(?: on ([0-9A-Fa-f.:\\[\\]]{2,64}))?: (.*)$`);
const VCS_RESOLVE = [
  new RegExp(`Could not resolve (?:host|proxy): ${HOST}`),
  new RegExp(`ssh: Could not resolve hostname ${HOST}`),
  new RegExp(`unable to resolve host ${HOST}`),
];
const ANY_DNS = new RegExp([GO_LOOKUP, ...VCS_RESOLVE].map((r) => r.source).join('|'));

function kindOf(text: string): DnsFailureKind {
  if (/no such host|NXDOMAIN|Name or service not known/i.test(text)) return 'NXDOMAIN';
  if (/server misbehaving|SERVFAIL/i.test(text)) return 'SERVFAIL';
  if (/i\/o timeout|timed out|Temporary failure/i.test(text)) return 'timeout';
  if (/connection refused/i.test(text)) return 'refused';
  return 'unresolved';
}

/** A name-resolution failure a process reported on stderr. */
export function dnsFailureOf(p: ProcessNode): DnsFailure | undefined {
  const line = stderrLine(p, ANY_DNS, 400);
  if (!line) return undefined;
  const go = GO_LOOKUP.exec(line);
  if (go) return { p, host: go[1]!.replace(/\.$/, ''), resolver: go[2], kind: kindOf(go[3]!), line };
  for (const re of VCS_RESOLVE) {
    const m = re.exec(line);
    if (m) return { p, host: m[1]!.replace(/\.$/, ''), resolver: undefined, kind: kindOf(line), line };
  }
  return undefined;
}

/** The kernel's view of DNS traffic in a tree: refused UDP replies and TCP connects to port 53. */
export function dnsTraffic(root: ProcessNode): { refusedReads: number; tcp53: number } {
  let refusedReads = 0, tcp53 = 0;
  for (const q of walk(root)) {
    for (const e of q.failedSyscalls) if (READ_SYSCALLS.has(e.sc) && e.ret === ECONNREFUSED && e.path === undefined) refusedReads++;
    for (const c of q.connects) if (c.port === DNS_PORT) tcp53++;
  }
  return { refusedReads, tcp53 };
}

/** The process, or one of its ancestors, failed: what it said explains a failure. */
export function failedInChain(p: ProcessNode): boolean {
  for (let q: ProcessNode | undefined = p; q; q = q.parent) if (exitedWithFailure(q)) return true;
  return false;
}

/**
 * Name-resolution failures of the tree that the kernel or the context backs: DNS replies
 * refused or TCP to port 53 in the tree, or the resolv.conf the process saw.
 */
export function confirmedDnsFailures(root: ProcessNode, ctx: DiagnosisContext): { f: DnsFailure; resolvers: string[]; traffic: ReturnType<typeof dnsTraffic> }[] {
  const out: { f: DnsFailure; resolvers: string[]; traffic: ReturnType<typeof dnsTraffic> }[] = [];
  let traffic: ReturnType<typeof dnsTraffic> | undefined;
  for (const p of walk(root)) {
    const f = dnsFailureOf(p);
    if (!f || !failedInChain(p)) continue;
    traffic ??= dnsTraffic(root);
    const resolvers = ctx.resolversOf?.(p) ?? [];
    if (traffic.refusedReads === 0 && traffic.tcp53 === 0 && resolvers.length === 0) continue;
    out.push({ f, resolvers, traffic });
  }
  return out;
}
