/** Go source trees the scenarios trace: a module with many small packages, optionally padded. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GO_DIRECTIVE } from '../support/faults/goModule.js';

/**
 * Writes `packages` packages (p1…pN) of `filesPerPackage` files each into the module at dir
 * (go.mod included). padBytes adds a comment of that size to each file, so reading the
 * sources costs real I/O.
 */
export async function writeMultiPackageModule(dir: string, opts: { packages: number; filesPerPackage: number; padBytes?: number }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'go.mod'), `module example.com/multi\n\ngo ${GO_DIRECTIVE}\n`);
  const pad = opts.padBytes ? `${'// padding so reading this file costs I/O ..........................................\n'.repeat(Math.ceil(opts.padBytes / 88))}` : '';
  for (let i = 1; i <= opts.packages; i++) {
    const pkg = join(dir, `p${i}`);
    await mkdir(pkg, { recursive: true });
    for (let j = 1; j <= opts.filesPerPackage; j++) {
      await writeFile(join(pkg, `f${j}.go`), `package p${i}\n\nimport "strings"\n\n// F${j} upper-cases s.\nfunc F${j}(s string) string { return strings.ToUpper(s) }\n${pad}`);
    }
  }
}

/** example.org/app: a library, a package with an assembly function, and a main package in cmd/app. */
export async function writeAppModule(dir: string): Promise<void> {
  await mkdir(join(dir, 'internal/greet'), { recursive: true });
  await mkdir(join(dir, 'internal/fast'), { recursive: true });
  await mkdir(join(dir, 'cmd/app'), { recursive: true });
  await writeFile(join(dir, 'go.mod'), `module example.org/app\n\ngo ${GO_DIRECTIVE}\n`);
  await writeFile(join(dir, 'internal/greet/greet.go'), 'package greet\n\nimport "fmt"\n\nfunc Hello() string { return fmt.Sprint("hi") }\n');
  await writeFile(join(dir, 'internal/fast/fast.go'), 'package fast\n\n// Add is in add_amd64.s.\nfunc Add(a, b int64) int64\n');
  await writeFile(join(dir, 'internal/fast/add_amd64.s'),
    '#include "textflag.h"\n\nTEXT ·Add(SB), NOSPLIT, $0-24\n\tMOVQ a+0(FP), AX\n\tADDQ b+8(FP), AX\n\tMOVQ AX, ret+16(FP)\n\tRET\n');
  await writeFile(join(dir, 'cmd/app/main.go'),
    'package main\n\nimport (\n\t"example.org/app/internal/fast"\n\t"example.org/app/internal/greet"\n)\n\nfunc main() { println(greet.Hello(), fast.Add(1, 2)) }\n');
}
