// A real LSP client for gopls over stdio (vscode-languageserver-protocol), as an editor
// would drive it: initialize, initialized, open a file, ask for its symbols; then, for a
// long session (the soak), edit the file and ask again. Used by test/agent/gopls.kernel.test.ts
// and bench/soak.ts.
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
  /** replace main.go's text in the editor (didChange, full sync) and ask for its symbols again */
  edit(text: string): Promise<unknown>;
  kill(): Promise<void>;
}

export interface GoplsOptions {
  /** argv prefix that puts gopls somewhere (e.g. a cgroup) before it starts */
  wrap?: (file: string, args: string[]) => [string, string[]];
}

/** Start gopls on a workspace and send initialize, initialized, didOpen main.go, documentSymbol. */
export async function startGopls(workspace: string, opts: GoplsOptions = {}): Promise<GoplsSession> {
  const [file, args] = opts.wrap ? opts.wrap('gopls', ['serve']) : ['gopls', ['serve']];
  const proc = spawn(file, args, { cwd: workspace, stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout!), new rpc.StreamMessageWriter(proc.stdin!));
  const anyRequest: rpc.StarRequestHandler = () => null;
  conn.onRequest(anyRequest); // workspace/configuration and friends: defaults
  conn.listen();
  const uri = `file://${workspace}`;
  const mainUri = `${uri}/main.go`;
  let done = false;
  let version = 1;
  const symbols = (async () => {
    await conn.sendRequest('initialize', {
      processId: process.pid, rootUri: uri, workspaceFolders: [{ uri, name: 'ws' }], capabilities: {},
    });
    await conn.sendNotification('initialized', {});
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: mainUri, languageId: 'go', version, text: await readFile(join(workspace, 'main.go'), 'utf8') },
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
    async edit(text: string) {
      await symbols;
      version++;
      await conn.sendNotification('textDocument/didChange', { textDocument: { uri: mainUri, version }, contentChanges: [{ text }] });
      return conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri: mainUri } });
    },
    async kill() {
      conn.dispose();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
