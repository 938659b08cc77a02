/**
 * net.module_fetch_failed: a module download failed for a reason other than name resolution
 * or an unreachable host (net.dns_failed, net.connect_failed): GOPROXY=off with the module
 * not in the cache, a proxy answering with an HTTP error, GOPROXY=direct needing a VCS tool
 * that failed (git ls-remote, authentication, no git), or the checksum database refusing.
 * Names the variable to change. Go's words say which; the environment the go command had,
 * a failed VCS child or a connect to the proxy must back them.
 */
import type { ProcessNode } from '../../model/process.js';
import { executableName } from '../../model/process.js';
import { vcsStampingTool } from '../../model/go-vcs.js';
import { walk } from '../../model/tree.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { exitText, exitedWithFailure, isGoCommand, perProcess, processLabel, stderrLine, wallNs } from '../evidence.js';
import { confirmedDnsFailures } from '../net-failures.js';
import { redactGoProxy } from '../context-go-env.js';
import { redactUrlsInText } from '../../model/redact.js';

export const ID = 'net.module_fetch_failed';

export const THRESHOLDS = {
  /**
   * The go command must have failed, saying so, and what it said must match its setting or
   * the kernel: measured here, GOPROXY=off makes `go build` of a module with a missing
   * requirement fail in ~30 ms ("module lookup disabled by GOPROXY=off"); GOPROXY at a local
   * server answering 404 fails after one established connect; GOPROXY=direct with git unable
   * to read the repository fails with git ls-remote exiting 128.
   */
  mustFail: true,
} as const;

const VCS = new Set(['git', 'hg', 'svn', 'bzr', 'fossil', 'git-remote-http', 'git-remote-https']);

interface Finding { what: string; variable: string; hint: string; quote: string; backing: string }

/** The go command's environment variable, as it had it. */
function envVar(p: ProcessNode, ctx: DiagnosisContext, name: string): string | undefined {
  return ctx.envOf?.(p)?.[name];
}

/** GOPROXY as it may be shown (credentials and query strings removed). */
function shownProxy(p: ProcessNode, ctx: DiagnosisContext): string | undefined {
  const own = envVar(p, ctx, 'GOPROXY');
  return own !== undefined ? redactGoProxy(own) : ctx.goEnvOf?.(p)?.GOPROXY;
}

function goproxyOff(g: ProcessNode, ctx: DiagnosisContext): Finding | undefined {
  const quote = stderrLine(g, /module lookup disabled by GOPROXY=off|GOFLAGS=-mod=mod.*GOPROXY=off/);
  if (!quote || envVar(g, ctx, 'GOPROXY') !== 'off') return undefined;
  return {
    what: 'GOPROXY=off forbids downloads and a required module is not in the module cache', variable: 'GOPROXY', quote,
    backing: 'GOPROXY=off in its environment',
    hint: 'set GOPROXY to a proxy (GOPROXY=https://proxy.golang.org,direct or your mirror), or fill the module cache first (go mod download with network) or vendor the modules (go mod vendor)',
  };
}

function proxyHttpError(g: ProcessNode, ctx: DiagnosisContext): Finding | undefined {
  const quote = stderrLine(g, /(?:reading|Get) "?https?:\/\/\S+"?: (?:[45]\d\d\b|.*\b(?:404 Not Found|410 Gone|403 Forbidden|401 Unauthorized))/);
  if (!quote) return undefined;
  const status = /\b([45]\d\d)\b/.exec(quote)?.[1] ?? 'an HTTP error';
  const established = [...walk(g)].reduce((n, q) => n + q.connects.filter((c) => c.established).length, 0);
  const proxy = shownProxy(g, ctx);
  if (established === 0 && !proxy) return undefined;
  const notFound = status === '404' || status === '410';
  return {
    what: `the module proxy answered HTTP ${status}`, variable: notFound ? 'GOPRIVATE' : 'GOPROXY', quote,
    backing: [established > 0 ? `${established} TCP connection(s) established` : '', proxy ? `GOPROXY=${proxy}` : ''].filter(Boolean).join(', '),
    hint: notFound
      ? 'the proxy does not have the module: for a private module set GOPRIVATE (or GONOPROXY) to its path pattern so go fetches it directly; otherwise check the module path and version'
      : 'the proxy refused or failed: check GOPROXY (URL, credentials in .netrc) or use another proxy; add ",direct" to let go fall back to the VCS',
  };
}

function vcsFailure(g: ProcessNode, ctx: DiagnosisContext): Finding | undefined {
  // git status run to stamp the binary is go.vcs_stamping, not a download
  const failedVcs = [...walk(g)].filter((q) => q !== g && q.exec && VCS.has(executableName(q)) && exitedWithFailure(q) && !vcsStampingTool(q));
  const noGit = stderrLine(g, /exec: "(git|hg|svn|bzr|fossil)": executable file not found in \$PATH/);
  if (failedVcs.length === 0 && !noGit) return undefined;
  const goSaid = stderrLine(g, /ls-remote|fatal:|exit status|unknown revision|terminal prompts disabled|repository not found|Permission denied/);
  const vcsSaid = failedVcs.map((q) => stderrLine(q, /fatal:|error:|abort:|denied|not found|could not/i)).find(Boolean);
  const quote = noGit ?? vcsSaid ?? goSaid;
  if (!quote) return undefined;
  const proxy = shownProxy(g, ctx);
  return {
    what: `fetching the module straight from its repository${proxy ? ` (GOPROXY=${proxy})` : ''} needs ${noGit ? 'a VCS tool that is not installed' : 'the VCS, which failed'}`,
    variable: 'GOPROXY', quote,
    backing: noGit ? 'the VCS tool is not on its PATH' : failedVcs.map((q) => `${processLabel(q)} ${exitText(q)}`).join(', '),
    hint: noGit
      ? 'install the VCS tool (apt-get install git), or fetch through a module proxy: GOPROXY=https://proxy.golang.org,direct'
      : 'fetch through a module proxy (GOPROXY=https://proxy.golang.org,direct) unless the module is private; for a private repository set GOPRIVATE and give git its credentials (.netrc, a credential helper, or url.insteadOf to ssh)',
  };
}

function sumdbFailure(g: ProcessNode, ctx: DiagnosisContext): Finding | undefined {
  const quote = stderrLine(g, /verifying (?:module|go\.mod|.*@v).*(?:sum\.golang\.org|checksum database|GOSUMDB|checksum mismatch|SECURITY ERROR)|SECURITY ERROR|checksum mismatch/);
  if (!quote) return undefined;
  // GOSUMDB may name its server by URL ("name+key https://user:pw@host"): shown without credentials
  const sumdb = redactUrlsInText(envVar(g, ctx, 'GOSUMDB') ?? 'sum.golang.org');
  if (sumdb === 'off' && !/mismatch|SECURITY/.test(quote)) return undefined;
  const mismatch = /mismatch|SECURITY/.test(quote);
  return {
    what: mismatch ? 'the downloaded module does not match its recorded checksum' : `the checksum database (${sumdb}) could not confirm the module`,
    variable: mismatch ? 'GOFLAGS/GONOSUMCHECK' : 'GOSUMDB', quote, backing: `GOSUMDB=${sumdb}`,
    hint: mismatch
      ? 'a module changed after it was published, or a proxy serves other content: check go.sum and the proxy; never disable verification to get past it'
      : 'for private modules set GONOSUMDB (or GOPRIVATE) to their path pattern; otherwise make the checksum database reachable or set GOSUMDB to your mirror',
  };
}

function judge(g: ProcessNode, ctx: DiagnosisContext, dnsClaimed: Set<ProcessNode>): Cause | undefined {
  if (!isGoCommand(g) || !exitedWithFailure(g)) return undefined;
  if ([...walk(g)].some((q) => dnsClaimed.has(q))) return undefined;
  // An unreachable proxy or VCS host is net.connect_failed's.
  if ([...walk(g)].some((q) => q.connects.some((c) => !c.established))) return undefined;
  const f = goproxyOff(g, ctx) ?? proxyHttpError(g, ctx) ?? vcsFailure(g, ctx) ?? sumdbFailure(g, ctx);
  if (!f) return undefined;
  return {
    id: ID, process: g,
    evidence: `${f.what} (${f.backing}); ${processLabel(g)} ${exitText(g)}: "${f.quote}"`,
    hint: f.hint, weightNs: wallNs(g, ctx), explainsFailure: true,
    attributes: { 'gostall.cause.variable': f.variable },
  };
}

export const rule: Rule = (root, ctx) => {
  const dnsClaimed = new Set(confirmedDnsFailures(root, ctx).map((x) => x.f.p));
  // One cause per failed download: the outermost go command that failed over it.
  const out: Cause[] = [];
  for (const c of perProcess((p, x) => judge(p, x, dnsClaimed))(root, ctx)) {
    if (!out.some((o) => isAncestor(o.process, c.process))) out.push(c);
  }
  return out;
};

function isAncestor(a: ProcessNode, b: ProcessNode): boolean {
  for (let q = b.parent; q; q = q.parent) if (q === a) return true;
  return false;
}
