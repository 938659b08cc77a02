// Fixture: TCP connect faults on loopback. A listener with a full, never-drained accept queue
// (new SYNs are dropped and retransmitted; see synRetransmitSchedule) and a port where nothing
// listens (connects are refused at once).
import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildWithRollback, stopChild } from './common.js';
import { SYSTEM_PYTHON } from './slowFuse.js';

/** The listener helper shipped next to this module. */
export const BACKLOG_SCRIPT = fileURLToPath(new URL('./backlog.py', import.meta.url));

/** How a single connect attempt ended, and after how long. */
export interface ConnectOutcome {
  outcome: 'connected' | 'refused' | 'timeout' | 'error';
  elapsedMs: number;
  /** Error code/message for 'refused' and 'error'. */
  error?: string;
}

/** Opens one TCP connection to host:port, reports how it ended, and always closes the socket. */
export function measureConnect(
  port: number,
  { host = '127.0.0.1', timeoutMs = 5_000 }: { host?: string; timeoutMs?: number } = {},
): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = new Socket();
    const finish = (outcome: ConnectOutcome['outcome'], error?: string): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined); // a late error after destroy must not crash the test
      socket.destroy();
      resolve({ outcome, elapsedMs: performance.now() - started, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.once('connect', () => finish('connected'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish(err.code === 'ECONNREFUSED' ? 'refused' : 'error', err.code ?? err.message),
    );
    socket.connect({ port, host });
  });
}

/** Connects and resolves with the open socket, or undefined if not connected within `timeoutMs`. */
function connectAndHold(port: number, timeoutMs: number): Promise<Socket | undefined> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.on('error', () => undefined); // resets at restore time are expected
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`connection to 127.0.0.1:${port} closed before connecting`));
    });
    socket.connect({ port, host: '127.0.0.1' });
  });
}

export interface FullBacklogListener {
  host: '127.0.0.1';
  port: number;
  /** Pid of the python listener. */
  serverPid: number;
  /** Connections this fixture made to fill the accept queue (they stay open until restore). */
  prefilledConnections: number;
  /** Makes the listener accept (and close) one queued connection, freeing one queue slot. */
  acceptOne: () => Promise<void>;
  /** Closes our filler connections and stops the listener; safe to call twice. */
  restore: () => Promise<void>;
}

/**
 * Starts a loopback listener whose accept queue is full, so a new connect's SYN is dropped and
 * retried with backoff (first retry after ~1 s). The listener exits by itself after
 * `maxLifetimeSeconds` so a leaked fixture cannot stall the port forever.
 */
export async function startFullBacklogListener({
  maxLifetimeSeconds = 300,
  probeTimeoutMs = 300,
}: { maxLifetimeSeconds?: number; probeTimeoutMs?: number } = {}): Promise<FullBacklogListener> {
  return buildWithRollback(async (stack) => {
    const server = spawn(SYSTEM_PYTHON, ['-u', BACKLOG_SCRIPT, '--max-seconds', String(maxLifetimeSeconds)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    server.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    server.stdin?.on('error', () => undefined); // EPIPE if it already exited
    // Closing stdin asks it to exit; stopChild kills it by pid if it does not.
    stack.push(`stop backlog listener (pid ${server.pid})`, async () => {
      server.stdin?.end();
      await stopChild(server, { graceMs: 2_000 });
    });

    const lines = createInterface({ input: server.stdout! });
    const pendingLines: string[] = [];
    const waiters: ((line: string | undefined) => void)[] = [];
    lines.on('line', (line) => {
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else pendingLines.push(line);
    });
    lines.on('close', () => waiters.splice(0).forEach((w) => w(undefined)));
    const nextLine = (what: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const ready = pendingLines.shift();
        if (ready !== undefined) return resolve(ready);
        const timer = setTimeout(() => reject(new Error(`backlog.py: no ${what} within 5 s; stderr:\n${stderr}`)), 5_000);
        waiters.push((line) => {
          clearTimeout(timer);
          if (line === undefined) reject(new Error(`backlog.py exited before ${what}; stderr:\n${stderr}`));
          else resolve(line);
        });
      });

    const port = (JSON.parse(await nextLine('port')) as { port: number }).port;

    // Fill the queue: connect until one attempt does not complete, which means its SYN was dropped.
    const fillers: Socket[] = [];
    stack.push('close filler connections', () => fillers.forEach((s) => s.destroy()));
    for (;;) {
      const socket = await connectAndHold(port, probeTimeoutMs);
      if (!socket) break;
      fillers.push(socket);
      if (fillers.length > 8) throw new Error(`port ${port}: accept queue still not full after 8 connections`);
    }
    if (fillers.length === 0) throw new Error(`port ${port}: even the first connect did not complete`);

    return {
      host: '127.0.0.1' as const,
      port,
      serverPid: server.pid!,
      prefilledConnections: fillers.length,
      acceptOne: async () => {
        server.stdin!.write('accept\n');
        const reply = await nextLine('accept reply');
        if (reply !== 'accepted') throw new Error(`backlog.py: unexpected reply ${reply}`);
      },
      restore: () => stack.restore(),
    };
  });
}

/** When a client whose SYNs are all dropped sends them, and when connect() gives up (ETIMEDOUT). */
export interface SynSchedule {
  /** Send times of the SYN and each retransmission, ms after the first. */
  sendTimesMs: number[];
  /** When connect() fails with ETIMEDOUT, ms after the first SYN. */
  giveUpMs: number;
}

/**
 * Expected SYN retransmission schedule on this kernel, from net.ipv4.tcp_syn_retries and
 * net.ipv4.tcp_syn_linear_timeouts (Linux >= 6.5, default 4; absent before). The initial RTO is
 * 1 s; the first (linear + 1) timeouts stay at 1 s, later ones double, and an active connect gets
 * retries + linear retransmissions. Linux 6.18 defaults: SYNs at 0,1,2,3,4,5,7,11,19,35,67 s and
 * ETIMEDOUT at ~131 s (measured 134 s); older kernels: 0,1,3,7,15,31,63 s and 127 s.
 */
export async function synRetransmitSchedule(): Promise<SynSchedule> {
  const sysctl = async (name: string): Promise<number | undefined> => {
    try {
      return Number((await readFile(`/proc/sys/net/ipv4/${name}`, 'utf8')).trim());
    } catch {
      return undefined;
    }
  };
  const linear = (await sysctl('tcp_syn_linear_timeouts')) ?? 0;
  const retransmissions = ((await sysctl('tcp_syn_retries')) ?? 6) + linear;
  const rtoMs = (k: number): number => (k <= linear + 1 ? 1000 : 1000 * 2 ** (k - linear - 1));
  const sendTimesMs = [0];
  for (let k = 1; k <= retransmissions; k++) sendTimesMs.push(sendTimesMs[k - 1]! + rtoMs(k));
  return { sendTimesMs, giveUpMs: sendTimesMs[retransmissions]! + rtoMs(retransmissions + 1) };
}

/**
 * The kernel's TcpExt ListenDrops counter (network-namespace wide): it grows by one for every SYN
 * a full accept queue drops, which is how a test can confirm the fault really happened.
 */
export async function readListenDrops(): Promise<number> {
  const lines = (await readFile('/proc/net/netstat', 'utf8')).split('\n');
  // The file alternates a header line and a value line per protocol group.
  for (let i = 0; i + 1 < lines.length; i++) {
    const header = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    if (header[0] === 'TcpExt:' && values[0] === 'TcpExt:') {
      const at = header.indexOf('ListenDrops');
      if (at >= 0) return Number(values[at]);
    }
  }
  throw new Error('no TcpExt ListenDrops in /proc/net/netstat');
}

/**
 * A loopback port with nothing listening (connects are refused): binds an ephemeral port and
 * closes it again. Another process could grab it in between, which is unlikely in a test run.
 */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the bound port'));
      });
    });
  });
}
