/**
 * What a go command and its compiles say on their command lines about the inputs of the
 * build cache's keys (issue 13, "why it rebuilt"). Measured with GODEBUG=gocachehash=1 on
 * Go 1.19: a package's action key hashes the Go version, the package's directory (not with
 * -trimpath, and not for the standard library), GOOS/GOARCH/GOAMD64, the user's compiler
 * flags (-gcflags), `trimpath` when it is on, and every source file's content (not its
 * mtime); -tags enters only through which files it selects. So a compile's argv, with the
 * parts that differ on every run ($WORK paths, -buildid, -o) taken out, is a fingerprint of
 * the flags its key saw, and its file list names the sources whose content the key saw.
 */
import { argvOf, type ProcessNode } from './process.js';
import { goActionOf } from './go-action.js';

/** The go command's own flags that take a separate value (`-o out`, `-tags foo`); Go 1.19's build flags. */
const GO_VALUE_FLAGS = new Set([
  'C', 'o', 'p', 'tags', 'gcflags', 'ldflags', 'asmflags', 'gccgoflags', 'mod', 'modfile', 'overlay', 'pkgdir',
  'toolexec', 'buildmode', 'compiler', 'installsuffix', 'exec', 'run', 'bench', 'count', 'timeout', 'cpu', 'coverpkg',
  'covermode', 'cpuprofile', 'memprofile', 'blockprofile', 'mutexprofile', 'trace', 'outputdir', 'parallel', 'benchtime',
  'shuffle', 'fuzz', 'fuzztime', 'fuzzminimizetime', 'vet', 'debug-actiongraph', 'debug-deps-trace', 'debug-trace', 'json',
]);
/** Flags that change where output goes or what is printed, not what is compiled: left out of the fingerprint. */
const GO_OUTPUT_FLAGS = new Set(['o', 'p', 'x', 'v', 'n', 'work', 'json', 'C', 'debug-actiongraph', 'debug-deps-trace', 'debug-trace']);

export interface GoCommandLine {
  /** build, install, test, run, vet, list… (undefined: `go` alone or only flags) */
  subcommand: string | undefined;
  /** the flags that can change what is compiled, each as `-name` or `-name=value`, in order */
  flags: string[];
  /** the package patterns (or files) named */
  patterns: string[];
}

/** `--flag=v`, `-flag v` and `-flag=v` as ["flag", "v" | undefined]. */
function splitFlag(arg: string): [string, string | undefined] {
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  return eq === -1 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}

/** The subcommand, the cache-relevant flags and the patterns of a go command's argv. */
export function parseGoCommandLine(argv: string[]): GoCommandLine {
  let subcommand: string | undefined;
  const flags: string[] = [];
  const patterns: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { patterns.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('-') && a.length > 1) {
      let [name, value] = splitFlag(a);
      if (value === undefined && GO_VALUE_FLAGS.has(name)) value = argv[++i] ?? '';
      if (!GO_OUTPUT_FLAGS.has(name)) flags.push(value === undefined ? `-${name}` : `-${name}=${value}`);
      continue;
    }
    if (subcommand === undefined) subcommand = a;
    else patterns.push(a);
  }
  return { subcommand, flags, patterns };
}

/** The go command line of a go process. */
export function goCommandLineOf(p: ProcessNode): GoCommandLine {
  return parseGoCommandLine(argvOf(p).argv);
}

/** Whether -trimpath is on, from the go command's flags or GOFLAGS (then package directories are not in the keys). */
export function trimpathOn(flags: string[], goflags: string | undefined): boolean {
  const on = (f: string): boolean => f === '-trimpath' || f === '-trimpath=true' || f === '--trimpath';
  return flags.some(on) || (goflags ?? '').split(/\s+/).some(on);
}

/** compile flags whose value differs on every run or is covered elsewhere (Go version, package, output). */
const COMPILE_VOLATILE = new Set(['o', 'importcfg', 'embedcfg', 'trimpath', 'buildid', 'p', 'goversion', 'asmhdr', 'symabis', 'c', 'D']);
/** compile flags that take a separate value. */
const COMPILE_VALUE_FLAGS = new Set([...COMPILE_VOLATILE, 'lang', 'installsuffix', 'importmap', 'I']);
/** The go command's temporary work directory in a path: different on every run. */
const WORK_DIR = /\/[^\s"]*\/go-build\d+\/b\d+/g;
const IN_WORK_DIR = /(^\$WORK|\/go-build\d+\/b\d+\/)/;

export interface CompileInputs {
  /** the package's import path (`-p`; `main` for a main package) */
  packagePath: string;
  /** the compile flags that enter the key, normalised ($WORK paths and per-run values out) */
  flags: string[];
  /** the Go source files as the go command passed them (relative to its working directory, or absolute) */
  files: string[];
  /** -goversion, when the go command passed it */
  goVersion: string | undefined;
}

/** What a compile process's argv says about the inputs of its package's cache key. */
export function compileInputsOf(p: ProcessNode): CompileInputs | undefined {
  const action = goActionOf(p);
  if (!action || action.kind !== 'compile' || action.packagePath === undefined) return undefined;
  const { argv, truncated } = argvOf(p);
  if (truncated) return undefined;
  const flags: string[] = [];
  const files: string[] = [];
  let goVersion: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      // cgo's generated files live in $WORK: not sources of the user's
      if (a.endsWith('.go') && !IN_WORK_DIR.test(a)) files.push(a);
      continue;
    }
    let [name, value] = splitFlag(a);
    if (value === undefined && COMPILE_VALUE_FLAGS.has(name)) value = argv[++i] ?? '';
    if (name === 'goversion') goVersion = value;
    if (COMPILE_VOLATILE.has(name) || name === 'pack') continue;
    const text = value === undefined ? `-${name}` : `-${name}=${value}`;
    flags.push(text.replace(WORK_DIR, '$WORK'));
  }
  return { packagePath: action.packagePath, flags, files, goVersion };
}

/** How a build record names a compiled package: its import path; a main package by the directory of its sources. */
export function packageKeyOf(c: CompileInputs): string {
  // `go test` compiles a package twice under one -p: as built, and with its _test.go files
  if (c.packagePath !== 'main') return c.files.some((f) => f.endsWith('_test.go')) ? `${c.packagePath} [test]` : c.packagePath;
  const f = c.files[0];
  return `main ${f === undefined ? '?' : f.includes('/') ? f.slice(0, f.lastIndexOf('/')) : '.'}`;
}
