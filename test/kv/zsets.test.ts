/**
 * Sorted sets at the state machine (issue 14): ZADD, ZREM, ZPOPMIN, ZPOPMAX and ZMPOP through the real codec,
 * WRONGTYPE, Redis 7.0's listpack/skiplist encodings, the incremental accounting, apply's
 * totality on entries no front end would send, WATCH versions, and snapshots carrying sorted
 * sets (FORMAT 7) restored byte-identical and checked.
 */

import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { itemBytes } from '../../src/kv/item.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { keyHashSlot } from '../../src/kv/slot.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness } from './harness.ts';

const WRONG = { err: 'WRONGTYPE Operation against a key holding the wrong kind of value' };
const zadd = (key: string, ...pairs: (string | number)[]): KvOp => {
  const out: [Buffer, Buffer][] = [];
  for (let i = 0; i < pairs.length; i += 2) out.push([b(String(pairs[i])), b(String(pairs[i + 1]))]);
  return { type: 'zadd', key: b(key), pairs: out };
};
const score = (h: Harness, key: string, m: string) => h.run({ type: 'zscore', key: b(key), member: b(m) });
const many = (n: number, from = 0) => Array.from({ length: n }, (_, i) => [i + from, `m${i + from}`]).flat();

function recount(store: KvStore): number {
  // biome-ignore lint/suspicious/noExplicitAny: a test reaches into the keyspace to recount it
  const ks = (store as any).ks;
  let n = 0;
  for (const item of ks.map.values()) n += itemBytes(item.key, item.value);
  return n;
}

describe('sorted sets in the state machine', () => {
  it('ZADD / ZSCORE / ZCARD / ZRANK / ZREM; an emptied sorted set is deleted', () => {
    const h = new Harness();
    expect(h.run(zadd('z', 2, 'b', 1, 'a', 3, 'c'))).toBe(3);
    expect(score(h, 'z', 'b')).toBe('2');
    expect(h.run({ type: 'zcard', key: b('z') })).toBe(3);
    expect(h.run({ type: 'zrank', key: b('z'), member: b('c') })).toBe(2);
    expect(h.run({ type: 'zrank', key: b('z'), member: b('c'), rev: true })).toBe(0);
    expect(h.run({ type: 'zcount', key: b('z'), min: b('(1'), max: b('+inf') })).toBe(2);
    expect(h.run({ type: 'encoding', key: b('z') })).toBe('listpack');
    expect(h.run({ type: 'type', key: b('z') })).toEqual({ status: 'zset' });
    expect(h.run({ type: 'zrem', key: b('z'), members: [b('a'), b('b'), b('c'), b('x')] })).toBe(3);
    expect(h.run({ type: 'exists', keys: [b('z')] })).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
  });

  it('WRONGTYPE against other kinds, and their commands against a sorted set', () => {
    const h = new Harness();
    h.set('str', 'x');
    h.run({ type: 'sadd', key: b('set'), members: [b('a')] });
    h.run(zadd('z', 1, 'a'));
    for (const k of ['str', 'set']) {
      expect(h.run(zadd(k, 1, 'a'))).toEqual(WRONG);
      expect(h.run({ type: 'zscore', key: b(k), member: b('a') })).toEqual(WRONG);
      expect(h.run({ type: 'zpop', key: b(k) })).toEqual(WRONG);
      expect(h.run({ type: 'zmpop', keys: [b('none'), b(k)], count: 1 })).toEqual(WRONG);
    }
    expect(h.run({ type: 'get', key: b('z') })).toEqual(WRONG);
    expect(h.run({ type: 'smembers', key: b('z') })).toEqual(WRONG);
    expect(h.run({ type: 'hget', key: b('z'), field: b('a') })).toEqual(WRONG);
  });

  it('apply is total: bad scores, bounds, options and counts in an entry are error replies', () => {
    const h = new Harness();
    h.run(zadd('z', 1, 'a'));
    expect(h.run(zadd('z', 'x', 'a'))).toEqual({ err: 'ERR value is not a valid float' });
    expect(h.run(zadd('z', 'nan', 'a'))).toEqual({ err: 'ERR value is not a valid float' });
    expect(h.run({ type: 'zadd', key: b('z'), pairs: [] })).toEqual({ err: 'ERR syntax error' });
    expect(h.run({ ...zadd('z', 1, 'a'), nx: true, xx: true } as KvOp)).toEqual({ err: 'ERR XX and NX options at the same time are not compatible' });
    expect(h.run({ ...zadd('z', 1, 'a', 2, 'b'), incr: true } as KvOp)).toEqual({ err: 'ERR INCR option supports a single increment-element pair' });
    expect(h.run({ type: 'zcount', key: b('z'), min: b('x'), max: b('1') })).toEqual({ err: 'ERR min or max is not a float' });
    expect(h.run({ type: 'zpop', key: b('z'), count: -1 })).toEqual({ err: 'ERR value is out of range, must be positive' });
    expect(h.run({ type: 'zmpop', keys: [], count: 1 })).toEqual({ err: 'ERR syntax error' });
    expect(h.run({ type: 'zmpop', keys: [b('z')], count: 0 })).toEqual({ err: 'ERR count should be greater than 0' });
    h.run(zadd('i', 'inf', 'a'));
    expect(h.run({ ...zadd('i', '-inf', 'a'), incr: true } as KvOp)).toEqual({ err: 'ERR resulting score is not a number (NaN)' });
    expect(score(h, 'i', 'a')).toBe('inf');
  });

  it('encodings as Redis 7.0: listpack up to 128 members of at most 64 bytes, then skiplist for good; -0 as Redis keeps it', () => {
    const h = new Harness();
    h.run(zadd('z', ...many(128)));
    expect(h.run({ type: 'encoding', key: b('z') })).toBe('listpack');
    h.run(zadd('z', '-0', 'neg'));
    expect(h.run({ type: 'encoding', key: b('z') })).toBe('skiplist');
    // The member that converts it keeps its -0 (Redis converts before inserting).
    expect(score(h, 'z', 'neg')).toBe('-0');
    h.run({ type: 'zpop', key: b('z'), count: 100 });
    expect(h.run({ type: 'encoding', key: b('z') })).toBe('skiplist');
    h.run(zadd('small', '-0', 'neg'));
    expect(score(h, 'small', 'neg')).toBe('0');
    h.run(zadd('long', 1, 'x'.repeat(65)));
    expect(h.run({ type: 'encoding', key: b('long') })).toBe('skiplist');
  });

  it('accounts a sorted set incrementally: every change moves usedMemory, which always equals a recount', () => {
    const h = new Harness();
    for (let i = 0; i < 300; i += 10) {
      h.run(zadd('z', ...many(10, i)));
      expect(h.store.usedMemory()).toBe(recount(h.store));
    }
    h.run({ type: 'zrem', key: b('z'), members: [b('m3'), b('m200')] });
    h.run({ ...zadd('z', 5, 'm5'), incr: true } as KvOp);
    h.run({ type: 'zpop', key: b('z'), count: 7, max: true });
    h.run({ type: 'zmpop', keys: [b('z')], count: 5 });
    expect(h.store.usedMemory()).toBe(recount(h.store));
    h.run({ type: 'copy', key: b('z'), dest: b('c') });
    h.run({ type: 'rename', key: b('c'), dest: b('d') });
    h.run({ type: 'zrem', key: b('d'), members: [b('m100')] });
    expect(h.run({ type: 'zcard', key: b('z') })).toBe(300 - 2 - 7 - 5);
    expect(h.run({ type: 'zcard', key: b('d') })).toBe(300 - 2 - 7 - 5 - 1);
    expect(h.store.usedMemory()).toBe(recount(h.store));
  });

  it('a real change moves the version; a ZADD, ZREM or ZPOP that changes nothing does not', () => {
    const h = new Harness();
    h.run(zadd('z', 1, 'a', 2, 'b'));
    const version = () => h.store.version(b('z'), h.ts);
    const unchanged: KvOp[] = [
      zadd('z', 1, 'a'),
      { ...zadd('z', 5, 'a'), nx: true } as KvOp,
      { ...zadd('z', 0, 'a'), gt: true } as KvOp,
      { ...zadd('z', 9, 'new'), xx: true } as KvOp,
      zadd('z', '-0', 'zero'),
      { type: 'zrem', key: b('z'), members: [b('nope')] },
      { type: 'zpop', key: b('z'), count: 0 },
      { type: 'zscore', key: b('z'), member: b('a') },
    ];
    h.run(zadd('z', 0, 'zero'));
    for (const op of unchanged) {
      const before = version();
      h.run(op);
      expect(version(), JSON.stringify(op)).toBe(before);
    }
    const before = version();
    h.run(zadd('z', 3, 'a'));
    expect(version()).toBeGreaterThan(before);
  });
});

describe('snapshots of sorted sets', () => {
  it('carry listpacks and skiplists (scores exactly, -0 included, positions kept); restored byte-identical', async () => {
    const h = new Harness();
    h.run(zadd('small', 1.5, 'a', '-inf', 'b', 'inf', 'c', '0x1p-1074', 'd'));
    h.run(zadd('big', ...many(300)));
    h.run(zadd('big', '-0', 'negzero', '0.1', 'tenth'));
    h.run({ type: 'zrem', key: b('big'), members: [b('m7'), b('m100')] });
    h.run({ type: 'pexpireat', key: b('big'), at: h.ts + 60_000 });
    h.set('str', 'x');
    const image = await collect(h.store.beginSnapshot());
    const copy = new KvStore();
    await copy.restore(image);
    const ops: KvOp[] = [
      { type: 'zmscore', key: b('small'), members: [b('a'), b('b'), b('c'), b('d')] },
      { type: 'zmscore', key: b('big'), members: [b('negzero'), b('tenth'), b('m299')] },
      { type: 'encoding', key: b('small') },
      { type: 'encoding', key: b('big') },
      { type: 'zrank', key: b('big'), member: b('m250') },
      { type: 'zcard', key: b('big') },
    ];
    for (const op of ops) expect(copy.readCollection(op, h.ts, Math.random)).toEqual(h.store.readCollection(op, h.ts, Math.random));
    expect(copy.ttl(b('big'), h.ts, 'ms')).toBe(60_000);
    expect(copy.usedMemory()).toBe(h.store.usedMemory());
    expect(await collect(copy.beginSnapshot())).toEqual(image);
    // The same later writes leave both byte-identical (positions, hence later snapshots, agree).
    for (const s of [h.store, copy]) {
      s.apply({ ts: h.ts, ops: [{ type: 'zrem', key: b('big'), members: [b('m1'), b('m2')] }, zadd('big', 7, 'late')] }, 100);
    }
    expect(await collect(copy.beginSnapshot())).toEqual(await collect(h.store.beginSnapshot()));
  });

  it('restore refuses a NaN score, a repeated member, a listpack out of order, beyond its limits or holding -0', async () => {
    const h = new Harness();
    h.run(zadd('z', 1, 'aa', 2, 'bb'));
    const image = await collect(h.store.beginSnapshot());
    const fix = (edit: (img: Buffer) => void) => {
      const img = Buffer.from(image);
      edit(img);
      img.writeUInt32LE(crc32(img.subarray(0, img.length - 4)), img.length - 4);
      return img;
    };
    const aa = image.indexOf(b('aa'));
    const bb = image.indexOf(b('bb'));
    expect(image.readDoubleLE(aa + 2)).toBe(1);
    await expect(new KvStore().restore(fix((img) => img.writeDoubleLE(Number.NaN, aa + 2)))).rejects.toThrow(/NaN score/);
    await expect(new KvStore().restore(fix((img) => img.writeDoubleLE(-0, aa + 2)))).rejects.toThrow(/-0 in a listpack/);
    await expect(new KvStore().restore(fix((img) => img.writeDoubleLE(3, aa + 2)))).rejects.toThrow(/out of order/);
    await expect(new KvStore().restore(fix((img) => img.write('aa', bb, 'latin1')))).rejects.toThrow(/out of order|duplicate/);
    // As a skiplist (encoding byte 1 before the count), the repeat is caught as a repeat.
    await expect(
      new KvStore().restore(
        fix((img) => {
          img.write('aa', bb, 'latin1');
          img.writeDoubleLE(1, bb + 2);
          img[aa - 3] = 1;
        }),
      ),
    ).rejects.toThrow(/duplicate sorted set member/);

    const big = new Harness();
    big.run(zadd('z', ...many(129)));
    const bigImage = await collect(big.store.beginSnapshot());
    // skiplist(1) n(129 = 0x81 0x01) right before the first member "m0" (len 2).
    const encAt = bigImage.indexOf(Buffer.from([0x81, 0x01, 2, 0x6d, 0x30])) - 1;
    expect(bigImage[encAt]).toBe(1);
    const asListpack = Buffer.from(bigImage);
    asListpack[encAt] = 0;
    asListpack.writeUInt32LE(crc32(asListpack.subarray(0, asListpack.length - 4)), asListpack.length - 4);
    await expect(new KvStore().restore(asListpack)).rejects.toThrow(/listpack beyond its limits/);
  });

  it("a split's image and eviction cover sorted sets", async () => {
    const h = new Harness({ maxmemory: 1, policy: 'allkeys-lru' });
    h.run(zadd('{a}z', 1, 'x', 2, 'y'));
    h.run(zadd('{b}z', 1, 'x'));
    const slot = keyHashSlot(b('{a}'));
    const image = await collect(h.store.beginSnapshot(undefined, false, [[slot, slot]]));
    const copy = new KvStore();
    await copy.restore(image);
    expect(copy.dbsize(h.ts)).toBe(1);
    expect(copy.type(b('{a}z'), h.ts)).toBe('zset');
    const victims = h.store.evictionCandidates(h.store.bytesOverMaxmemory(), 'allkeys-lru', Math.random);
    expect(victims.map((v) => v.key.toString()).sort()).toEqual(['{a}z', '{b}z']);
    expect(h.run({ type: 'evictIf', victims })).toBe(2);
    expect(h.store.usedMemory()).toBe(0);
  });
});
