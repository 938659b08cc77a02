// Parsing of run's command line: durations carry their unit, and the command starts at `--`
// (or at the first word that is not an option).
import { describe, expect, it } from 'vitest';
import { UsageError, parseDuration, splitCommand } from '../../src/cli/options.js';
import { DEFAULT_THRESHOLD_NS, parseRunOptions } from '../../src/cli/run.js';

describe('parseDuration', () => {
  it.each([
    ['50ms', 50e6], ['1.5s', 1.5e9], ['200us', 200e3], ['200µs', 200e3], ['0ns', 0], ['2m', 120e9], ['1s', 1e9],
  ])('%s is %d ns', (text, ns) => {
    expect(parseDuration(text, '--threshold')).toBe(ns);
  });

  it.each(['50', '', 'ms', '-1ms', '1h', '1e3ms', '61m'])('%j is a usage error', (text) => {
    expect(() => parseDuration(text, '--threshold')).toThrow(UsageError);
  });
});

describe('splitCommand', () => {
  it('splits at --, keeping dashes of the command', () => {
    expect(splitCommand(['--out', 'f', '--', 'go', 'test', '-run', 'X'])).toEqual({ options: ['--out', 'f'], command: ['go', 'test', '-run', 'X'] });
  });

  it('without --, the command starts at the first word that is not an option or its value', () => {
    expect(splitCommand(['--threshold', '10ms', 'go', 'build', '-v'])).toEqual({ options: ['--threshold', '10ms'], command: ['go', 'build', '-v'] });
    expect(splitCommand(['--out=f', 'go'])).toEqual({ options: ['--out=f'], command: ['go'] });
  });
});

describe('parseRunOptions', () => {
  it('defaults: 50 ms threshold, no collector, no file', () => {
    expect(parseRunOptions(['--', 'go', 'build'], {})).toMatchObject({
      help: false, command: ['go', 'build'], thresholdNs: DEFAULT_THRESHOLD_NS, exportSettings: { otlp: undefined, out: undefined, endpointConfigured: false },
    });
    expect(DEFAULT_THRESHOLD_NS).toBe(50e6);
  });

  it('--endpoint becomes the traces URL', () => {
    const o = parseRunOptions(['--endpoint', 'http://127.0.0.1:4318', '--', 'true'], {});
    expect(!o.help && o.exportSettings.otlp?.url).toBe('http://127.0.0.1:4318/v1/traces');
  });

  it('--out - is refused: stdout belongs to the command', () => {
    expect(() => parseRunOptions(['--out', '-', '--', 'true'], {})).toThrow(/stdout/);
  });

  it('--help needs no command', () => {
    expect(parseRunOptions(['--help'])).toEqual({ help: true });
  });
});
