/** Memory accounting, LRU order, and eviction candidates per maxmemory policy. */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ITEM_OVERHEAD } from '../../src/kv/item.ts';
import type { Victim } from '../../src/kv/ops.ts';
import { b, Harness, rng } from './harness.ts';

const cost = (key: string, value: string) => key.length + value.length + ITEM_OVERHEAD;

function names(victims: Victim[]): string[] {
  return victims.map((v) => Buffer.from(v.key).toString('latin1'));
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
    const times = chosen.map((v) => h.store.expireTime(v.key, h.ts));
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

  it('the old unconditional EVICT (op 15, still in old logs) deletes the keys still present and counts them', () => {
    const h = filled();
    const victims = h.store.evictionCandidates(2 * one, 'allkeys-lru', r);
    h.run({ type: 'del', keys: [b('a')] });
    expect(h.run({ type: 'evict', keys: victims.map((v) => v.key) })).toBe(1);
    expect(h.store.dbsize(h.ts)).toBe(3);
    expect(h.store.usedMemory()).toBe(3 * one);
  });
});

describe('EVICT_IF: the leader picks, proposes, and the entry applies later', () => {
  const one = cost('a', 'v');
  const r = rng(3);

  it('a SET committed between the pick and the apply survives (an acknowledged write is not lost)', () => {
    const h = new Harness();
    for (const k of ['a', 'b', 'c']) h.set(k, 'v');
    const victims = h.store.evictionCandidates(2 * one, 'allkeys-lru', r);
    expect(names(victims)).toEqual(['a', 'b']);
    expect(h.set('a', 'acked')).toBe('OK');
    expect(h.run({ type: 'evictIf', victims })).toBe(1);
    expect(h.get('a')).toBe('acked');
    expect(h.get('b')).toBeNull();
    expect(h.store.usedMemory()).toBe(cost('a', 'acked') + one);
  });

  it('a key deleted and re-created in between survives; an unchanged key (even if read) goes', () => {
    const h = new Harness();
    for (const k of ['a', 'b']) h.set(k, 'v');
    const victims = h.store.evictionCandidates(2 * one, 'allkeys-lru', r);
    h.run({ type: 'del', keys: [b('a')] });
    h.set('a', 'v');
    h.run({ type: 'get', key: b('b') });
    expect(h.run({ type: 'evictIf', victims })).toBe(1);
    expect(h.get('a')).toBe('v');
    expect(h.get('b')).toBeNull();
  });

  it('volatile-lru never evicts a key that lost its TTL in between (PERSIST)', () => {
    const h = new Harness();
    h.set('p', 'v');
    h.set('t', 'v', { pxat: h.ts + 1000 });
    const victims = h.store.evictionCandidates(one, 'volatile-lru', r);
    expect(names(victims)).toEqual(['t']);
    h.run({ type: 'persist', key: b('t') });
    expect(h.run({ type: 'evictIf', victims })).toBe(0);
    expect(h.get('t')).toBe('v');
    expect(h.store.ttl(b('t'), h.ts, 'ms')).toBe(-1);
  });

  it('volatile-ttl never evicts a key re-SET without a TTL in between', () => {
    const h = new Harness();
    h.set('t', 'v', { pxat: h.ts + 1000 });
    h.set('u', 'v', { pxat: h.ts + 2000 });
    const victims = h.store.evictionCandidates(2 * one, 'volatile-ttl', r);
    expect(names(victims)).toEqual(['t', 'u']);
    h.set('t', 'v');
    expect(h.run({ type: 'evictIf', victims })).toBe(1);
    expect(h.get('t')).toBe('v');
    expect(h.get('u')).toBeNull();
  });

  it('replicas that picked nothing themselves apply the same deletions from the log', () => {
    const leader = new Harness();
    const follower = new Harness();
    const both = (f: (h: Harness) => void) => {
      for (const h of [leader, follower]) f(h);
    };
    both((h) => {
      for (const k of ['a', 'b', 'c']) h.set(k, 'v');
      h.run({ type: 'get', key: b('a') });
    });
    const victims = leader.store.evictionCandidates(2 * one, 'allkeys-lru', r);
    expect(names(victims)).toEqual(['b', 'c']);
    both((h) => h.set('b', 'new'));
    const results = [leader, follower].map((h) => h.run({ type: 'evictIf', victims }));
    expect(results).toEqual([1, 1]);
    for (const h of [leader, follower]) expect(['a', 'b', 'c'].map((k) => h.get(k))).toEqual(['v', 'new', null]);
  });
});
