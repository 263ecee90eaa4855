/**
 * Settings with units: byte sizes as Redis writes them (one parser for flags, the environment,
 * the config file and CONFIG SET) and durations as etcd writes them, with the tick counts the
 * Raft core uses derived from `--election-timeout` / `--heartbeat-interval`. The old forms
 * (plain integers, tick counts) keep working.
 */
import { describe, expect, it } from 'vitest';
import { parseMemory } from '../../src/node/client-limits.ts';
import { ConfigError, resolveConfig } from '../../src/node/config.ts';
import { formatBytes, formatDuration, parseBytes, parseBytesExact, parseDuration } from '../../src/node/units.ts';

describe('units', () => {
  it('byte sizes: memtoull units, any case, k = 1000 and kb = 1024', () => {
    expect(parseBytes('100mb')).toBe(100 * 1024 ** 2);
    expect(parseBytes('100MB')).toBe(100 * 1024 ** 2);
    expect(parseBytes('1k')).toBe(1000);
    expect(parseBytes('1kb')).toBe(1024);
    expect(parseBytes('2g')).toBe(2e9);
    expect(parseBytes('7')).toBe(7);
    expect(parseBytes('7b')).toBe(7);
    for (const bad of ['', 'mb', '1.5mb', '-1', '1 mb', '1tb', '0x10']) expect(parseBytes(bad), bad).toBeNull();
    expect(parseBytesExact('18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(parseBytesExact('17179869184gb')).toBeNull();
    expect(parseBytes('9007199254740992')).toBeNull();
    // CONFIG SET's parser is this one.
    expect(parseMemory).toBe(parseBytes);
  });

  it("durations: ms, s, m, h, or bare digits in the setting's own unit", () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('50')).toBe(50);
    expect(parseDuration('3', 's')).toBe(3000);
    for (const bad of ['', 's', '1.5', '-1s', '1d', '0.0001s', '2 s']) expect(parseDuration(bad), bad).toBeNull();
    expect(formatBytes(64 * 1024 ** 2)).toBe('64mb');
    expect(formatBytes(1000)).toBe('1000b');
    expect(formatDuration(5000)).toBe('5s');
    expect(formatDuration(50)).toBe('50ms');
    expect([formatBytes(0), formatDuration(0)]).toEqual(['0', '0']);
  });

  it('byte-size settings take units from flags, the environment and the old plain integers', () => {
    const cfg = resolveConfig({ maxmemory: '100mb', 'max-value-bytes': '1mb', 'client-query-buffer-limit': '2MB' }, { RAFTKV_SNAPSHOT_BYTES: '1gb' });
    expect(cfg.maxmemory).toBe(100 * 1024 ** 2);
    expect(cfg.maxValueBytes).toBe(1024 ** 2);
    expect(cfg.clientQueryBufferLimit).toBe(2 * 1024 ** 2);
    expect(cfg.snapshotBytes).toBe(1024 ** 3);
    expect(resolveConfig({ maxmemory: '1048576' }, {}).maxmemory).toBe(1048576);
    expect(() => resolveConfig({ maxmemory: '100xb' }, {})).toThrow("invalid setting 'maxmemory': expected a byte size");
    expect(() => resolveConfig({ 'client-query-buffer-limit': '1kb' }, {})).toThrow("invalid setting 'client-query-buffer-limit': must be >= 1048576");
  });

  it('durations: tick-ms and request-timeout-ms take units, bare numbers stay milliseconds', () => {
    const cfg = resolveConfig({ 'tick-ms': '100ms', 'request-timeout-ms': '2s' }, {});
    expect(cfg.tickMs).toBe(100);
    expect(cfg.requestTimeoutMs).toBe(2000);
    expect(resolveConfig({ 'tick-ms': '20' }, {}).tickMs).toBe(20);
    expect(() => resolveConfig({ 'tick-ms': 'soon' }, {})).toThrow("invalid setting 'tick-ms': expected a duration");
  });

  it('--election-timeout and --heartbeat-interval set the tick counts; the tick flags keep working', () => {
    const byTime = resolveConfig({ 'election-timeout': '1s', 'heartbeat-interval': '100ms' }, {});
    expect({ e: byTime.electionTicks, h: byTime.heartbeatTicks, et: byTime.electionTimeout, hi: byTime.heartbeatInterval }).toEqual({
      e: 20,
      h: 2,
      et: 1000,
      hi: 100,
    });
    const byTicks = resolveConfig({ 'election-ticks': '12', 'tick-ms': '25' }, {});
    expect({ e: byTicks.electionTicks, et: byTicks.electionTimeout, hi: byTicks.heartbeatInterval }).toEqual({ e: 12, et: 300, hi: 25 });
    const defaults = resolveConfig({}, {});
    expect(defaults.electionTimeout).toBe(500);
    // The time wins over the tick count when both are given.
    expect(resolveConfig({ 'election-timeout': '2s', 'election-ticks': '12' }, {}).electionTicks).toBe(40);
  });

  it('a time that is not a whole number of ticks, or too short, is refused naming the setting', () => {
    expect(() => resolveConfig({ 'election-timeout': '1030ms' }, {})).toThrow(ConfigError);
    expect(() => resolveConfig({ 'election-timeout': '1030ms' }, {})).toThrow(
      "invalid setting 'election-timeout': 1030ms is not a whole number of ticks (tick-ms is 50)",
    );
    expect(() => resolveConfig({ 'election-timeout': '50ms' }, {})).toThrow("invalid setting 'election-timeout': must be at least 2 ticks");
    expect(() => resolveConfig({ 'heartbeat-interval': '500ms' }, {})).toThrow("invalid setting 'heartbeat-ticks': must be smaller than election-ticks");
  });
});
