/**
 * Lists at the state machine (issue 14): the list ops through the real codec, WRONGTYPE,
 * Redis's answers for missing keys and counts, ops no front end would send (apply is total),
 * the incremental accounting against a recount, TTL, LRU eviction, COPY and RENAME, and
 * snapshots carrying lists (FORMAT 7): restored with the same chunk shape and bytes, and a
 * replica restored mid-log ending byte-identical to one that applied the whole log.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { itemBytes } from '../../src/kv/item.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';
import { Deque } from '../../src/kv/structs/deque.ts';
import { b, collect, Harness } from './harness.ts';

const WRONG = { err: 'WRONGTYPE Operation against a key holding the wrong kind of value' };
const rpush = (key: string, ...elements: string[]): KvOp => ({ type: 'lpush', key: b(key), elements: elements.map(b) });
const lpush = (key: string, ...elements: string[]): KvOp => ({ type: 'lpush', key: b(key), elements: elements.map(b), left: true });
const all = (h: Harness, key: string) => h.run({ type: 'lrange', key: b(key), start: 0, stop: -1 });

function keyspace(store: KvStore) {
  // biome-ignore lint/suspicious/noExplicitAny: a test reaches into the keyspace to recount it
  return (store as any).ks;
}

function recount(store: KvStore): number {
  let n = 0;
  for (const item of keyspace(store).map.values()) n += itemBytes(item.key, item.value);
  return n;
}

/** Every list's chunk invariants (Deque.check throws on a broken one). */
function checkLists(store: KvStore): void {
  for (const item of keyspace(store).map.values()) if (item.value instanceof Deque) item.value.check();
}

describe('lists in the state machine', () => {
  it('pushes and pops at both ends; counts; PUSHX; an emptied list is deleted', () => {
    const h = new Harness();
    expect(h.run(rpush('l', 'a', 'b'))).toBe(2);
    expect(h.run(lpush('l', 'x', 'y'))).toBe(4);
    expect(all(h, 'l')).toEqual(['y', 'x', 'a', 'b']);
    expect(h.run({ type: 'lpush', key: b('nokey'), elements: [b('a')], xx: true })).toBe(0);
    expect(h.run({ type: 'exists', keys: [b('nokey')] })).toBe(0);
    expect(h.run({ type: 'lpush', key: b('l'), elements: [b('z')], xx: true })).toBe(5);
    expect(h.run({ type: 'lpop', key: b('l'), left: true })).toBe('y');
    expect(h.run({ type: 'lpop', key: b('l') })).toBe('z');
    expect(h.run({ type: 'lpop', key: b('l'), count: 0 })).toEqual([]);
    expect(h.run({ type: 'lpop', key: b('l'), left: true, count: 2 })).toEqual(['x', 'a']);
    expect(h.run({ type: 'llen', key: b('l') })).toBe(1);
    expect(h.run({ type: 'lpop', key: b('l'), count: 10 })).toEqual(['b']);
    expect(h.run({ type: 'exists', keys: [b('l')] })).toBe(0);
    expect(h.run({ type: 'lpop', key: b('l') })).toBeNull();
    expect(h.run({ type: 'lpop', key: b('l'), count: 3 })).toBeNull();
    expect(h.store.usedMemory()).toBe(0);
  });

  it('LMOVE between lists and onto itself; LMPOP takes from the first list', () => {
    const h = new Harness();
    h.run(rpush('a', '1', '2', '3'));
    expect(h.run({ type: 'lmove', key: b('a'), dest: b('b'), fromLeft: true })).toBe('1');
    expect(h.run({ type: 'lmove', key: b('a'), dest: b('a'), toLeft: true })).toBe('3');
    expect(all(h, 'a')).toEqual(['3', '2']);
    expect(h.run({ type: 'lmove', key: b('nokey'), dest: b('a') })).toBeNull();
    expect(h.run({ type: 'lmpop', keys: [b('nokey'), b('b'), b('a')], count: 5 })).toEqual(['b', ['1']]);
    expect(h.run({ type: 'exists', keys: [b('b')] })).toBe(0);
    expect(h.run({ type: 'lmpop', keys: [b('a')], left: true, count: 1 })).toEqual(['a', ['3']]);
    expect(h.run({ type: 'lmpop', keys: [b('nokey')], count: 1 })).toBeNull();
    expect(h.store.usedMemory()).toBe(recount(h.store));
  });

  it('WRONGTYPE against strings, hashes and sets, and their commands against a list', () => {
    const h = new Harness();
    h.set('str', 'x');
    h.run({ type: 'hset', key: b('hash'), pairs: [[b('f'), b('v')]] });
    h.run({ type: 'sadd', key: b('set'), members: [b('m')] });
    h.run(rpush('l', 'a'));
    for (const k of ['str', 'hash', 'set']) {
      expect(h.run(rpush(k, 'a'))).toEqual(WRONG);
      expect(h.run({ type: 'lpop', key: b(k), count: 0 })).toEqual(WRONG);
      expect(h.run({ type: 'lrange', key: b(k), start: 0, stop: 1 })).toEqual(WRONG);
      expect(h.run({ type: 'lmove', key: b('l'), dest: b(k) })).toEqual(WRONG);
      expect(h.run({ type: 'lmpop', keys: [b(k), b('l')], count: 1 })).toEqual(WRONG);
      expect(h.run({ type: 'lpos', key: b(k), element: b('a'), rank: 1, maxlen: 0 })).toEqual(WRONG);
    }
    expect(h.run({ type: 'get', key: b('l') })).toEqual(WRONG);
    expect(h.run({ type: 'hget', key: b('l'), field: b('a') })).toEqual(WRONG);
    expect(h.run({ type: 'smembers', key: b('l') })).toEqual(WRONG);
    expect(h.run({ type: 'type', key: b('l') })).toEqual({ status: 'list' });
    expect(h.run({ type: 'encoding', key: b('l') })).toBe('quicklist');
    expect(all(h, 'l')).toEqual(['a']);
  });

  it('applies ops no front end sends without throwing: an error or a value, and the lists stay whole', () => {
    const h = new Harness();
    h.run(rpush('l', 'a', 'b', 'c'));
    const big = 2 ** 52 - 1;
    const hostile: [KvOp, unknown][] = [
      [{ type: 'lpush', key: b('l'), elements: [] }, { err: 'ERR syntax error' }],
      [{ type: 'lpop', key: b('l'), count: -1 }, { err: 'ERR value is out of range, must be positive' }],
      [{ type: 'lmpop', keys: [b('l')], count: 0 }, { err: 'ERR count should be greater than 0' }],
      [{ type: 'lmpop', keys: [], count: 1 }, null],
      [{ type: 'lset', key: b('l'), index: big, element: b('x') }, { err: 'ERR index out of range' }],
      [{ type: 'lset', key: b('l'), index: -big, element: b('x') }, { err: 'ERR index out of range' }],
      [{ type: 'lset', key: b('nokey'), index: 0, element: b('x') }, { err: 'ERR no such key' }],
      [{ type: 'lindex', key: b('l'), index: -big }, null],
      [{ type: 'lrange', key: b('l'), start: -big, stop: big }, ['a', 'b', 'c']],
      [{ type: 'ltrim', key: b('l'), start: -big, stop: big }, 'OK'],
      [{ type: 'lrem', key: b('l'), count: -big, element: b('zz') }, 0],
      [{ type: 'lpos', key: b('l'), element: b('c'), rank: -big, count: big, maxlen: big }, []],
      [{ type: 'lpos', key: b('l'), element: b('c'), rank: 0, maxlen: 0 }, 2],
      [{ type: 'lpop', key: b('l'), count: big }, ['c', 'b', 'a']],
    ];
    for (const [op, want] of hostile) expect(h.run(op), JSON.stringify(op.type)).toEqual(want);
    expect(h.run({ type: 'exists', keys: [b('l')] })).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
  });

  it('accounts lists incrementally: usedMemory equals a recount after every kind of change', () => {
    const h = new Harness();
    let x = 99;
    const next = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let i = 0; i < 4000; i++) {
      const k = b(`l${next(3)}`);
      const e = b('e'.repeat(next(40)) + String(next(20)));
      const ops: KvOp[] = [
        { type: 'lpush', key: k, elements: [e, e], left: next(2) === 0 },
        { type: 'lpush', key: k, elements: Array.from({ length: next(80) + 1 }, () => e) },
        { type: 'lpop', key: k, left: next(2) === 0, count: next(40) },
        { type: 'lmove', key: k, dest: b(`l${next(3)}`), fromLeft: next(2) === 0, toLeft: next(2) === 0 },
        { type: 'lset', key: k, index: next(200) - 100, element: e },
        { type: 'lrem', key: k, count: next(5) - 2, element: e },
        { type: 'ltrim', key: k, start: next(20), stop: -next(20) - 1 },
        { type: 'linsert', key: k, pivot: e, element: b('p'), before: next(2) === 0 },
      ];
      h.run(ops[next(ops.length)]);
      if (i % 50 === 0) {
        expect(h.store.usedMemory()).toBe(recount(h.store));
        checkLists(h.store);
      }
    }
    expect(h.store.usedMemory()).toBe(recount(h.store));
  });

  it('a list with a TTL expires like a string; RENAME keeps the TTL; COPY is independent', () => {
    const h = new Harness();
    h.run(rpush('l', ...Array.from({ length: 300 }, (_, i) => `e${i}`)));
    h.run({ type: 'pexpireat', key: b('l'), at: h.ts + 5000 });
    expect(h.run({ type: 'rename', key: b('l'), dest: b('m') })).toBe('OK');
    expect(h.run({ type: 'ttl', key: b('m'), unit: 'ms' })).toBe(5000);
    expect(h.run({ type: 'copy', key: b('m'), dest: b('c') })).toBe(1);
    h.run({ type: 'lpop', key: b('c'), count: 100 });
    expect(h.run({ type: 'ttl', key: b('c'), unit: 'ms' })).toBe(5000);
    expect(h.run({ type: 'persist', key: b('c') })).toBe(1);
    expect(h.run({ type: 'llen', key: b('m') })).toBe(300);
    expect(h.run({ type: 'llen', key: b('c') })).toBe(200);
    expect(h.store.usedMemory()).toBe(recount(h.store));
    h.ts += 6000;
    expect(h.run({ type: 'llen', key: b('m') })).toBe(0);
    expect(h.run({ type: 'exists', keys: [b('m'), b('c')] })).toBe(1);
  });

  it('allkeys-lru picks a list like any key, and frees its accounted bytes', () => {
    const h = new Harness({ maxmemory: 1, policy: 'allkeys-lru' });
    h.run(rpush('l', ...Array.from({ length: 100 }, (_, i) => `e${i}`)));
    h.set('str', 'x');
    h.run({ type: 'lindex', key: b('l'), index: 0 });
    const victims = h.store.evictionCandidates(h.store.bytesOverMaxmemory(), 'allkeys-lru', Math.random);
    expect(victims.map((v) => v.key.toString())).toEqual(['str', 'l']);
    expect(h.run({ type: 'evictIf', victims })).toBe(2);
    expect(h.store.usedMemory()).toBe(0);
  });
});

/** A store's lists rebuilt from its snapshot: same answers, bytes and snapshot. */
async function roundTrip(h: Harness): Promise<Buffer> {
  const image = await collect(h.store.beginSnapshot());
  const copy = new KvStore();
  await copy.restore(image);
  expect(copy.usedMemory()).toBe(h.store.usedMemory());
  checkLists(copy);
  expect(await collect(copy.beginSnapshot())).toEqual(image);
  return image;
}

describe('snapshots of lists', () => {
  it('round-trip lists of every shape: the restored store answers the same, with the same bytes', async () => {
    const h = new Harness();
    h.run(rpush('small', 'a', 'b\0', ''));
    h.run(lpush('front', ...Array.from({ length: 1000 }, (_, i) => `f${i}`)));
    h.run(rpush('both', ...Array.from({ length: 1000 }, (_, i) => `b${i}`)));
    h.run({ type: 'lpop', key: b('both'), left: true, count: 45 });
    h.run({ type: 'lpop', key: b('both'), count: 13 });
    h.run({ type: 'pexpireat', key: b('both'), at: h.ts + 10_000 });
    h.set('str', 'v');
    const image = await roundTrip(h);
    expect(image[4]).toBe(7);
    const copy = new KvStore();
    await copy.restore(image);
    for (const key of ['small', 'front', 'both']) {
      const op: KvOp = { type: 'lrange', key: b(key), start: 0, stop: -1 };
      expect(copy.readCollection(op, h.ts, Math.random)).toEqual(h.store.readCollection(op, h.ts, Math.random));
    }
  });

  it('a replica restored mid-log and one that applied it all end byte-identical, with the same bytes', async () => {
    const log: KvOp[][] = [];
    let x = 4242;
    const next = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let i = 0; i < 3000; i++) {
      const k = b(`k${next(4)}`);
      const e = b(`v${next(30)}`);
      const ops: KvOp[] = [
        { type: 'lpush', key: k, elements: Array.from({ length: next(40) + 1 }, () => e), left: next(2) === 0 },
        { type: 'lpop', key: k, left: next(2) === 0, count: next(25) },
        { type: 'lmove', key: k, dest: b(`k${next(4)}`), fromLeft: next(2) === 0, toLeft: next(2) === 0 },
        { type: 'lrem', key: k, count: next(3) - 1, element: e },
        { type: 'linsert', key: k, pivot: e, element: b('i') },
        { type: 'ltrim', key: k, start: next(3), stop: -1 },
      ];
      log.push([ops[next(ops.length)]]);
    }
    const whole = new Harness();
    for (const ops of log) whole.exec(ops);
    const half = new Harness();
    for (const ops of log.slice(0, 1500)) half.exec(ops);
    const restored = new Harness();
    await restored.store.restore(await collect(half.store.beginSnapshot()));
    restored.index = half.index;
    for (const ops of log.slice(1500)) restored.exec(ops);
    expect(restored.store.usedMemory()).toBe(whole.store.usedMemory());
    expect(whole.store.usedMemory()).toBe(recount(whole.store));
    expect(await collect(restored.store.beginSnapshot())).toEqual(await collect(whole.store.beginSnapshot()));
  });

  it('restore refuses a corrupt list record: a head of 0 or beyond its count, no elements', async () => {
    const h = new Harness();
    h.run(rpush('l', 'aa', 'bb', 'cc'));
    const image = await collect(h.store.beginSnapshot());
    // The record: key "l", tag 3, expiresAt, version, head, count, elements.
    const at = image.indexOf(Buffer.from([1, 'l'.charCodeAt(0), 3]));
    const head = at + 5;
    expect(image[head]).toBe(3);
    const poke = (pos: number, byte: number) => {
      const img = Buffer.from(image);
      img[pos] = byte;
      img.writeUInt32LE(crc32(img.subarray(0, img.length - 4)), img.length - 4);
      return img;
    };
    await expect(new KvStore().restore(poke(head, 0))).rejects.toThrow(/list head of 0/);
    await expect(new KvStore().restore(poke(head, 4))).rejects.toThrow(/list head of 4/);
    await expect(new KvStore().restore(poke(head + 1, 0))).rejects.toThrow(/list head|empty collection/);
    const ok = new KvStore();
    await ok.restore(poke(head, 1));
    expect(ok.readCollection({ type: 'lrange', key: b('l'), start: 0, stop: -1 }, h.ts, Math.random)).toEqual({
      type: 'array',
      value: ['aa', 'bb', 'cc'].map((v) => ({ type: 'bulk', value: b(v) })),
    });
  });
});
