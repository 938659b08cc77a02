/**
 * go.toolchain_mismatch: the module needs a newer Go than the one that ran (go.mod's go or
 * toolchain line), and the build failed over it: Go 1.19 meets `go 1.30` and an import of a
 * package it does not have ("package slices is not in GOROOT"), or a newer Go cannot switch
 * to the toolchain go.mod names (GOTOOLCHAIN=local, or the download failed or was blocked).
 * The go.mod on disk and the running Go's version must agree with what Go said.
 */
import type { ProcessNode } from '../../model/process.js';
import type { Cause, DiagnosisContext, Rule } from '../types.js';
import { execDir, exitText, exitedWithFailure, goCommandDir, isGoCommand, perProcess, processLabel, stderrLine, wallNs } from '../evidence.js';
import { compareGoVersions } from '../context-go-files.js';
import { absolutePath } from '../context-paths.js';

export const ID = 'go.toolchain_mismatch';

export const THRESHOLDS = {
  /**
   * The go command must have failed and said something about versions or standard packages:
   * measured here, Go 1.19 with `go 1.30` in go.mod and `import "slices"` fails with exit 1
   * and "package slices is not in GOROOT (/usr/lib/go-1.19/src/slices)"; a module that only
   * declares a newer go line but builds is not a failure to explain.
   */
  mustFail: true,
} as const;

/** What Go prints when the module's Go version is the problem (1.19 through 1.23). */
const VERSION_TROUBLE = new RegExp([
  'is not in GOROOT', 'note: module requires Go', 'requires go >= ', 'go\\.mod requires go', 'toolchain not available',
  'GOTOOLCHAIN', 'downloading go\\d', 'invalid go version', 'unknown directive: toolchain', 'switching to go\\d',
].join('|'));

function hint(needed: string, running: string | undefined): string {
  return `install Go ${needed} or newer (or let a Go >= 1.21 download it: GOTOOLCHAIN=auto with GOPROXY reachable)` +
    `${running ? `; the go that ran is ${running}` : ''}; or lower the go line of go.mod if the module does not need the newer Go`;
}

function judge(p: ProcessNode, ctx: DiagnosisContext): Cause | undefined {
  if (!isGoCommand(p) || !exitedWithFailure(p) || !ctx.goModuleOf) return undefined;
  const said = stderrLine(p, VERSION_TROUBLE);
  const dir = goCommandDir(p, ctx);
  if (!said || !dir) return undefined;
  const mod = ctx.goModuleOf(dir);
  if (!mod) return undefined;
  // A GOROOT that is not a Go tree is go.goroot_invalid's failure, whatever go.mod asks for.
  const goroot = ctx.goEnvOf?.(p)?.GOROOT;
  if (goroot && ctx.inspectGoroot && !ctx.inspectGoroot(goroot).isGoTree) return undefined;
  const running = runningVersion(p, ctx);
  if (!running) return undefined;
  const needs = [mod.go ? { what: `go ${mod.go}`, v: mod.go } : undefined,
    mod.toolchain && mod.toolchain !== 'default' ? { what: `toolchain ${mod.toolchain}`, v: mod.toolchain } : undefined]
    .filter((x): x is { what: string; v: string } => x !== undefined && compareGoVersions(x.v, running) > 0);
  if (needs.length === 0) return undefined;
  const want = needs[needs.length - 1]!;
  const toolchainVar = ctx.envOf?.(p)?.GOTOOLCHAIN;
  return {
    id: ID, process: p,
    evidence: `${mod.file} asks for ${needs.map((n) => n.what).join(' and ')} but ${running} ran` +
      `${toolchainVar ? ` (GOTOOLCHAIN=${toolchainVar})` : ''}; ${processLabel(p)} ${exitText(p)}: "${said}"`,
    hint: hint(want.v.replace(/^go/, ''), running),
    weightNs: wallNs(p, ctx), explainsFailure: true,
    attributes: { 'gostall.cause.path': mod.file },
  };
}

/** The version of the Go that ran: its GOROOT's VERSION (GOROOT of the process, else of the binary). */
function runningVersion(p: ProcessNode, ctx: DiagnosisContext): string | undefined {
  // a relative path to the go binary is taken from where it was exec'd, before any -C
  const exe = absolutePath(p.exec!.filename, execDir(p, ctx));
  const roots = [ctx.goEnvOf?.(p)?.GOROOT, exe ? ctx.gorootOfExecutable?.(exe) : undefined];
  for (const r of roots) {
    const v = r ? ctx.inspectGoroot?.(r).version : undefined;
    if (v) return v;
  }
  return undefined;
}

export const rule: Rule = perProcess(judge);
