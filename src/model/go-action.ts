/**
 * Which build action a Go toolchain process performs, read from its argv: the go command
 * starts one tool process per action (compile, asm, cgo, vet, link) and passes the package's
 * import path to most of them. What Go 1.19 passes (from `go build -x`):
 *   compile -o $WORK/b002/_pkg_.a -trimpath "$WORK/b002=>" -p example.org/app/internal/greet … ./internal/greet/greet.go
 *   asm     -p example.org/x -trimpath … -o $WORK/b003/x.o ./x_amd64.s
 *   cgo     -objdir $WORK/b004/ -importpath example.org/c -- … ./c.go
 *   cgo     -dynpackage c -dynimport $WORK/b004/_cgo_.o -dynout $WORK/b004/_cgo_import.go
 *   vet     … $WORK/b005/vet.cfg            (the package is only in that file, gone after the build)
 *   link    -o $WORK/b001/exe/a.out -importcfg $WORK/b001/importcfg.link … $WORK/b001/_pkg_.a
 * A main package is compiled with `-p main`: its import path is not on any command line. A
 * sibling compile of the same module shows how import paths map onto directories
 * (example.org/app/internal/greet in /src/app/internal/greet), which gives the main package's
 * path from its directory (/src/app/cmd/app → example.org/app/cmd/app); without one the
 * action carries `main` and the directory of its sources.
 * link, vet and the second cgo run name no package: they take it from the compile (or first
 * cgo) of the same $WORK/bNNN action directory, a sibling process under the same go command.
 */
import { argvOf, executableName, type ProcessNode } from './process.js';

export type GoActionKind = 'compile' | 'asm' | 'cgo' | 'vet' | 'link';

export interface GoAction {
  kind: GoActionKind;
  /** import path (`main` for a main package) when known */
  packagePath: string | undefined;
  /** for a main package: the directory of its sources as the go command passed them */
  packageDir: string | undefined;
  /** the go command's $WORK/bNNN directory of this action, which ties link and vet to their compile */
  actionDir: string | undefined;
}

const KINDS = new Set<string>(['compile', 'asm', 'cgo', 'vet', 'link']);

/** The value of -flag V or -flag=V on a Go tool's or the go command's argv (the Go flag package accepts both, and --flag). */
export function flagValue(argv: string[], flag: string): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--') return undefined; // what follows is not the tool's
    const a = argv[i]!.startsWith('--') ? argv[i]!.slice(1) : argv[i]!;
    if (a === flag) return argv[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

/** `/tmp/go-build123/b002/_pkg_.a` → `/tmp/go-build123/b002` (the action's directory under $WORK). */
function actionDirOf(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const m = /^(.*\/b\d+)(?:\/|$)/.exec(path);
  return m?.[1];
}

/**
 * A main package's import path from its directory, given another package's import path and
 * directory: strip their common trailing elements to get a (module path, directory) pair that
 * maps one onto the other, then map the main directory.
 */
export function importPathOfDir(dir: string, knownPath: string, knownDir: string): string | undefined {
  const p = knownPath.split('/');
  const d = knownDir.split('/');
  while (p.length > 0 && d.length > 0 && p[p.length - 1] === d[d.length - 1]) { p.pop(); d.pop(); }
  const root = d.join('/');
  if (p.length === 0 || root === '' || !dir.startsWith(`${root}/`)) return undefined;
  return `${p.join('/')}/${dir.slice(root.length + 1)}`;
}

/** The directory of the first source file on the command line (`./cmd/app/main.go` → `./cmd/app`). */
function sourceDir(argv: string[], ext: string): string | undefined {
  for (let i = argv.length - 1; i > 0; i--) {
    const a = argv[i]!;
    if (a.startsWith('-')) break;
    if (!a.endsWith(ext)) continue;
    // take the first file of the trailing run of sources
    let j = i;
    while (j - 1 > 0 && argv[j - 1]!.endsWith(ext) && !argv[j - 1]!.startsWith('-')) j--;
    const first = argv[j]!;
    const slash = first.lastIndexOf('/');
    return slash === -1 ? '.' : first.slice(0, slash) || '/';
  }
  return undefined;
}

/** A tool from the Go toolchain's tool directory ($GOROOT/pkg/tool/GOOS_GOARCH), not /usr/bin/link. */
function toolKind(p: ProcessNode): GoActionKind | undefined {
  if (!p.exec || !p.exec.filename.includes('/pkg/tool/')) return undefined;
  const name = executableName(p);
  return KINDS.has(name) ? (name as GoActionKind) : undefined;
}

/**
 * Parsed argv per exec, so naming a link or vet (a scan of its siblings) stays cheap on a
 * `go vet ./...` of hundreds of packages: each sibling's argv is read once, not once per vet.
 */
const parsed = new WeakMap<object, GoAction>();

/** What the process's own argv says (link and vet: only their action directory). */
function ownAction(p: ProcessNode, kind: GoActionKind): GoAction {
  const cached = p.exec && parsed.get(p.exec);
  if (cached) return cached;
  const a = parseAction(p, kind);
  // the argv of an exec may still be arriving in chunks: keep only what it fully said
  if (p.exec && a.packagePath !== undefined) parsed.set(p.exec, a);
  return a;
}

function parseAction(p: ProcessNode, kind: GoActionKind): GoAction {
  const { argv } = argvOf(p);
  switch (kind) {
    case 'compile':
    case 'asm': {
      const packagePath = flagValue(argv, '-p');
      const packageDir = sourceDir(argv, kind === 'compile' ? '.go' : '.s');
      return { kind, packagePath, packageDir, actionDir: actionDirOf(flagValue(argv, '-o')) };
    }
    case 'cgo':
      // the second cgo run (-dynimport, for the import table) names only its files in the action directory
      return { kind, packagePath: flagValue(argv, '-importpath'), packageDir: undefined, actionDir: actionDirOf(flagValue(argv, '-objdir') ?? flagValue(argv, '-dynout')) };
    case 'link':
      return { kind, packagePath: undefined, packageDir: undefined, actionDir: actionDirOf(flagValue(argv, '-o')) };
    case 'vet':
      return { kind, packagePath: undefined, packageDir: undefined, actionDir: actionDirOf(argv.at(-1)) };
  }
}

/** The actions of p's siblings that name a package (compile, asm, cgo), p excluded. */
function* namingSiblings(p: ProcessNode): Generator<GoAction> {
  for (const s of p.parent?.children ?? []) {
    const k = s === p ? undefined : toolKind(s);
    if (k === undefined || k === 'link' || k === 'vet') continue;
    const a = ownAction(s, k);
    if (a.packagePath !== undefined) yield a;
  }
}

/**
 * Per go command: its children's package-naming actions by $WORK/bNNN directory, extended as
 * children appear (a link or vet looks its compile up here instead of scanning every sibling).
 */
const byActionDir = new WeakMap<ProcessNode, { seen: number; dirs: Map<string, GoAction> }>();

function siblingByActionDir(p: ProcessNode, dir: string): GoAction | undefined {
  const parent = p.parent;
  if (!parent) return undefined;
  let index = byActionDir.get(parent);
  if (!index) { index = { seen: 0, dirs: new Map() }; byActionDir.set(parent, index); }
  for (; index.seen < parent.children.length; index.seen++) {
    const s = parent.children[index.seen]!;
    const k = toolKind(s);
    if (k === undefined || k === 'link' || k === 'vet') continue;
    // (an exec's argv chunks follow its E record directly, so a sibling started before p is complete)
    const a = ownAction(s, k);
    if (a.packagePath !== undefined && a.actionDir !== undefined) index.dirs.set(a.actionDir, a);
  }
  return index.dirs.get(dir);
}

/** A main package's import path from a sibling compile of another package of its module. */
function mainImportPath(p: ProcessNode, dir: string): string | undefined {
  for (const a of namingSiblings(p)) {
    if (a.packagePath === 'main' || a.packageDir === undefined || !a.packageDir.startsWith('/')) continue;
    const path = importPathOfDir(dir, a.packagePath!, a.packageDir);
    if (path !== undefined) return path;
  }
  return undefined;
}

/** The Go build action p performs, or undefined when it is not a toolchain tool (or a version query). */
export function goActionOf(p: ProcessNode): GoAction | undefined {
  const kind = toolKind(p);
  if (kind === undefined || argvOf(p).argv.some((a) => a.startsWith('-V'))) return undefined;
  let own = ownAction(p, kind);
  if (own.packagePath === undefined && own.actionDir !== undefined) {
    // link and vet: the compile (or asm, cgo) of the same action directory names the package
    const a = siblingByActionDir(p, own.actionDir);
    if (a) own = { ...own, packagePath: a.packagePath, packageDir: a.packageDir };
  }
  if (own.packagePath !== 'main') return { ...own, packageDir: undefined };
  return own;
}

/** How a span names the package: the import path (a main package's derived from a sibling's when it can be). */
export function packageLabel(p: ProcessNode, a: GoAction): string | undefined {
  if (a.packagePath === 'main' && a.packageDir?.startsWith('/')) return mainImportPath(p, a.packageDir) ?? 'main';
  return a.packagePath;
}
