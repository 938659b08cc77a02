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
