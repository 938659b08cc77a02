// A bad agent configuration stops the agent before it traces anything: exit 2, one line
// naming the key (or variable, or flag) and what is wrong with it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGostall } from './support.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'gostall-config-test-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function agentWith(config: unknown, env: NodeJS.ProcessEnv = {}, extra: string[] = []) {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config));
  return runGostall(['agent', '--config', path, '--print-config', ...extra], {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined, ...env },
  });
}

const base = { export: { endpoint: 'http://127.0.0.1:4318' } };

describe('gostall agent --config', () => {
  it('accepts a valid file and prints the effective configuration with secrets masked', async () => {
    const r = await agentWith({
      ...base,
      executables: ['go', 'gopls', 'golangci-lint'],
      episodes: { minDuration: '5s', reportEvery: '10s' },
      export: { endpoint: 'http://user:pw@127.0.0.1:4318', headers: { Authorization: 'Bearer secret' }, spool: { maxSize: '64MiB' } },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.executables).toEqual(['go', 'gopls', 'golangci-lint']);
    expect(printed.episodes.minDurationNs).toBe(5e9);
    expect(printed.export.url).toMatch(/^http:\/\/(REDACTED@)?127\.0\.0\.1:4318\/v1\/traces$/);
    expect(printed.export.spoolMaxBytes).toBe(64 * 1024 * 1024);
    expect(r.stdout).not.toContain('secret');
    expect(r.stdout).not.toContain(':pw@');
  });

  const cases: [string, unknown, RegExp][] = [
    ['an unknown key (a typo)', { ...base, exectuables: ['go'] }, /exectuables: unknown key/],
    ['an unknown nested key', { export: { endpoint: 'http://127.0.0.1:4318', spool: { maxsize: '1GiB' } } }, /export\.spool\.maxsize: unknown key/],
    ['a name longer than the kernel keeps', { ...base, executables: ['golangci-lint-longname'] }, /executables\[0\]: names are 1-15 characters/],
    ['a name that bpftrace would read as an option', { ...base, executables: ['-v'] }, /executables\[0\]/],
    ['a name with a shell character', { ...base, executables: ['go;rm'] }, /executables\[0\]/],
    ['more names than the probe has slots', { ...base, executables: Array.from({ length: 13 }, (_, i) => `t${i}`) }, /executables: at most 12 names/],
    ['a duration without a unit', { ...base, episodes: { reportEvery: '10' } }, /episodes\.reportEvery: expected a duration with a unit/],
    ['a duration out of range', { ...base, episodes: { reportEvery: '10ms' } }, /episodes\.reportEvery: must be between 1s and 3600s/],
    ['a size that is not one', { export: { endpoint: 'http://127.0.0.1:4318', spool: { maxSize: 'lots' } } }, /export\.spool\.maxSize: expected a size like 256MiB/],
    ['a relative spool directory', { export: { endpoint: 'http://127.0.0.1:4318', spool: { dir: 'spool' } } }, /export\.spool\.dir: must be an absolute path/],
    ['a non-http endpoint', { export: { endpoint: 'ftp://collector:21' } }, /export\.endpoint: must be an http:\/\/ or https:\/\/ URL/],
    ['an unsupported protocol', { export: { endpoint: 'http://127.0.0.1:4318', protocol: 'thrift' } }, /export\.protocol/],
    ['a bad metrics address', { ...base, metrics: { listen: 'localhost' } }, /metrics\.listen: expected HOST:PORT/],
    ['windows that are not whole seconds', { ...base, windows: { every: '1500ms' } }, /windows\.every: must be whole seconds/],
    ['a wrong type', { ...base, limits: { maxQueuedTrees: 'many' } }, /limits\.maxQueuedTrees: Invalid input: expected number/],
    ['no destination at all', {}, /no destination for spans: set export\.endpoint/],
    ['a cgroup that does not exist', { ...base, cgroup: '/sys/fs/cgroup/does-not-exist-gostall' }, /cgroup: \/sys\/fs\/cgroup\/does-not-exist-gostall: ENOENT/],
    ['a stderr switch that is not a boolean', { ...base, tracer: { stderr: 'no' } }, /tracer\.stderr: Invalid input: expected boolean/],
    ['a mount namespace switch that is neither a boolean nor auto', { ...base, tracer: { mountNamespace: 'yes' } }, /tracer\.mountNamespace: /],
  ];
  for (const [what, config, message] of cases) {
    it(`refuses ${what} with exit 2 naming the key`, async () => {
      const r = await agentWith(config);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^gostall agent: invalid configuration: /);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('refuses a file that is not JSON, naming the file', async () => {
    const r = await agentWith('executables: [go]\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/c\w+\.json: not valid JSON/);
  });

  it('names the OTEL variable when the environment is wrong', async () => {
    const r = await agentWith({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL: must be one of http\/protobuf, http\/json, grpc/);
    const t = await agentWith({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_TIMEOUT: '10s' });
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/OTEL_EXPORTER_OTLP_TIMEOUT: expected milliseconds/);
  });

  it('takes the endpoint, headers and protocol from OTEL_* variables, and flags over the file', async () => {
    const r = await agentWith({}, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=a%20b', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    }, ['--endpoint', 'http://127.0.0.1:9999']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout);
    expect(printed.export.url).toBe('http://127.0.0.1:9999/v1/traces');
    expect(printed.export.protocol).toBe('http/json');
    expect(Object.keys(printed.export.headers)).toEqual(['x-tenant']);
  });

  it('captures stderr only when tracer.stderr is true (its hook costs every process\'s writes)', async () => {
    expect(JSON.parse((await agentWith(base)).stdout).tracer.stderr).toBe(false);
    expect(JSON.parse((await agentWith({ ...base, tracer: { stderr: true } })).stdout).tracer.stderr).toBe(true);
  });

  it('decides about bpftrace\'s mount namespace by itself unless tracer.mountNamespace says (the systemd unit says false)', async () => {
    expect(JSON.parse((await agentWith(base)).stdout).tracer.mountNamespace).toBe('auto');
    for (const v of [true, false, 'auto']) {
      expect(JSON.parse((await agentWith({ ...base, tracer: { mountNamespace: v } })).stdout).tracer.mountNamespace).toBe(v);
    }
  });

  it('refuses a bad flag value naming the flag', async () => {
    const r = await agentWith(base, {}, ['--metrics-listen', 'nowhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--metrics-listen: expected HOST:PORT/);
  });

  it('refuses a cgroup setting on a host without a cgroup v2 hierarchy there', async () => {
    const r = await agentWith({ ...base, cgroup: '/sys/fs/cgroup/cpu' });
    // On a cgroup v2 host /sys/fs/cgroup/cpu does not exist; on a v1 host it is the cpu controller.
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cgroup: \/sys\/fs\/cgroup\/cpu/);
  });
});
