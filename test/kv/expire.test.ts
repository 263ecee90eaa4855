/** PEXPIREAT/PERSIST/TTL semantics, expiry edge cases, and the leader's active expiry. */
import { describe, expect, it } from 'vitest';
import { b, Harness } from './harness.ts';

describe('PEXPIREAT', () => {
  it('returns 0 for a missing key and 1 when it sets the expiry', () => {
    const h = new Harness();
    expect(h.run({ type: 'pexpireat', key: b('k'), at: h.ts + 100 })).toBe(0);
    h.set('k', 'v');
    expect(h.run({ type: 'pexpireat', key: b('k'), at: h.ts + 100 })).toBe(1);
    expect(h.store.ttl(b('k'), h.ts)).toBe(100);
  });

  // Redis docs: NX only without expiry, XX only with one, GT/LT compare with the current one,
  // and "a non-volatile key is treated as an infinite TTL for the purpose of GT and LT".
  type Flags = { nx?: boolean; xx?: boolean; gt?: boolean; lt?: boolean };
  const cases: [string, Flags, 'persistent' | 'volatile', number, 0 | 1][] = [
    ['NX on persistent', { nx: true }, 'persistent', 500, 1],
    ['NX on volatile', { nx: true }, 'volatile', 500, 0],
    ['XX on persistent', { xx: true }, 'persistent', 500, 0],
    ['XX on volatile', { xx: true }, 'volatile', 500, 1],
    ['GT on persistent (infinite TTL)', { gt: true }, 'persistent', 500, 0],
    ['GT later on volatile', { gt: true }, 'volatile', 2000, 1],
    ['GT equal on volatile', { gt: true }, 'volatile', 1000, 0],
    ['GT earlier on volatile', { gt: true }, 'volatile', 500, 0],
    ['LT on persistent (infinite TTL)', { lt: true }, 'persistent', 500, 1],
    ['LT earlier on volatile', { lt: true }, 'volatile', 500, 1],
    ['LT equal on volatile', { lt: true }, 'volatile', 1000, 0],
    ['LT later on volatile', { lt: true }, 'volatile', 2000, 0],
    ['XX+GT on persistent', { xx: true, gt: true }, 'persistent', 500, 0],
    ['XX+LT on persistent', { xx: true, lt: true }, 'persistent', 500, 0],
    ['XX+LT earlier on volatile', { xx: true, lt: true }, 'volatile', 500, 1],
  ];
  it.each(cases)('%s', (_name, flags, kind, inMs, expected) => {
    const h = new Harness();
    h.set('k', 'v', kind === 'volatile' ? { pxat: h.ts + 1000 } : {});
    expect(h.run({ type: 'pexpireat', key: b('k'), at: h.ts + inMs, ...flags })).toBe(expected);
    const want = expected ? inMs : kind === 'volatile' ? 1000 : -1;
    expect(h.store.ttl(b('k'), h.ts)).toBe(want);
  });

  it("rejects incompatible options with Redis's texts", () => {
    const h = new Harness();
    h.set('k', 'v');
    const at = h.ts + 1;
    expect(h.run({ type: 'pexpireat', key: b('k'), at, nx: true, xx: true })).toEqual({
      err: 'ERR NX and XX, GT or LT options at the same time are not compatible',
    });
    expect(h.run({ type: 'pexpireat', key: b('k'), at, nx: true, gt: true })).toEqual({
      err: 'ERR NX and XX, GT or LT options at the same time are not compatible',
    });
    expect(h.run({ type: 'pexpireat', key: b('k'), at, gt: true, lt: true })).toEqual({
      err: 'ERR GT and LT options at the same time are not compatible',
    });
  });

  it('a time at or before the entry time deletes the key and returns 1 (also for negative times)', () => {
    const h = new Harness();
    h.set('a', 'v');
    h.set('b', 'v');
    expect(h.run({ type: 'pexpireat', key: b('a'), at: h.ts })).toBe(1);
    expect(h.run({ type: 'pexpireat', key: b('b'), at: -5000 })).toBe(1);
    expect(h.store.dbsize(h.ts)).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
  });
});

describe('PERSIST and TTL replies', () => {
  it('PERSIST removes an expiry (1), and returns 0 without one or without the key', () => {
    const h = new Harness();
    h.set('k', 'v', { pxat: h.ts + 100 });
    expect(h.run({ type: 'persist', key: b('k') })).toBe(1);
    expect(h.run({ type: 'persist', key: b('k') })).toBe(0);
    expect(h.run({ type: 'persist', key: b('nope') })).toBe(0);
    expect(h.store.nextExpiry()).toBeUndefined();
  });

  it('TTL rounds to the nearest second like Redis; PTTL and PEXPIRETIME are exact', () => {
    const h = new Harness();
    const at = h.ts + 1499;
    h.set('k', 'v', { pxat: at });
    expect(h.store.ttl(b('k'), h.ts, 's')).toBe(1);
    expect(h.store.ttl(b('k'), h.ts - 1, 's')).toBe(2);
    expect(h.store.ttl(b('k'), h.ts)).toBe(1499);
    expect(h.store.expireTime(b('k'), h.ts)).toBe(at);
    expect(h.store.expireTime(b('k'), h.ts, 's')).toBe(Math.floor(at / 1000));
    expect(h.store.ttl(b('nope'), h.ts)).toBe(-2);
    expect(h.store.expireTime(b('nope'), h.ts)).toBe(-2);
  });
});

describe('expiry is evaluated against the entry timestamp', () => {
  it('a key whose expiry equals the time is expired, one millisecond earlier it is not', () => {
    const h = new Harness();
    const at = h.ts + 1000;
    h.set('k', 'v', { pxat: at });
    expect(h.store.get(b('k'), at - 1)?.toString()).toBe('v');
    expect(h.store.get(b('k'), at)).toBeNull();
    expect(h.store.exists(b('k'), at)).toBe(false);
    expect(h.store.ttl(b('k'), at)).toBe(-2);
    expect(h.store.type(b('k'), at)).toBe('none');
    expect(h.store.dbsize(at)).toBe(0);
    expect(h.store.dbsize(at - 1)).toBe(1);
    // The same at apply time: an entry stamped exactly `at` no longer sees the key.
    h.ts = at;
    expect(h.run({ type: 'get', key: b('k') })).toBeNull();
  });

  it('reads never delete: a follower reading past the expiry keeps the key', () => {
    const h = new Harness();
    h.set('k', 'v', { pxat: h.ts + 10 });
    const before = h.store.usedMemory();
    expect(h.store.get(b('k'), h.ts + 1_000_000)).toBeNull();
    expect(h.store.keys(b('*'), h.ts + 1_000_000)).toEqual([]);
    expect(h.store.usedMemory()).toBe(before);
    expect(h.store.get(b('k'), h.ts)?.toString()).toBe('v');
  });

  it('results depend on the entry time, not on when apply runs', () => {
    const h = new Harness();
    h.set('lock', 'owner', { pxat: h.ts + 30_000 });
    // A SET NX stamped before the expiry fails, one stamped after succeeds.
    h.ts += 29_999;
    expect(h.set('lock', 'other', { cond: 'nx' })).toBeNull();
    h.ts += 1;
    expect(h.set('lock', 'other', { cond: 'nx' })).toBe('OK');
  });
});

describe('active expiry (leader)', () => {
  it('expiredSample lists due keys without deleting them', () => {
    const h = new Harness();
    for (let i = 0; i < 20; i++) h.set(`k${i}`, 'v', { pxat: h.ts + 100 * (i + 1) });
    h.set('forever', 'v');
    expect(h.store.nextExpiry()).toBe(h.ts + 100);
    const due = h.store.expiredSample(h.ts + 500, 100);
    expect(due.map((d) => d.key.toString()).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(due.every((d) => d.expiresAt <= h.ts + 500)).toBe(true);
    expect(h.store.expiredSample(h.ts + 5000, 3)).toHaveLength(3);
    expect(h.store.expiredSample(h.ts + 50, 100)).toEqual([]);
    expect(h.store.dbsize(h.ts)).toBe(21);
  });

  it('EXPIRE_IF deletes a key whose expiry is still <= T', () => {
    const h = new Harness();
    h.set('k', 'v', { pxat: h.ts + 100 });
    const [due] = h.store.expiredSample(h.ts + 100, 10);
    h.ts += 100;
    expect(h.run({ type: 'expireIf', key: due.key, at: due.expiresAt })).toBe(1);
    expect(h.store.usedMemory()).toBe(0);
    expect(h.store.expiredSample(h.ts + 1e9, 10)).toEqual([]);
  });

  it('a key re-set (or given a later expiry) between sampling and apply survives', () => {
    const h = new Harness();
    h.set('reset', 'v', { pxat: h.ts + 100 });
    h.set('extended', 'v', { pxat: h.ts + 100 });
    const due = h.store.expiredSample(h.ts + 100, 10);
    expect(due).toHaveLength(2);
    h.set('reset', 'new value');
    h.run({ type: 'pexpireat', key: b('extended'), at: h.ts + 5000 });
    h.ts += 100;
    for (const d of due) expect(h.run({ type: 'expireIf', key: d.key, at: d.expiresAt })).toBe(0);
    expect(h.get('reset')).toBe('new value');
    expect(h.get('extended')).toBe('v');
  });

  it('EXPIRE_IF leaves persistent and missing keys alone', () => {
    const h = new Harness();
    h.set('p', 'v');
    expect(h.run({ type: 'expireIf', key: b('p'), at: h.ts + 1e6 })).toBe(0);
    expect(h.run({ type: 'expireIf', key: b('nope'), at: h.ts })).toBe(0);
    expect(h.get('p')).toBe('v');
  });

  it('any op touching an expired key reclaims it at apply time', () => {
    const h = new Harness();
    h.set('k', 'v', { pxat: h.ts + 10 });
    h.set('other', 'v');
    const before = h.store.usedMemory();
    h.ts += 10;
    expect(h.run({ type: 'exists', keys: [b('k')] })).toBe(0);
    expect(h.store.usedMemory()).toBeLessThan(before);
    expect(h.store.expiredSample(h.ts, 10)).toEqual([]);
  });
});
