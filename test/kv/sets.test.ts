/**
 * Sets at the state machine (issue 14): SADD/SREM/SPOP/SMOVE and the stores through the real
 * codec, WRONGTYPE, Redis 7.0's intset/hashtable encodings, the incremental accounting, seeded
 * picks, and snapshots carrying sets (FORMAT 7) restored byte-identical and checked.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { itemBytes } from '../../src/kv/item.ts';
import { type KvOp, SET_MODE } from '../../src/kv/ops.ts';
import { keyHashSlot } from '../../src/kv/slot.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness } from './harness.ts';

const WRONG = { err: 'WRONGTYPE Operation against a key holding the wrong kind of value' };
const sadd = (key: string, ...members: string[]) => ({ type: 'sadd' as const, key: b(key), members: members.map(b) });
const members = (h: Harness, key: string) => h.run({ type: 'smembers', key: b(key) });

function recount(store: KvStore): number {
  // biome-ignore lint/suspicious/noExplicitAny: a test reaches into the keyspace to recount it
  const ks = (store as any).ks;
  let n = 0;
  for (const item of ks.map.values()) n += itemBytes(item.key, item.value);
  return n;
}

describe('sets in the state machine', () => {
  it('SADD / SREM / SCARD / SISMEMBER; intsets list in order; an emptied set is deleted', () => {
    const h = new Harness();
    expect(h.run(sadd('s', '3', '1', '2', '1'))).toBe(3);
    expect(members(h, 's')).toEqual(['1', '2', '3']);
    expect(h.run({ type: 'encoding', key: b('s') })).toBe('intset');
    expect(h.run(sadd('s', 'x'))).toBe(1);
    expect(h.run({ type: 'encoding', key: b('s') })).toBe('hashtable');
    expect(h.run({ type: 'scard', key: b('s') })).toBe(4);
    expect(h.run({ type: 'smismember', key: b('s'), members: [b('x'), b('y')] })).toEqual([1, 0]);
    expect(h.run({ type: 'srem', key: b('s'), members: [b('1'), b('2'), b('3'), b('x'), b('y')] })).toBe(4);
    expect(h.run({ type: 'exists', keys: [b('s')] })).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
  });

  it('WRONGTYPE against strings and hashes, and string commands against a set', () => {
    const h = new Harness();
    h.set('str', 'x');
    h.run({ type: 'hset', key: b('hash'), pairs: [[b('f'), b('v')]] });
    h.run(sadd('s', 'a'));
    for (const k of ['str', 'hash']) {
      expect(h.run(sadd(k, 'a'))).toEqual(WRONG);
      expect(h.run({ type: 'smembers', key: b(k) })).toEqual(WRONG);
      expect(h.run({ type: 'spop', key: b(k) })).toEqual(WRONG);
      expect(h.run({ type: 'scombine', keys: [b('s'), b(k)], mode: SET_MODE.union })).toEqual(WRONG);
      expect(h.run({ type: 'sstore', key: b('d'), keys: [b('s'), b(k)], mode: SET_MODE.union })).toEqual(WRONG);
    }
    expect(h.run({ type: 'get', key: b('s') })).toEqual(WRONG);
    expect(h.run({ type: 'hget', key: b('s'), field: b('a') })).toEqual(WRONG);
    expect(h.run({ type: 'type', key: b('s') })).toEqual({ status: 'set' });
    expect(h.run({ type: 'smove', key: b('s'), dest: b('str'), member: b('a') })).toEqual(WRONG);
    expect(h.run({ type: 'smove', key: b('none'), dest: b('str'), member: b('a') })).toBe(0);
  });

  it('SMOVE, and the stores replace the destination (TTL dropped) or delete it when empty', () => {
    const h = new Harness();
    h.run(sadd('a', '1', '2', '3'));
    h.run(sadd('b', '2', '3', 'x'));
    expect(h.run({ type: 'smove', key: b('a'), dest: b('c'), member: b('1') })).toBe(1);
    expect(h.run({ type: 'smove', key: b('a'), dest: b('c'), member: b('1') })).toBe(0);
    expect(members(h, 'c')).toEqual(['1']);
    h.set('d', 'old', { pxat: h.ts + 10_000 });
    expect(h.run({ type: 'sstore', key: b('d'), keys: [b('a'), b('b')], mode: SET_MODE.inter })).toBe(2);
    expect(members(h, 'd')).toEqual(['2', '3']);
    expect(h.run({ type: 'ttl', key: b('d'), unit: 'ms' })).toBe(-1);
    expect(h.run({ type: 'sstore', key: b('d'), keys: [b('b'), b('a')], mode: SET_MODE.diff })).toBe(1);
    expect(members(h, 'd')).toEqual(['x']);
    expect(h.run({ type: 'sstore', key: b('d'), keys: [b('a'), b('nokey')], mode: SET_MODE.inter })).toBe(0);
    expect(h.run({ type: 'exists', keys: [b('d')] })).toBe(0);
    expect(h.run({ type: 'sintercard', keys: [b('a'), b('b')], limit: 1 })).toBe(1);
    expect(h.run({ type: 'sstore', key: b('d'), keys: [b('a')], mode: 9 })).toEqual({ err: 'ERR syntax error' });
    expect(recount(h.store)).toBe(h.store.usedMemory());
  });

  it('SPOP and SRANDMEMBER pick from the seeded generator: the same on every replica', () => {
    const run = () => {
      const h = new Harness();
      h.run(sadd('s', ...Array.from({ length: 1000 }, (_, i) => `m${i}`)));
      return [
        h.run({ type: 'spop', key: b('s') }),
        h.run({ type: 'spop', key: b('s'), count: 3 }),
        h.exec([
          { type: 'srandmember', key: b('s'), count: -4 },
          { type: 'srandmember', key: b('s'), count: 4 },
        ]),
        h.run({ type: 'scard', key: b('s') }),
        recount(h.store) === h.store.usedMemory(),
      ];
    };
    const a = run();
    expect(a).toEqual(run());
    expect(a[3]).toBe(996);
    expect(a[4]).toBe(true);
  });

  it('snapshots carry sets: intset, hashtable of integers, hashtable; restored byte-identical', async () => {
    const h = new Harness();
    h.run(sadd('ints', '5', '-3', '9223372036854775807'));
    h.run(sadd('mixed', '1', 'a'));
    h.run({ type: 'srem', key: b('mixed'), members: [b('a')] });
    h.run(sadd('big', ...Array.from({ length: 600 }, (_, i) => String(i))));
    h.run({ type: 'hset', key: b('hash'), pairs: [[b('f'), b('v')]] });
    const image = await collect(h.store.beginSnapshot());
    const copy = new KvStore();
    await copy.restore(image);
    for (const key of ['ints', 'mixed', 'big']) {
      for (const type of ['smembers', 'encoding'] as const) {
        expect(copy.readCollection({ type, key: b(key) }, h.ts, Math.random)).toEqual(h.store.readCollection({ type, key: b(key) }, h.ts, Math.random));
      }
    }
    expect(copy.readCollection({ type: 'encoding', key: b('mixed') }, h.ts, Math.random)).toEqual({ type: 'bulk', value: b('hashtable') });
    expect(copy.usedMemory()).toBe(h.store.usedMemory());
    expect(await collect(copy.beginSnapshot())).toEqual(image);
  });

  it('restore refuses an intset holding a non-integer and a repeated member', async () => {
    const h = new Harness();
    h.run(sadd('s', '11', '22'));
    const image = await collect(h.store.beginSnapshot());
    const poke = (at: number, text: string) => {
      const img = Buffer.from(image);
      img.write(text, at, 'latin1');
      img.writeUInt32LE(crc32(img.subarray(0, img.length - 4)), img.length - 4);
      return img;
    };
    await expect(new KvStore().restore(poke(image.indexOf(b('22')), 'zz'))).rejects.toThrow(/intset beyond its limits/);
    await expect(new KvStore().restore(poke(image.indexOf(b('22')), '11'))).rejects.toThrow(/duplicate set member/);
  });
});

describe('eviction and splits cover collections', () => {
  it('allkeys-lru picks a hash or a set like any key, and frees its accounted bytes', () => {
    const h = new Harness({ maxmemory: 1, policy: 'allkeys-lru' });
    h.run({ type: 'hset', key: b('h'), pairs: Array.from({ length: 100 }, (_, i) => [b(`f${i}`), b('v')] as [Buffer, Buffer]) });
    h.run(sadd('s', 'a', 'b'));
    h.set('str', 'x');
    h.run({ type: 'hget', key: b('h'), field: b('f1') });
    const victims = h.store.evictionCandidates(h.store.bytesOverMaxmemory(), 'allkeys-lru', Math.random);
    expect(victims.map((v) => v.key.toString())).toEqual(['s', 'str', 'h']);
    expect(h.run({ type: 'evictIf', victims: victims.slice(0, 1) })).toBe(1);
    expect(h.store.usedMemory()).toBe(recount(h.store));
    expect(h.run({ type: 'evictIf', victims: victims.slice(1) })).toBe(2);
    expect(h.store.usedMemory()).toBe(0);
  });

  it("a split's image carries the hashes and sets of its slots", async () => {
    const h = new Harness();
    h.run(sadd('{a}set', '1', 'x'));
    h.run({ type: 'hset', key: b('{a}hash'), pairs: [[b('f'), b('v')]] });
    h.run(sadd('{b}set', '2'));
    const slot = keyHashSlot(b('{a}'));
    const image = await collect(h.store.beginSnapshot(undefined, false, [[slot, slot]]));
    const copy = new KvStore();
    await copy.restore(image);
    expect(copy.dbsize(h.ts)).toBe(2);
    expect(copy.readCollection({ type: 'smembers', key: b('{a}set') }, h.ts, Math.random)).toEqual(
      h.store.readCollection({ type: 'smembers', key: b('{a}set') }, h.ts, Math.random),
    );
    expect(copy.type(b('{a}hash'), h.ts)).toBe('hash');
  });
});

describe('RENAME and COPY of collections', () => {
  it('RENAME moves the collection with its TTL; COPY clones it independently; the accounting follows', () => {
    const h = new Harness();
    h.run(sadd('s', ...Array.from({ length: 600 }, (_, i) => `m${i}`)));
    h.run({ type: 'pexpireat', key: b('s'), at: h.ts + 5000 });
    h.run({ type: 'hset', key: b('h'), pairs: [[b('f'), b('v')]] });
    expect(h.run({ type: 'rename', key: b('s'), dest: b('h') })).toBe('OK');
    expect(h.run({ type: 'type', key: b('h') })).toEqual({ status: 'set' });
    expect(h.run({ type: 'ttl', key: b('h'), unit: 'ms' })).toBe(5000);
    expect(h.run({ type: 'copy', key: b('h'), dest: b('c') })).toBe(1);
    h.run({ type: 'srem', key: b('c'), members: [b('m0')] });
    expect(h.run({ type: 'scard', key: b('h') })).toBe(600);
    expect(h.run({ type: 'scard', key: b('c') })).toBe(599);
    expect(h.run({ type: 'encoding', key: b('c') })).toBe('hashtable');
    expect(h.store.usedMemory()).toBe(recount(h.store));
    expect(h.run({ type: 'rename', key: b('nokey'), dest: b('x') })).toEqual({ err: 'ERR no such key' });
    expect(h.run({ type: 'copy', key: b('c'), dest: b('c') })).toEqual({ err: 'ERR source and destination objects are the same' });
  });
});

describe('replicas of hashes and sets', () => {
  it('two stores applying the same seeded log of collection writes write byte-identical snapshots', async () => {
    const log: KvOp[][] = [];
    let x = 12345;
    const next = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    for (let i = 0; i < 3000; i++) {
      const k = b(`k${next(5)}`);
      const m = b(String(next(700)));
      const ops: KvOp[] = [
        { type: 'sadd', key: k, members: [m, b(`x${next(50)}`)] },
        { type: 'srem', key: k, members: [m] },
        { type: 'spop', key: k, count: next(3) },
        { type: 'hset', key: b(`h${next(3)}`), pairs: [[m, b('v'.repeat(next(80)))]] },
        { type: 'hdel', key: b(`h${next(3)}`), fields: [m] },
        { type: 'sstore', key: b(`d${next(2)}`), keys: [k, b(`k${next(5)}`)], mode: next(3) },
        { type: 'srandmember', key: k, count: -2 },
      ];
      log.push([ops[next(ops.length)]]);
    }
    const replica = () => {
      const h = new Harness();
      for (const ops of log) h.exec(ops);
      return h.store;
    };
    const [a, c] = [replica(), replica()];
    expect(a.usedMemory()).toBe(c.usedMemory());
    expect(a.usedMemory()).toBe(recount(a));
    const image = await collect(a.beginSnapshot());
    expect(image[4]).toBe(7);
    expect(await collect(c.beginSnapshot())).toEqual(image);
  });
});
