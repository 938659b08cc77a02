// Durations and sizes read and written one way for flags, the config file, evidence and the summary.
import { describe, expect, it } from 'vitest';
import { formatDuration, formatDurationSetting, parseDuration, parseSize } from '../../src/vocabulary/units.js';

describe('durations', () => {
  it.each([['50ms', 50e6], ['1.5s', 1.5e9], ['200us', 200e3], ['200µs', 200e3], ['2m', 120e9], ['7ns', 7]])('%s is %d ns', (text, ns) => {
    expect(parseDuration(text, '--threshold')).toBe(ns);
  });

  it('refuses a bare number or more than an hour, naming what was being read', () => {
    expect(() => parseDuration('50', 'episodes.minDuration')).toThrow(/episodes\.minDuration needs a duration with a unit/);
    expect(() => parseDuration('61m', '--threshold')).toThrow(/--threshold is out of range/);
  });

  it('writes them for people and for settings', () => {
    expect([3e3, 850e3, 4.6e6, 290e6, 9.34e9, 125e9].map(formatDuration)).toEqual(['3 µs', '850 µs', '4.6 ms', '290 ms', '9.34 s', '2m05s']);
    expect([2e9, 500e6, 250e3].map(formatDurationSetting)).toEqual(['2s', '500ms', '250us']);
  });
});

describe('sizes', () => {
  it('reads units and plain byte counts, and refuses anything else', () => {
    expect(parseSize('256MiB')).toBe(256 * 1024 ** 2);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize(4096)).toBe(4096);
    expect(() => parseSize('lots')).toThrow(/expected a size like 256MiB/);
  });
});
