/** String commands against Redis 7's documented behaviour (redis.io/commands/...). */
import { describe, expect, it } from 'vitest';
import { b, Harness } from './harness.ts';

describe('SET', () => {
  it('stores binary-safe keys and values, including empty ones', () => {
    const h = new Harness();
    const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
    expect(h.set(all, all)).toBe('OK');
    expect(h.get(all)).toBe(all);
    expect(h.set('empty', '')).toBe('OK');
    expect(h.get('empty')).toBe('');
    expect(h.set('', 'empty key')).toBe('OK');
    expect(h.get('')).toBe('empty key');
  });

  it('NX sets only a missing key and XX only an existing one, replying nil otherwise', () => {
    const h = new Harness();
    expect(h.set('k', 'v1', { cond: 'xx' })).toBeNull();
    expect(h.get('k')).toBeNull();
    expect(h.set('k', 'v1', { cond: 'nx' })).toBe('OK');
    expect(h.set('k', 'v2', { cond: 'nx' })).toBeNull();
    expect(h.get('k')).toBe('v1');
    expect(h.set('k', 'v3', { cond: 'xx' })).toBe('OK');
    expect(h.get('k')).toBe('v3');
  });

  it('GET returns the old value or nil, and combines with NX (Redis 7) and XX', () => {
    const h = new Harness();
    expect(h.set('k', 'a', { get: true })).toBeNull();
    expect(h.set('k', 'b', { get: true })).toBe('a');
    // NX + GET on an existing key: the old value comes back and nothing is written.
    expect(h.set('k', 'c', { get: true, cond: 'nx' })).toBe('b');
    expect(h.get('k')).toBe('b');
    // NX + GET on a missing key: nil, and the key is set.
    expect(h.set('n', 'x', { get: true, cond: 'nx' })).toBeNull();
    expect(h.get('n')).toBe('x');
    // XX + GET on a missing key: nil, and nothing is written.
    expect(h.set('m', 'x', { get: true, cond: 'xx' })).toBeNull();
    expect(h.get('m')).toBeNull();
  });

  it('discards the TTL unless KEEPTTL, and sets an absolute PXAT', () => {
    const h = new Harness();
    const at = h.ts + 10_000;
    h.set('k', 'v', { pxat: at });
    expect(h.store.expireTime(b('k'), h.ts)).toBe(at);
    h.set('k', 'v2', { keepTtl: true });
    expect(h.store.expireTime(b('k'), h.ts)).toBe(at);
    expect(h.get('k')).toBe('v2');
    h.set('k', 'v3');
    expect(h.store.ttl(b('k'), h.ts)).toBe(-1);
  });

  it('KEEPTTL on a logically expired key does not resurrect the old expiry', () => {
    const h = new Harness();
    h.set('k', 'v', { pxat: h.ts + 100 });
    h.ts += 100;
    expect(h.set('k', 'new', { keepTtl: true })).toBe('OK');
    expect(h.get('k')).toBe('new');
    expect(h.store.ttl(b('k'), h.ts)).toBe(-1);
  });

  it("answers Redis's error for a non-positive PXAT and leaves the key alone", () => {
    const h = new Harness();
    h.set('k', 'v');
    expect(h.set('k', 'x', { pxat: 0 })).toEqual({ err: "ERR invalid expire time in 'set' command" });
    expect(h.set('k', 'x', { pxat: -5 })).toEqual({ err: "ERR invalid expire time in 'set' command" });
    expect(h.get('k')).toBe('v');
  });

  it('a PXAT already in the past replies OK and leaves no key', () => {
    const h = new Harness();
    h.set('k', 'old');
    expect(h.set('k', 'v', { pxat: h.ts - 1, get: true })).toBe('old');
    expect(h.get('k')).toBeNull();
    expect(h.store.dbsize(h.ts)).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
    expect(h.set('fresh', 'v', { pxat: h.ts })).toBe('OK');
    expect(h.store.exists(b('fresh'), h.ts)).toBe(false);
  });
});

describe('DEL, GETDEL, FLUSHALL', () => {
  it('DEL counts the keys actually removed, once each', () => {
    const h = new Harness();
    h.set('a', '1');
    h.set('b', '2');
    expect(h.run({ type: 'del', keys: [b('a'), b('a'), b('b'), b('missing')] })).toBe(2);
    expect(h.store.dbsize(h.ts)).toBe(0);
  });

  it('DEL does not count a logically expired key', () => {
    const h = new Harness();
    h.set('a', '1', { pxat: h.ts + 5 });
    h.ts += 5;
    expect(h.run({ type: 'del', keys: [b('a')] })).toBe(0);
  });

  it('GETDEL returns the value and removes the key, nil when missing', () => {
    const h = new Harness();
    h.set('k', 'v');
    expect(h.run({ type: 'getdel', key: b('k') })).toBe('v');
    expect(h.get('k')).toBeNull();
    expect(h.run({ type: 'getdel', key: b('k') })).toBeNull();
  });

  it('FLUSHALL removes everything', () => {
    const h = new Harness();
    for (let i = 0; i < 10; i++) h.set(`k${i}`, 'v', i % 2 ? { pxat: h.ts + 1000 } : {});
    expect(h.run({ type: 'flushall' })).toBe('OK');
    expect(h.store.dbsize(h.ts)).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
    expect(h.store.nextExpiry()).toBeUndefined();
    expect(h.set('k1', 'again')).toBe('OK');
    expect(h.get('k1')).toBe('again');
  });
});

describe('APPEND', () => {
  it('creates the key, returns the new length, keeps the TTL, and is binary-safe', () => {
    const h = new Harness();
    expect(h.run({ type: 'append', key: b('k'), value: b('Hello') })).toBe(5);
    const at = h.ts + 5000;
    h.run({ type: 'pexpireat', key: b('k'), at });
    expect(h.run({ type: 'append', key: b('k'), value: b(' World\x00\xff') })).toBe(13);
    expect(h.get('k')).toBe('Hello World\x00\xff');
    expect(h.store.expireTime(b('k'), h.ts)).toBe(at);
  });

  it('many appends build the value in order', () => {
    const h = new Harness();
    let expected = '';
    for (let i = 0; i < 1000; i++) {
      const part = String(i % 10);
      expected += part;
      expect(h.run({ type: 'append', key: b('log'), value: b(part) })).toBe(expected.length);
    }
    expect(h.get('log')).toBe(expected);
  });
});

describe('MSET, MSETNX', () => {
  it('MSET sets every pair, clears TTLs, and the last duplicate wins', () => {
    const h = new Harness();
    h.set('a', 'old', { pxat: h.ts + 1000 });
    expect(
      h.run({
        type: 'mset',
        pairs: [
          [b('a'), b('1')],
          [b('b'), b('2')],
          [b('a'), b('3')],
        ],
      }),
    ).toBe('OK');
    expect(h.get('a')).toBe('3');
    expect(h.get('b')).toBe('2');
    expect(h.store.ttl(b('a'), h.ts)).toBe(-1);
  });

  it('MSETNX sets all keys or none', () => {
    const h = new Harness();
    expect(
      h.run({
        type: 'msetnx',
        pairs: [
          [b('a'), b('1')],
          [b('b'), b('2')],
        ],
      }),
    ).toBe(1);
    expect(
      h.run({
        type: 'msetnx',
        pairs: [
          [b('c'), b('3')],
          [b('a'), b('x')],
        ],
      }),
    ).toBe(0);
    expect(h.get('c')).toBeNull();
    expect(h.get('a')).toBe('1');
  });

  it('MSETNX treats a logically expired key as absent', () => {
    const h = new Harness();
    h.set('a', '1', { pxat: h.ts + 1 });
    h.ts += 1;
    expect(h.run({ type: 'msetnx', pairs: [[b('a'), b('2')]] })).toBe(1);
    expect(h.get('a')).toBe('2');
  });
});

describe('GETEX', () => {
  it('without options is a GET; nil for a missing key', () => {
    const h = new Harness();
    h.set('k', 'v', { pxat: h.ts + 1000 });
    expect(h.run({ type: 'getex', key: b('k') })).toBe('v');
    expect(h.store.ttl(b('k'), h.ts)).toBe(1000);
    expect(h.run({ type: 'getex', key: b('nope') })).toBeNull();
  });

  it('sets an expiry, or removes it with PERSIST', () => {
    const h = new Harness();
    h.set('k', 'v');
    expect(h.run({ type: 'getex', key: b('k'), pxat: h.ts + 3000 })).toBe('v');
    expect(h.store.ttl(b('k'), h.ts)).toBe(3000);
    expect(h.run({ type: 'getex', key: b('k'), persist: true })).toBe('v');
    expect(h.store.ttl(b('k'), h.ts)).toBe(-1);
  });

  it('a past PXAT returns the value and deletes the key; a non-positive one is an error', () => {
    const h = new Harness();
    h.set('k', 'v');
    expect(h.run({ type: 'getex', key: b('k'), pxat: 0 })).toEqual({ err: "ERR invalid expire time in 'getex' command" });
    expect(h.run({ type: 'getex', key: b('k'), pxat: h.ts })).toBe('v');
    expect(h.get('k')).toBeNull();
  });
});

describe('PUBLISH', () => {
  it('changes no state and returns the event for the runtime to deliver', () => {
    const h = new Harness();
    expect(h.run({ type: 'publish', channel: b('news'), message: b('hi\x00') })).toEqual({ publish: ['news', 'hi\x00'] });
    expect(h.store.dbsize(h.ts)).toBe(0);
  });
});

describe('read ops inside a MULTI entry', () => {
  it('see the writes before them in the same entry, at the entry time', () => {
    const h = new Harness();
    const at = h.ts + 2500;
    const results = h.exec([
      { type: 'set', key: b('a'), value: b('hello') },
      { type: 'get', key: b('a') },
      { type: 'set', key: b('b'), value: b('x'), pxat: at },
      { type: 'mget', keys: [b('a'), b('nope'), b('b')] },
      { type: 'exists', keys: [b('a'), b('a'), b('nope')] },
      { type: 'strlen', key: b('a') },
      { type: 'type', key: b('a') },
      { type: 'type', key: b('nope') },
      { type: 'ttl', key: b('b'), unit: 's' },
      { type: 'ttl', key: b('b'), unit: 'ms' },
      { type: 'ttl', key: b('a'), unit: 'ms' },
      { type: 'ttl', key: b('nope'), unit: 'ms' },
      { type: 'expiretime', key: b('b'), unit: 'ms' },
      { type: 'expiretime', key: b('b'), unit: 's' },
      { type: 'dbsize' },
      { type: 'keys', pattern: b('[ab]') },
      { type: 'del', keys: [b('a')] },
      { type: 'get', key: b('a') },
    ]);
    expect(results).toEqual([
      'OK',
      'hello',
      'OK',
      ['hello', null, 'x'],
      2,
      5,
      { status: 'string' },
      { status: 'none' },
      3,
      2500,
      -1,
      -2,
      at,
      Math.floor(at / 1000),
      2,
      ['a', 'b'],
      1,
      null,
    ]);
  });

  it('an error in one op does not stop the others (EXEC semantics)', () => {
    const h = new Harness();
    h.set('s', 'text');
    const results = h.exec([
      { type: 'set', key: b('a'), value: b('1') },
      { type: 'incrby', key: b('s'), delta: 1n },
      { type: 'incrby', key: b('a'), delta: 1n },
    ]);
    expect(results).toEqual(['OK', { err: 'ERR value is not an integer or out of range' }, 2]);
  });

  it('scan and randomkey are answered too', () => {
    const h = new Harness();
    h.set('only', 'v');
    const [scan, random] = h.exec([{ type: 'scan', cursor: 0, count: 10 }, { type: 'randomkey' }]);
    expect(scan).toEqual(['0', ['only']]);
    expect(random).toBe('only');
  });
});
