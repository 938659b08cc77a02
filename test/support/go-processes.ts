// Go toolchain processes as the probe records them, for tests of the model and diagnosis:
// an exec with argv (as the V records deliver it), Go 1.19's tool directory and a $WORK dir.
import type { ProcessNode } from '../../src/model/process.js';

export const TOOL = '/usr/lib/go-1.19/pkg/tool/linux_amd64';
export const W = '/tmp/go-build4242';

/** Give p an exec of filename with args (NUL-separated, as the probe reads them). */
export function exec(p: ProcessNode, filename: string, args: string[]): ProcessNode {
  const bytes = Buffer.from(`${args.join('\0')}\0`, 'utf8');
  p.exec = { ts: 0, filename, filenameTruncated: false, comm: 'x', argvLen: bytes.length, argvParts: [bytes], argvBytes: bytes.length };
  return p;
}
