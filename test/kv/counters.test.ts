/**
 * INCRBY and INCRBYFLOAT. The expected texts were produced by redis-server 7.0.15 (x86_64) for
 * the same inputs, so these tables pin byte-for-byte compatibility.
 */
import { describe, expect, it } from 'vitest';
import { addLongDouble, formatLongDouble, parseLongDouble } from '../../src/kv/long-double.ts';
import { parseInt64 } from '../../src/kv/numbers.ts';
import { b, Harness } from './harness.ts';

const NOT_INT = { err: 'ERR value is not an integer or out of range' };
const OVERFLOW = { err: 'ERR increment or decrement would overflow' };
const NOT_FLOAT = { err: 'ERR value is not a valid float' };
const NAN_INF = { err: 'ERR increment would produce NaN or Infinity' };

describe('INCRBY', () => {
  const cases: [string | null, bigint, unknown][] = [
    [null, 5n, 5],
    ['10', -3n, 7],
    ['0', 0n, 0],
    ['9223372036854775806', 1n, 9223372036854775807n],
    ['9223372036854775807', 1n, OVERFLOW],
    ['-9223372036854775807', -1n, -9223372036854775808n],
    ['-9223372036854775808', -1n, OVERFLOW],
    ['123456789012345678', 1n, 123456789012345679n],
    ['9007199254740991', 1n, 9007199254740992n],
    ['abc', 1n, NOT_INT],
    [' 1', 1n, NOT_INT],
    ['1 ', 1n, NOT_INT],
    ['+1', 1n, NOT_INT],
    ['01', 1n, NOT_INT],
    ['-0', 1n, NOT_INT],
    ['1.0', 1n, NOT_INT],
    ['', 1n, NOT_INT],
    ['-', 1n, NOT_INT],
    ['9223372036854775808', 0n, NOT_INT],
  ];
  it.each(cases)('value %s + %s -> %o', (cur, delta, expected) => {
    const h = new Harness();
    if (cur !== null) h.set('k', cur);
    expect(h.run({ type: 'incrby', key: b('k'), delta })).toEqual(expected);
    if (typeof expected !== 'object') expect(h.get('k')).toBe(String(expected));
    else expect(h.get('k')).toBe(cur);
  });

  it('keeps the TTL', () => {
    const h = new Harness();
    h.set('k', '1', { pxat: h.ts + 1000 });
    h.run({ type: 'incrby', key: b('k'), delta: 1n });
    expect(h.store.ttl(b('k'), h.ts)).toBe(1000);
  });

  it('treats a logically expired value as missing', () => {
    const h = new Harness();
    h.set('k', 'not a number', { pxat: h.ts + 1 });
    h.ts += 1;
    expect(h.run({ type: 'incrby', key: b('k'), delta: 3n })).toBe(3);
    expect(h.store.ttl(b('k'), h.ts)).toBe(-1);
  });

  it('parseInt64 follows string2ll, returning numbers while safe', () => {
    expect(parseInt64('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(parseInt64('9007199254740991')).toBe(9007199254740991);
    expect(parseInt64('9007199254740992')).toBe(9007199254740992n);
    expect(parseInt64('123456789012345678901')).toBeNull();
  });
});

describe('INCRBYFLOAT', () => {
  // [current value (null = missing), increment, redis-server 7.0.15 reply]
  const cases: [string | null, string, unknown][] = [
    ['10.50', '0.1', '10.6'],
    ['10.6', '-5', '5.6'],
    ['5.0e3', '2.0e2', '5200'],
    ['314e-2', '0', '3.14'],
    ['3', '1.1', '4.1'],
    ['3.0', '1.000000000000000000000', '4'],
    ['10', '0.1', '10.1'],
    ['127', '0.1', '127.1'],
    ['128', '0.1', '128.10000000000000001'],
    ['1000', '0.1', '1000.09999999999999998'],
    ['1000', '-0.1', '999.90000000000000002'],
    [null, '0.1', '0.1'],
    ['0.1', '0.2', '0.3'],
    [null, '1e30', '1000000000000000000024696061952'],
    [null, '-1e-20', '0'],
    ['-0', '-0', '0'],
    ['-1.5', '1.5', '0'],
    [null, '1.5e-10', '0.00000000015'],
    ['9007199254740993', '0', '9007199254740993'],
    ['18446744073709551615', '1', '18446744073709551616'],
    ['0x10', '0x1p-2', '16.25'],
    ['1.', '.5', '1.5'],
    ['0', '0e-99999', '0'],
    ['123456789.123456789', '987654321.987654321', '1111111111.11111110995989293'],
    ['2.5e-5', '1e-17', '0.00002500000000001'],
    ['1', '1e-18', '1'],
    ['inf', '1', NAN_INF],
    ['1', 'inf', NAN_INF],
    ['1', '-inf', NAN_INF],
    ['1e4932', '1e4932', NAN_INF],
    ['1', 'nan', NOT_FLOAT],
    ['abc', '1', NOT_FLOAT],
    ['1', '', NOT_FLOAT],
    ['1', ' 1', NOT_FLOAT],
    ['1', '1 ', NOT_FLOAT],
    ['1', '1e', NOT_FLOAT],
    ['1', '1e4933', NOT_FLOAT],
    ['1', '1e-4952', NOT_FLOAT],
    ['1', '1\x00', NOT_FLOAT],
  ];
  it.each(cases)('value %j + %j -> %j', (cur, incr, expected) => {
    const h = new Harness();
    if (cur !== null) h.set('k', cur);
    expect(h.run({ type: 'incrbyfloat', key: b('k'), incr })).toEqual(expected);
    expect(h.get('k')).toBe(typeof expected === 'string' ? expected : cur);
  });

  it('prints huge values in full, never with an exponent (1e4932 + 0 is 4933 digits)', () => {
    const h = new Harness();
    h.set('k', '1e4932');
    const out = h.run({ type: 'incrbyfloat', key: b('k'), incr: '0' }) as string;
    expect(out).toHaveLength(4933);
    expect(out.startsWith('100000000000000000000601894938')).toBe(true);
  });

  it('keeps the TTL', () => {
    const h = new Harness();
    h.set('k', '1', { pxat: h.ts + 700 });
    expect(h.run({ type: 'incrbyfloat', key: b('k'), incr: '0.5' })).toBe('1.5');
    expect(h.store.ttl(b('k'), h.ts)).toBe(700);
  });

  it('handles subnormal long doubles (0x1p-16445 is the smallest, 0x1p-16446 rounds to zero)', () => {
    const min = parseLongDouble('0x1p-16445');
    expect(min).not.toBeNull();
    expect(parseLongDouble('0x1p-16446')).toBeNull();
    const doubled = addLongDouble(min!, min!)!;
    expect(doubled.mant * 2n ** BigInt(doubled.exp + 16446)).toBe(4n);
    expect(formatLongDouble(doubled)).toBe('0');
  });
});
