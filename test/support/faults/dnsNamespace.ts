// Fixture: a network namespace of the test's own where name resolution fails: only loopback,
// and a resolv.conf naming 127.0.0.1 (ip netns exec bind-mounts /etc/netns/NS/resolv.conf over
// /etc/resolv.conf for the command). On 127.0.0.1:53 nothing listens ('refused'), or a small
// server answers NXDOMAIN / SERVFAIL, or never answers ('silent'). No traffic leaves the namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildWithRollback, randomTag, run, stopChild } from './common.js';
import { SYSTEM_PYTHON } from './slowFuse.js';

export const DNS_SCRIPT = fileURLToPath(new URL('./dns.py', import.meta.url));

export type DnsMode = 'refused' | 'nxdomain' | 'servfail' | 'silent';

export interface DnsNamespace {
  name: string;
  /** argv prefix that runs a command inside the namespace */
  exec: string[];
  /** ends the server (by pid), deletes the namespace and /etc/netns/NAME; safe to call twice */
  restore: () => Promise<void>;
}

/** Waits for the server's "ready" line (it binds before printing it). */
function serverReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`dns server exited (${code}) before it was ready`)));
  });
}

export async function createDnsNamespace(mode: DnsMode): Promise<DnsNamespace> {
  const name = `gostall-dns-${randomTag()}`;
  const etc = `/etc/netns/${name}`;
  return buildWithRollback(async (stack) => {
    await run('ip', ['netns', 'add', name]);
    stack.push(`delete netns ${name}`, async () => { await run('ip', ['netns', 'delete', name]); });
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await mkdir(etc, { recursive: true });
    stack.push(`remove ${etc}`, () => rm(etc, { recursive: true, force: true }));
    await writeFile(`${etc}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    if (mode !== 'refused') {
      const server = spawn('ip', ['netns', 'exec', name, SYSTEM_PYTHON, DNS_SCRIPT, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      stack.push(`stop dns server ${server.pid}`, () => stopChild(server));
      await serverReady(server);
    }
    return { name, exec: ['ip', 'netns', 'exec', name], restore: () => stack.restore() };
  });
}
