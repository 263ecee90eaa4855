/** The log command format: every op round-trips, bad bytes give typed errors. */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, entryTs } from '../../src/kv/codec.ts';
import { KvDecodeError, KvEncodeError } from '../../src/kv/errors.ts';
import { type KvEntry, type KvOp, MAX_TIME_MS, OP } from '../../src/kv/ops.ts';
import { b, rng } from './harness.ts';

const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const everyOp: KvOp[] = [
  { type: 'set', key: b('k'), value: bin },
  { type: 'set', key: b(''), value: b(''), cond: 'nx', get: true, pxat: MAX_TIME_MS },
  { type: 'set', key: b('k'), value: b('v'), cond: 'xx', keepTtl: true },
  { type: 'del', keys: [b('a'), bin, b('')] },
  { type: 'pexpireat', key: b('k'), at: -MAX_TIME_MS, xx: true, gt: true },
  { type: 'pexpireat', key: b('k'), at: 0, nx: true, lt: true },
  { type: 'persist', key: b('k') },
  { type: 'incrby', key: b('k'), delta: -(2n ** 63n) },
  { type: 'incrby', key: b('k'), delta: 2n ** 63n - 1n },
  { type: 'incrbyfloat', key: b('k'), incr: '-1.5e\xff\x00' },
  { type: 'append', key: b('k'), value: bin },
  {
    type: 'mset',
    pairs: [
      [b('a'), b('1')],
      [bin, bin],
    ],
  },
  { type: 'msetnx', pairs: [] },
  { type: 'getdel', key: b('k') },
  { type: 'getex', key: b('k') },
  { type: 'getex', key: b('k'), pxat: 123, persist: true },
  { type: 'flushall' },
  { type: 'publish', channel: b('ch'), message: bin },
  { type: 'spublish', channel: b('ch'), message: bin },
  { type: 'expireIf', key: b('k'), at: 1_700_000_000_000 },
  { type: 'evict', keys: [b('x')] },
  {
    type: 'evictIf',
    victims: [
      { key: b('x'), version: 0 },
      { key: bin, version: Number.MAX_SAFE_INTEGER },
    ],
  },
  { type: 'session', key: b('idem-key'), fingerprint: bin, ttlMs: 86_400_000 },
  { type: 'split', atSlot: 16383, group: 0xffffffff },
  { type: 'dropUnowned', limit: 4096 },
  {
    type: 'config',
    pairs: [
      [b('requirepass'), Buffer.from('pässwörd', 'utf8')],
      [b('maxmemory'), b('1073741824')],
    ],
  },
  { type: 'get', key: b('k') },
  { type: 'mget', keys: [b('a'), b('b')] },
  { type: 'exists', keys: [] },
  { type: 'strlen', key: b('k') },
  { type: 'type', key: b('k') },
  { type: 'ttl', key: b('k'), unit: 's' },
  { type: 'expiretime', key: b('k'), unit: 'ms' },
  { type: 'dbsize' },
  { type: 'keys', pattern: b('user:*') },
  { type: 'scan', cursor: 2 ** 40, count: 10 },
  { type: 'scan', cursor: 0, count: 0, match: b('*') },
  { type: 'randomkey' },
  // Issue 14's collection ops (codec-types.ts): every field kind, optional fields absent and present.
  {
    type: 'hset',
    key: bin,
    pairs: [
      [b('f'), bin],
      [b(''), b('')],
    ],
  },
  { type: 'hset', key: b('h'), pairs: [[b('f'), b('v')]], nx: true },
  { type: 'hdel', key: b('h'), fields: [b('a'), bin] },
  { type: 'hincrby', key: b('h'), field: b('f'), delta: -(2n ** 63n) },
  { type: 'hincrbyfloat', key: b('h'), field: b('f'), incr: b('-1.5e\xff\x00') },
  { type: 'hget', key: b('h'), field: bin },
  { type: 'hmget', key: b('h'), fields: [] },
  { type: 'hgetall', key: b('h') },
  { type: 'hexists', key: b('h'), field: b('f') },
  { type: 'hlen', key: b('h') },
  { type: 'hkeys', key: b('h') },
  { type: 'hvals', key: b('h') },
  { type: 'hstrlen', key: b('h'), field: b('f') },
  { type: 'hrandfield', key: b('h') },
  { type: 'hrandfield', key: b('h'), count: -(2 ** 52), withValues: true },
  { type: 'hscan', key: b('h'), cursor: 2 ** 40, count: 10 },
  { type: 'hscan', key: b('h'), cursor: 0, count: 1, match: b('f*') },
  { type: 'encoding', key: b('h') },
  { type: 'scanType', cursor: 7, count: 10, kind: b('hash') },
  { type: 'scanType', cursor: 0, count: 100, match: b('*'), kind: b('zset') },
  { type: 'sadd', key: b('s'), members: [b('1'), bin] },
  { type: 'srem', key: b('s'), members: [] },
  { type: 'spop', key: b('s') },
  { type: 'spop', key: b('s'), count: 0 },
  { type: 'smove', key: b('s'), dest: b('t'), member: bin },
  { type: 'sstore', key: b('d'), keys: [b('s'), b('t')], mode: 2 },
  { type: 'smembers', key: b('s') },
  { type: 'sismember', key: b('s'), member: b('m') },
  { type: 'smismember', key: b('s'), members: [b('m'), b('n')] },
  { type: 'scard', key: b('s') },
  { type: 'srandmember', key: b('s'), count: -3 },
  { type: 'scombine', keys: [b('s')], mode: 1 },
  { type: 'sintercard', keys: [b('s'), b('t')], limit: 0 },
  { type: 'sscan', key: b('s'), cursor: 3, count: 10, match: b('?') },
  { type: 'rename', key: b('a'), dest: bin },
  { type: 'rename', key: b('a'), dest: b('b'), nx: true },
  { type: 'copy', key: b('a'), dest: b('b'), replace: true },
  { type: 'lpush', key: b('l'), elements: [b('a'), bin] },
  { type: 'lpush', key: b('l'), elements: [b('a')], left: true, xx: true },
  { type: 'lpop', key: b('l') },
  { type: 'lpop', key: b('l'), left: true, count: 0 },
  { type: 'lmove', key: b('l'), dest: bin, fromLeft: true },
  { type: 'lmove', key: b('l'), dest: b('m'), toLeft: true },
  { type: 'lmpop', keys: [b('a'), b('b')], count: 3 },
  { type: 'lmpop', keys: [b('a')], left: true, count: 2 ** 52 },
  { type: 'lset', key: b('l'), index: -(2 ** 52), element: bin },
  { type: 'lrem', key: b('l'), count: -2, element: b('x') },
  { type: 'ltrim', key: b('l'), start: 1, stop: -1 },
  { type: 'linsert', key: b('l'), pivot: b('p'), element: b('e'), before: true },
  { type: 'linsert', key: b('l'), pivot: b('p'), element: b('e') },
  { type: 'llen', key: b('l') },
  { type: 'lrange', key: b('l'), start: 0, stop: 2 ** 52 - 1 },
  { type: 'lindex', key: b('l'), index: -1 },
  { type: 'lpos', key: b('l'), element: b('x'), rank: -3, maxlen: 0 },
  { type: 'lpos', key: b('l'), element: b('x'), rank: 1, count: 0, maxlen: 100 },
  // Sorted sets: scores and bounds as the client's text.
  {
    type: 'zadd',
    key: b('z'),
    pairs: [
      [b('1.5'), bin],
      [b('-inf'), b('')],
    ],
  },
  { type: 'zadd', key: b('z'), pairs: [[b('1'), b('m')]], nx: true, xx: true, gt: true, lt: true, ch: true, incr: true },
  { type: 'zrem', key: b('z'), members: [bin] },
  { type: 'zpop', key: b('z') },
  { type: 'zpop', key: b('z'), count: 3, max: true },
  { type: 'zmpop', keys: [b('z'), bin], count: 2 ** 40, max: true },
  { type: 'zscore', key: b('z'), member: bin },
  { type: 'zmscore', key: b('z'), members: [b('a'), b('b')] },
  { type: 'zcard', key: b('z') },
  { type: 'zcount', key: b('z'), min: b('(1'), max: b('+inf') },
  { type: 'zrank', key: b('z'), member: b('m'), rev: true },
  { type: 'zrange', key: b('z'), min: b('0'), max: b('-1'), by: 0 },
  { type: 'zrange', key: b('z'), min: b('(1'), max: b('inf'), by: 1, rev: true, withScores: true, offset: -3, count: -(2 ** 52) },
  { type: 'zrangestore', key: b('z'), dest: bin, min: b('[a'), max: b('+'), by: 2, offset: 0, count: 5 },
  { type: 'zremrange', key: b('z'), min: b('-'), max: b('[m'), by: 2 },
  { type: 'zlexcount', key: b('z'), min: b('-'), max: b('+') },
];

describe('entry codec', () => {
  it('covers every op in the table', () => {
    expect(new Set(everyOp.map((op) => op.type))).toEqual(new Set(Object.keys(OP)));
  });

  it('round-trips every op, binary data and a watch list', () => {
    const entry: KvEntry = {
      ts: 1_700_000_123_456,
      ops: everyOp,
      watch: [
        { key: bin, version: 12345 },
        { key: b('absent'), version: -98765 },
      ],
    };
    const decoded = decodeEntry(encodeEntry(entry));
    // All bytes on both sides are Buffers, so plain JSON compares their contents.
    const plain = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
    expect(plain(decoded)).toEqual(plain(entry));
  });

  it('encodes a small SET compactly', () => {
    const data = encodeEntry({ ts: 1_700_000_000_000, ops: [{ type: 'set', key: b('key:1'), value: b('hello') }] });
    expect(data.length).toBeLessThanOrEqual(1 + 6 + 1 + 1 + 2 + 6 + 6);
    expect(decodeEntry(data).watch).toBeUndefined();
  });

  it('rejects truncated, extended, unknown and random input with KvDecodeError', () => {
    const data = encodeEntry({ ts: 5, ops: everyOp });
    for (let cut = 0; cut < data.length; cut++) {
      expect(() => decodeEntry(data.subarray(0, cut))).toThrow(KvDecodeError);
    }
    expect(() => decodeEntry(Buffer.concat([data, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => decodeEntry(Buffer.from([2, 0, 0, 0]))).toThrow(/format/);
    expect(() => decodeEntry(Buffer.from([1, 0, 0, 1, 250]))).toThrow(/op code 250/);
    expect(() => decodeEntry(Buffer.from([1, 0, 0, 1, 1, 3, 0, 0]))).toThrow(/NX and XX/);
    const r = rng(5);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)));
      try {
        decodeEntry(junk);
      } catch (err) {
        expect(err).toBeInstanceOf(KvDecodeError);
      }
    }
  });

  it('still decodes an unconditional EVICT as logged before EVICT_IF existed; EVICT_IF adds a varint per key', () => {
    // FORMAT 1, ts 7, no watch, one op: code 15, two keys "a" and "bc".
    const old = Buffer.from([1, 7, 0, 1, 15, 2, 1, 0x61, 2, 0x62, 0x63]);
    expect(decodeEntry(old)).toEqual({ ts: 7, ops: [{ type: 'evict', keys: [b('a'), b('bc')] }] });
    const data = encodeEntry({
      ts: 7,
      ops: [
        {
          type: 'evictIf',
          victims: [
            { key: b('a'), version: 5 },
            { key: b('bc'), version: 300 },
          ],
        },
      ],
    });
    expect(data).toEqual(Buffer.from([1, 7, 0, 1, 17, 2, 1, 0x61, 5, 2, 0x62, 0x63, 0xac, 0x02]));
  });

  it('entryTs reads the timestamp alone, and undefined from what is not an entry', () => {
    const data = encodeEntry({ ts: 1_700_000_123_456, ops: everyOp, watch: [{ key: bin, version: 3 }] });
    expect(entryTs(data)).toBe(1_700_000_123_456);
    expect(entryTs(new Uint8Array(data))).toBe(1_700_000_123_456);
    expect(entryTs(encodeEntry({ ts: 0, ops: [] }))).toBe(0);
    expect(entryTs(new Uint8Array(0))).toBeUndefined();
    expect(entryTs(Buffer.from([1]))).toBeUndefined();
    expect(entryTs(Buffer.from([1, 0x80]))).toBeUndefined();
    expect(entryTs(Buffer.from([2, 5]))).toBeUndefined();
    expect(entryTs(Buffer.from([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toBeUndefined();
  });

  it('accepts plain Uint8Array input (not only Buffer)', () => {
    const data = encodeEntry({ ts: 1, ops: [{ type: 'get', key: b('k') }] });
    const plain = new Uint8Array(data);
    expect(decodeEntry(plain).ops[0]).toMatchObject({ type: 'get' });
  });

  it('refuses values it cannot represent with KvEncodeError', () => {
    const bad: KvEntry[] = [
      { ts: -1, ops: [] },
      { ts: 1.5, ops: [] },
      { ts: 0, ops: [{ type: 'pexpireat', key: b('k'), at: MAX_TIME_MS + 1 }] },
      { ts: 0, ops: [{ type: 'set', key: b('k'), value: b(''), pxat: Number.NaN }] },
      { ts: 0, ops: [{ type: 'incrby', key: b('k'), delta: 2n ** 63n }] },
      { ts: 0, ops: [{ type: 'incrbyfloat', key: b('k'), incr: '€' }] },
      { ts: 0, ops: [{ type: 'scan', cursor: -1, count: 1 }] },
      { ts: 0, ops: [], watch: [{ key: b('k'), version: 2 ** 60 }] },
      { ts: 0, ops: [{ type: 'evictIf', victims: [{ key: b('k'), version: -1 }] }] },
      // +2^52 zigzags to 2^53, which no varint decodes: refused here, not logged undecodable.
      { ts: 0, ops: [{ type: 'lrange', key: b('k'), start: 0, stop: 2 ** 52 }] },
      { ts: 0, ops: [{ type: 'lindex', key: b('k'), index: -(2 ** 52) - 1 }] },
      { ts: 0, ops: [{ type: 'lpop', key: b('k'), count: 1.5 }] },
    ];
    for (const e of bad) expect(() => encodeEntry(e)).toThrow(KvEncodeError);
  });
});
