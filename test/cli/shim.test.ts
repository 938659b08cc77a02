/**
 * What the shim is told to exec (src/cli/shim.ts): argv and environment as the raw bytes
 * gostall was given, and the sudo user's home for the default trace (src/cli/run.ts).
 */
import { describe, expect, it } from 'vitest';
import { rawArgv, rawEnvironment } from '../../src/cli/shim.js';
import { restoreMovedEnv } from '../../src/cli/moved-env.js';
import { lineReader } from '../../src/agent/run-protocol.js';

describe('the shim\'s argv and environment', () => {
  it('keeps bytes that are not UTF-8 when they are what gostall was given', () => {
    const odd = Buffer.from([0x61, 0xff, 0x62]);
    const cmdline = [Buffer.from('node'), Buffer.from('gostall'), Buffer.from('run'), Buffer.from('--'), Buffer.from('echo'), odd];
    const argv = rawArgv(['echo', odd.toString('utf8')], cmdline);
    expect(argv[1]).toEqual(odd);
  });

  it('falls back to the decoded command when the cmdline does not end with it', () => {
    expect(rawArgv(['echo', 'x'], [Buffer.from('node'), Buffer.from('other')]).map(String)).toEqual(['echo', 'x']);
  });

  it('passes every variable, names that are not shell identifiers included, byte for byte', () => {
    const environ = [Buffer.from('odd.name=1'), Buffer.from('BASH_FUNC_f%%=() {  echo hi\n}'), Buffer.concat([Buffer.from('V=a'), Buffer.from([0xff])])];
    const env = { 'odd.name': '1', 'BASH_FUNC_f%%': '() {  echo hi\n}', V: Buffer.concat([Buffer.from('a'), Buffer.from([0xff])]).toString('utf8') };
    expect(rawEnvironment(env, environ)).toEqual(environ);
  });

  it('gives the command NODE_EXTRA_CA_CERTS back where bin/gostall moved it out of Node\'s way, raw bytes and all', () => {
    const value = Buffer.concat([Buffer.from('/etc/ca-'), Buffer.from([0xff]), Buffer.from('.pem')]);
    const environ = [Buffer.from('A=1'), Buffer.concat([Buffer.from('GOSTALL_MOVED_NODE_EXTRA_CA_CERTS='), value])];
    const env: NodeJS.ProcessEnv = { A: '1', GOSTALL_MOVED_NODE_EXTRA_CA_CERTS: value.toString('utf8') };
    restoreMovedEnv(env);
    expect(env).toEqual({ A: '1', NODE_EXTRA_CA_CERTS: value.toString('utf8') });
    expect(rawEnvironment(env, environ)).toEqual([Buffer.from('A=1'), Buffer.concat([Buffer.from('NODE_EXTRA_CA_CERTS='), value])]);
  });

  it('keeps a NODE_EXTRA_CA_CERTS given under its own name over a moved one', () => {
    const environ = [Buffer.from('NODE_EXTRA_CA_CERTS=/own.pem'), Buffer.from('GOSTALL_MOVED_NODE_EXTRA_CA_CERTS=/moved.pem')];
    const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/own.pem', GOSTALL_MOVED_NODE_EXTRA_CA_CERTS: '/moved.pem' };
    restoreMovedEnv(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: '/own.pem' });
    expect(rawEnvironment(env, environ).map(String)).toEqual(['NODE_EXTRA_CA_CERTS=/own.pem']);
  });

  it('uses process.env when an in-process caller changed it', () => {
    const out = rawEnvironment({ A: '2' }, [Buffer.from('A=1')]).map(String);
    expect(out).toEqual(['A=2']);
  });
});

describe('the protocol\'s line reader', () => {
  it('splits lines across chunks and refuses a line over the limit once', () => {
    const lines: string[] = [];
    let tooLong = 0;
    const read = lineReader(8, (l) => lines.push(l), () => tooLong++);
    read(Buffer.from('abc\nde'));
    read(Buffer.from('f\n0123456789'));
    read(Buffer.from('abc\nok\n'));
    expect(lines).toEqual(['abc', 'def', 'ok']);
    expect(tooLong).toBe(1);
  });
});
