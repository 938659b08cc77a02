// Fixture: a module proxy on the local filesystem (GOPROXY=file:///DIR), so `go build` downloads
// a module into GOMODCACHE without any network. Written by the root-causes scenarios, which need
// a download that writes into GOMODCACHE (goModule.ts's writeModuleNeedingDownload is meant to fail).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './common.js';
import { GO_DIRECTIVE, MISSING_DEPENDENCY } from './goModule.js';
import { SYSTEM_PYTHON } from './slowFuse.js';

/** The zip layout the go command expects: every file under "<module>@<version>/". */
const ZIP_SCRIPT = `
import sys, zipfile
out, prefix = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(out, 'w')
for i in range(3, len(sys.argv), 2):
    z.writestr(prefix + '/' + sys.argv[i], sys.argv[i + 1])
z.close()
`;

/**
 * Writes a file:// module proxy serving MISSING_DEPENDENCY (example.com/dep v1.0.0, package dep
 * with func Hello) into dir; returns the GOPROXY value. Pair it with writeModuleNeedingDownload.
 */
export async function writeFileProxy(dir: string): Promise<string> {
  const { path, version } = MISSING_DEPENDENCY;
  const at = join(dir, path, '@v');
  await mkdir(at, { recursive: true });
  const goMod = `module ${path}\n\ngo ${GO_DIRECTIVE}\n`;
  await writeFile(join(at, 'list'), `${version}\n`);
  await writeFile(join(at, `${version}.info`), JSON.stringify({ Version: version, Time: '2024-01-01T00:00:00Z' }));
  await writeFile(join(at, `${version}.mod`), goMod);
  await run(SYSTEM_PYTHON, ['-c', ZIP_SCRIPT, join(at, `${version}.zip`), `${path}@${version}`,
    'go.mod', goMod, 'dep.go', 'package dep\n\n// Hello does nothing.\nfunc Hello() {}\n']);
  return `file://${dir}`;
}
