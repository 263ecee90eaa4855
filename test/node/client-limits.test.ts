/**
 * client-output-buffer-limit's text form, as redis-server 7.0 parses and prints it, and the
 * config loader refusing a bad one at start (exit 2 naming the setting is ConfigError's job).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_LIMITS, formatOutputLimits, type OutputLimits, parseMemory, parseOutputLimits } from '../../src/node/client-limits.ts';
import { ConfigError, resolveConfig } from '../../src/node/config.ts';

const parsed = (text: string, base?: OutputLimits) => parseOutputLimits(text, base) as OutputLimits;

describe('client-output-buffer-limit', () => {
  it("prints Redis 7.0's default back byte for byte", () => {
    expect(formatOutputLimits(parsed(DEFAULT_OUTPUT_LIMITS))).toBe(DEFAULT_OUTPUT_LIMITS);
    expect(parsed(DEFAULT_OUTPUT_LIMITS).pubsub).toEqual({ hard: 32 * 1024 * 1024, soft: 8 * 1024 * 1024, softSeconds: 60 });
  });

  it('takes memory units, any case, and replica as slave; classes not named keep theirs', () => {
    const l = parsed('pubsub 16MB 4kb 30 replica 1g 1000 5', parsed(DEFAULT_OUTPUT_LIMITS));
    expect(formatOutputLimits(l)).toBe('normal 0 0 0 slave 1000000000 1000 5 pubsub 16777216 4096 30');
  });

  it("refuses what Redis refuses, with Redis's messages", () => {
    expect(parseOutputLimits('pubsub 1mb')).toBe('Wrong number of arguments in buffer limit configuration.');
    expect(parseOutputLimits('')).toBe('Wrong number of arguments in buffer limit configuration.');
    expect(parseOutputLimits('master 1 1 1')).toBe('Invalid client class specified in buffer limit configuration.');
    expect(parseOutputLimits('normal 1x 1 1')).toBe('Error in hard, soft or soft_seconds setting in buffer limit configuration.');
    expect(parseOutputLimits('normal 1 1 -1')).toBe('Error in hard, soft or soft_seconds setting in buffer limit configuration.');
  });

  it('parses memory values as memtoull does (k = 1000, kb = 1024)', () => {
    expect(parseMemory('1k')).toBe(1000);
    expect(parseMemory('1kb')).toBe(1024);
    expect(parseMemory('2GB')).toBe(2 * 1024 ** 3);
    expect(parseMemory('1.5mb')).toBeNull();
    expect(parseMemory('')).toBeNull();
  });

  it('a bad value at start is a ConfigError naming the setting', () => {
    const flags = { peers: 'n1=127.0.0.1:7000' };
    expect(() => resolveConfig({ ...flags, 'client-output-buffer-limit': 'pubsub 1mb' }, {})).toThrow(ConfigError);
    expect(() => resolveConfig({ ...flags, 'client-output-buffer-limit': 'pubsub 1mb' }, {})).toThrow(/client-output-buffer-limit/);
    expect(() => resolveConfig({ ...flags, timeout: '-1' }, {})).toThrow(/'timeout'/);
    expect(() => resolveConfig({ ...flags, 'client-query-buffer-limit': '1000' }, {})).toThrow(/client-query-buffer-limit/);
    const cfg = resolveConfig(flags, { RAFTKV_TIMEOUT: '30', RAFTKV_MAXMEMORY_CLIENTS: '0' });
    expect(cfg.timeout).toBe(30);
    expect(cfg.maxmemoryClients).toBe(0);
    expect(cfg.clientQueryBufferLimit).toBe(64 * 1024 * 1024);
  });
});
