// A real LSP client for gopls over stdio (vscode-languageserver-protocol), as an editor
// would drive it: initialize, initialized, open a file, ask for its symbols.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';

export interface GoplsSession {
  proc: ChildProcess;
  pid: number;
  /** resolves when gopls answered documentSymbol for main.go (it has loaded the workspace) */
  symbols: Promise<unknown>;
  /** whether symbols has resolved */
  answered(): boolean;
  kill(): Promise<void>;
}

/** Start gopls on a workspace and send initialize, initialized, didOpen main.go, documentSymbol. */
export async function startGopls(workspace: string): Promise<GoplsSession> {
  const proc = spawn('gopls', ['serve'], { cwd: workspace, stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(proc.stdout!), new rpc.StreamMessageWriter(proc.stdin!));
  conn.onRequest(() => null); // workspace/configuration and friends: defaults
  conn.listen();
  const uri = `file://${workspace}`;
  const mainUri = `${uri}/main.go`;
  let done = false;
  const symbols = (async () => {
    await conn.sendRequest('initialize', {
      processId: process.pid, rootUri: uri, workspaceFolders: [{ uri, name: 'ws' }], capabilities: {},
    });
    await conn.sendNotification('initialized', {});
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: mainUri, languageId: 'go', version: 1, text: await readFile(join(workspace, 'main.go'), 'utf8') },
    });
    const r = await conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri: mainUri } });
    done = true;
    return r;
  })();
  symbols.catch(() => {});
  return {
    proc,
    pid: proc.pid!,
    symbols,
    answered: () => done,
    async kill() {
      conn.dispose();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
