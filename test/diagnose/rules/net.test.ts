// net.slow_connect and net.connect_failed: TCP handshakes that were slow or never completed.
import { describe, expect, it } from 'vitest';
import { rule as slowConnect } from '../../../src/diagnose/rules/net-slow-connect.js';
import { rule as connectFailed } from '../../../src/diagnose/rules/net-connect-failed.js';
import { MS, S, connect, context, devGoEnv, proc } from '../fixtures.js';

const go = devGoEnv({ GOPROXY: 'http://127.0.0.1:3000' });

describe('net.slow_connect', () => {
  it('blames a handshake that needed a SYN retransmission, naming the GOPROXY it was for', () => {
    const p = proc({ exitCode: 1, args: ['go', 'mod', 'download'] });
    connect(p, { durationNs: 1.03 * S, established: true, port: 3000 });
    const [c] = slowConnect(p, context({ go }));
    expect(c!.evidence).toBe('the TCP handshake with 127.0.0.1:3000 (GOPROXY http://127.0.0.1:3000) took 1.03 s: the first SYN went ' +
      'unanswered and had to be sent again (server overloaded or packets dropped)');
    expect(c!.attributes).toEqual({ 'gostall.cause.peer': '127.0.0.1:3000' });
  });

  it('stays quiet under 1 s (one round trip, however far)', () => {
    const p = proc();
    connect(p, { durationNs: 999 * MS, established: true });
    expect(slowConnect(p, context({ go }))).toEqual([]);
  });
});

describe('net.connect_failed', () => {
  it('blames a refused connect to the GOPROXY', () => {
    const p = proc({ exitCode: 1 });
    connect(p, { durationNs: 53_000, established: false, port: 3000 });
    const [c] = connectFailed(p, context({ go }));
    expect(c!.evidence).toBe('TCP connect to 127.0.0.1:3000 (GOPROXY http://127.0.0.1:3000) failed 1 time; the first refused after ' +
      '53 µs (nothing listens there, or a firewall rejects it); the process failed');
  });

  it('says "no answer" for a handshake that timed out', () => {
    const p = proc({ exitCode: 1 });
    connect(p, { durationNs: 131 * S, established: false, address: '2001:db8::1', port: 443 });
    expect(connectFailed(p, context())[0]!.evidence).toContain('[2001:db8::1]:443 failed 1 time; the first got no answer for 2m11s');
  });

  it('forgives a failed address followed by a working one to the same port (happy eyeballs)', () => {
    const p = proc();
    connect(p, { durationNs: 40_000, established: false, address: '::1', port: 3000, ts: 1 });
    connect(p, { durationNs: 60_000, established: true, address: '127.0.0.1', port: 3000, ts: 2 });
    expect(connectFailed(p, context())).toEqual([]);
  });
});
