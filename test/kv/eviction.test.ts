/** Memory accounting, LRU order, and eviction candidates per maxmemory policy. */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ITEM_OVERHEAD } from '../../src/kv/item.ts';
import { b, Harness, rng } from './harness.ts';

const cost = (key: string, value: string) => key.length + value.length + ITEM_OVERHEAD;

function names(keys: Uint8Array[]): string[] {
  return keys.map((k) => Buffer.from(k).toString('latin1'));
}

describe('memory accounting', () => {
  it('is key + value + ITEM_OVERHEAD per key, and follows every write and delete', () => {
    const h = new Harness();
    h.set('alpha', '12345');
    h.set('b', 'x'.repeat(100));
    expect(h.store.usedMemory()).toBe(cost('alpha', '12345') + cost('b', 'x'.repeat(100)));
    h.set('alpha', '1');
    expect(h.store.usedMemory()).toBe(cost('alpha', '1') + cost('b', 'x'.repeat(100)));
    h.run({ type: 'append', key: b('alpha'), value: b('23') });
    expect(h.store.usedMemory()).toBe(cost('alpha', '123') + cost('b', 'x'.repeat(100)));
    h.run({ type: 'incrby', key: b('alpha'), delta: 877n });
    expect(h.store.usedMemory()).toBe(cost('alpha', '1000') + cost('b', 'x'.repeat(100)));
    const before = h.store.usedMemory();
    h.run({ type: 'del', keys: [b('b')] });
    expect(h.store.usedMemory()).toBe(before - cost('b', 'x'.repeat(100)));
    h.run({ type: 'getdel', key: b('alpha') });
    expect(h.store.usedMemory()).toBe(0);
  });

  it('overMaxmemory / bytesOverMaxmemory compare with maxmemory (0 = unlimited)', () => {
    const h = new Harness({ maxmemory: 3 * cost('k0', 'v') });
    for (let i = 0; i < 3; i++) h.set(`k${i}`, 'v');
    expect(h.store.overMaxmemory()).toBe(false);
    h.set('k3', 'v');
    expect(h.store.overMaxmemory()).toBe(true);
    expect(h.store.bytesOverMaxmemory()).toBe(cost('k3', 'v'));
    h.store.maxmemory = 0;
    expect(h.store.overMaxmemory()).toBe(false);
  });
});

describe('eviction candidates', () => {
  function filled() {
    const h = new Harness();
    h.set('a', 'v');
    h.set('b', 'v', { pxat: h.ts + 3000 });
    h.set('c', 'v');
    h.set('d', 'v', { pxat: h.ts + 1000 });
    h.set('e', 'v', { pxat: h.ts + 2000 });
    return h;
  }
  const one = cost('a', 'v');
  const r = rng(1);

  it('allkeys-lru: least recently used first, writes and touching reads refresh a key', () => {
    const h = filled();
    expect(names(h.store.evictionCandidates(2 * one, 'allkeys-lru', r))).toEqual(['a', 'b']);
    h.set('a', 'again');
    h.store.get(b('b'), h.ts, { touch: true });
    h.store.get(b('c'), h.ts); // no touch
    h.run({ type: 'ttl', key: b('d'), unit: 'ms' }); // TTL does not touch, as in Redis
    expect(names(h.store.evictionCandidates(10 * one, 'allkeys-lru', r))).toEqual(['c', 'd', 'e', 'a', 'b']);
  });

  it('stops once enough bytes are chosen, or at maxKeys', () => {
    const h = filled();
    expect(h.store.evictionCandidates(one + 1, 'allkeys-lru', r)).toHaveLength(2);
    expect(h.store.evictionCandidates(1, 'allkeys-lru', r)).toHaveLength(1);
    expect(h.store.evictionCandidates(10 * one, 'allkeys-lru', r, 3)).toHaveLength(3);
    expect(h.store.evictionCandidates(0, 'allkeys-lru', r)).toHaveLength(0);
  });

  it('volatile-lru: only keys with an expiry, in LRU order', () => {
    const h = filled();
    h.run({ type: 'get', key: b('b') });
    expect(names(h.store.evictionCandidates(10 * one, 'volatile-lru', r))).toEqual(['d', 'e', 'b']);
    h.run({ type: 'persist', key: b('d') });
    expect(names(h.store.evictionCandidates(10 * one, 'volatile-lru', r))).toEqual(['e', 'b']);
  });

  it('volatile-ttl: nearest expiry first', () => {
    const h = filled();
    expect(names(h.store.evictionCandidates(10 * one, 'volatile-ttl', r))).toEqual(['d', 'e', 'b']);
    h.run({ type: 'pexpireat', key: b('b'), at: h.ts + 10 });
    expect(names(h.store.evictionCandidates(2 * one, 'volatile-ttl', r))).toEqual(['b', 'd']);
  });

  it('volatile-ttl walks a large heap in exact order', () => {
    const h = new Harness();
    const order: number[] = [];
    const r2 = rng(7);
    for (let i = 0; i < 500; i++) {
      const at = h.ts + 1 + Math.floor(r2() * 100_000);
      order.push(at);
      h.set(`k${i}`, 'v', { pxat: at });
    }
    const chosen = h.store.evictionCandidates(Number.MAX_SAFE_INTEGER, 'volatile-ttl', r, 500);
    const times = chosen.map((k) => h.store.expireTime(k, h.ts));
    expect(times).toEqual([...order].sort((x, y) => x - y));
  });

  it('allkeys-random: distinct live keys, reproducible for a seed', () => {
    const h = new Harness();
    for (let i = 0; i < 200; i++) h.set(`k${i}`, 'v');
    h.run({ type: 'del', keys: Array.from({ length: 100 }, (_, i) => b(`k${i}`)) });
    const picked = names(h.store.evictionCandidates(50 * cost('k100', 'v'), 'allkeys-random', rng(42)));
    expect(new Set(picked).size).toBe(picked.length);
    expect(picked.length).toBeGreaterThanOrEqual(50);
    expect(picked.every((k) => Number(k.slice(1)) >= 100)).toBe(true);
    expect(names(h.store.evictionCandidates(50 * cost('k100', 'v'), 'allkeys-random', rng(42)))).toEqual(picked);
  });

  it('noeviction and volatile policies without volatile keys offer nothing', () => {
    const h = new Harness();
    h.set('a', 'v');
    expect(h.store.evictionCandidates(one, 'noeviction', r)).toEqual([]);
    expect(h.store.evictionCandidates(one, 'volatile-lru', r)).toEqual([]);
    expect(h.store.evictionCandidates(one, 'volatile-ttl', r)).toEqual([]);
  });

  it('EVICT deletes the keys still present and counts them', () => {
    const h = filled();
    const victims = h.store.evictionCandidates(2 * one, 'allkeys-lru', r);
    h.run({ type: 'del', keys: [b('a')] });
    expect(h.run({ type: 'evict', keys: victims })).toBe(1);
    expect(h.store.dbsize(h.ts)).toBe(3);
    expect(h.store.usedMemory()).toBe(3 * one);
  });
});
