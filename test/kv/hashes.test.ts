/**
 * Typed values at the state machine (issue 14): hashes through the real codec, WRONGTYPE on
 * every string command, TYPE and OBJECT ENCODING, the incremental memory accounting, and
 * snapshots that carry hashes (FORMAT 7), written in pieces while the hash changes, restored
 * byte-identical, and checked on restore.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { itemBytes } from '../../src/kv/item.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness } from './harness.ts';

const WRONG = { err: 'WRONGTYPE Operation against a key holding the wrong kind of value' };

const hset = (key: string, ...fv: string[]): KvOp => {
  const pairs: [Buffer, Buffer][] = [];
  for (let i = 0; i < fv.length; i += 2) pairs.push([b(fv[i]), b(fv[i + 1])]);
  return { type: 'hset', key: b(key), pairs };
};

/** usedMemory recomputed from scratch, to compare with the incremental count. */
function recount(store: KvStore): number {
  // biome-ignore lint/suspicious/noExplicitAny: a test reaches into the keyspace to recount it
  const ks = (store as any).ks;
  let n = 0;
  for (const item of ks.map.values()) n += itemBytes(item.key, item.value);
  return n;
}

describe('hashes in the state machine', () => {
  it('HSET / HGET / HDEL; an emptied hash is deleted; HSETNX and HINCRBY*', () => {
    const h = new Harness();
    expect(h.run(hset('h', 'a', '1', 'b', '2', 'a', '3'))).toBe(2);
    expect(h.run({ type: 'hget', key: b('h'), field: b('a') })).toBe('3');
    expect(h.run({ type: 'hgetall', key: b('h') })).toEqual(['a', '3', 'b', '2']);
    expect(h.run({ type: 'hset', key: b('h'), pairs: [[b('a'), b('9')]], nx: true })).toBe(0);
    expect(h.run({ type: 'hset', key: b('h'), pairs: [[b('c'), b('9')]], nx: true })).toBe(1);
    expect(h.run({ type: 'hincrby', key: b('h'), field: b('a'), delta: 5n })).toBe(8);
    expect(h.run({ type: 'hincrby', key: b('h'), field: b('a'), delta: 2n ** 63n - 1n })).toEqual({ err: 'ERR increment or decrement would overflow' });
    expect(h.run({ type: 'hincrbyfloat', key: b('h'), field: b('f'), incr: b('10.5') })).toBe('10.5');
    expect(h.run({ type: 'hincrbyfloat', key: b('h'), field: b('f'), incr: b('0.1') })).toBe('10.6');
    expect(h.run(hset('h', 'x', 'abc'))).toBe(1);
    expect(h.run({ type: 'hincrby', key: b('h'), field: b('x'), delta: 1n })).toEqual({ err: 'ERR hash value is not an integer' });
    expect(h.run({ type: 'hincrbyfloat', key: b('h'), field: b('x'), incr: b('1') })).toEqual({ err: 'ERR hash value is not a float' });
    expect(h.run({ type: 'hdel', key: b('h'), fields: [b('a'), b('b'), b('c'), b('f'), b('x'), b('nope')] })).toBe(5);
    expect(h.run({ type: 'exists', keys: [b('h')] })).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
  });

  it('every string command answers WRONGTYPE against a hash, and SET / MSET / DEL replace or delete it', () => {
    const h = new Harness();
    h.run(hset('h', 'f', 'v'));
    h.set('s', 'str');
    for (const op of [
      { type: 'get', key: b('h') },
      { type: 'getdel', key: b('h') },
      { type: 'getex', key: b('h'), persist: true },
      { type: 'strlen', key: b('h') },
      { type: 'append', key: b('h'), value: b('x') },
      { type: 'incrby', key: b('h'), delta: 1n },
      { type: 'incrbyfloat', key: b('h'), incr: '1' },
      { type: 'set', key: b('h'), value: b('x'), get: true },
      { type: 'hget', key: b('s'), field: b('f') },
      { type: 'hset', key: b('s'), pairs: [[b('f'), b('v')]] },
      { type: 'hlen', key: b('s') },
      { type: 'hdel', key: b('s'), fields: [b('f')] },
      { type: 'hscan', key: b('s'), cursor: 0, count: 10 },
    ] as KvOp[]) {
      expect(h.run(op), op.type).toEqual(WRONG);
    }
    expect(h.run({ type: 'mget', keys: [b('h'), b('s')] })).toEqual([null, 'str']);
    expect(h.run({ type: 'type', key: b('h') })).toEqual({ status: 'hash' });
    expect(h.run({ type: 'type', key: b('s') })).toEqual({ status: 'string' });
    expect(h.run({ type: 'set', key: b('h'), value: b('x'), cond: 'nx' })).toBe(null);
    expect(h.run({ type: 'hlen', key: b('h') })).toBe(1);
    expect(h.set('h', 'now a string')).toBe('OK');
    expect(h.run({ type: 'type', key: b('h') })).toEqual({ status: 'string' });
    expect(recount(h.store)).toBe(h.store.usedMemory());
  });

  it('OBJECT ENCODING follows Redis 7.0: listpack up to 512 fields of at most 64 bytes, then hashtable for good', () => {
    const h = new Harness();
    const enc = (k: string) => h.run({ type: 'encoding', key: b(k) });
    h.run(hset('h', 'f', 'v'));
    expect(enc('h')).toBe('listpack');
    h.run(hset('h', 'f', 'x'.repeat(65)));
    expect(enc('h')).toBe('hashtable');
    h.run(hset('h2', 'f', 'x'.repeat(64)));
    expect(enc('h2')).toBe('listpack');
    for (let i = 0; i < 511; i++) h.run(hset('h2', `f${i}`, 'v'));
    expect(enc('h2')).toBe('listpack');
    h.run(hset('h2', 'one-more', 'v'));
    expect(enc('h2')).toBe('hashtable');
    h.run({ type: 'hdel', key: b('h2'), fields: [b('one-more'), b('f0')] });
    expect(enc('h2')).toBe('hashtable');
    expect(enc('missing')).toBe(null);
    for (const [v, e] of [
      ['12345', 'int'],
      ['-1', 'int'],
      ['012', 'embstr'],
      ['x'.repeat(44), 'embstr'],
      ['x'.repeat(45), 'raw'],
    ]) {
      h.set('s', v);
      expect(enc('s'), v).toBe(e);
    }
  });

  it('accounts a hash incrementally: every add and remove moves usedMemory, which always equals a recount', () => {
    const h = new Harness();
    const empty = h.store.usedMemory();
    for (let i = 0; i < 300; i++) {
      h.run(hset('big', `field:${i}`, 'v'.repeat(i % 80)));
      if (i % 7 === 0) h.run({ type: 'hdel', key: b('big'), fields: [b(`field:${i - 3}`)] });
      if (i % 50 === 0) expect(h.store.usedMemory()).toBe(recount(h.store));
    }
    expect(h.store.usedMemory()).toBe(recount(h.store));
    const before = h.store.usedMemory();
    h.run(hset('big', 'field:1', 'v'.repeat(1000)));
    expect(h.store.usedMemory() - before).toBe(1000 - 1);
    h.run({ type: 'del', keys: [b('big')] });
    expect(h.store.usedMemory()).toBe(empty);
  });

  it('a hash with a TTL expires like a string; PERSIST and PEXPIREAT work on it', () => {
    const h = new Harness();
    h.run(hset('h', 'f', 'v'));
    expect(h.run({ type: 'pexpireat', key: b('h'), at: h.ts + 1000 })).toBe(1);
    expect(h.run({ type: 'ttl', key: b('h'), unit: 'ms' })).toBe(1000);
    expect(h.run({ type: 'persist', key: b('h') })).toBe(1);
    h.run({ type: 'pexpireat', key: b('h'), at: h.ts + 1000 });
    h.ts += 1000;
    expect(h.run({ type: 'hgetall', key: b('h') })).toEqual([]);
    expect(h.run({ type: 'exists', keys: [b('h')] })).toBe(0);
  });

  it('SCAN ... TYPE keeps the keys of that type only', () => {
    const h = new Harness();
    h.set('s1', 'x');
    h.run(hset('h1', 'f', 'v'));
    h.set('s2', 'x');
    h.run(hset('h2', 'f', 'v'));
    const scan = (kind: string) => h.run({ type: 'scanType', cursor: 0, count: 100, kind: b(kind) });
    expect(scan('hash')).toEqual(['0', ['h1', 'h2']]);
    expect(scan('string')).toEqual(['0', ['s1', 's2']]);
    expect(scan('zset')).toEqual(['0', []]);
  });

  it('HRANDFIELD and HSCAN in MULTI pick the same on every replica (seeded by the log index)', () => {
    const picks = () => {
      const h = new Harness();
      for (let i = 0; i < 600; i++) h.run(hset('h', `f${i}`, `v${i}`));
      return h.exec([
        { type: 'hrandfield', key: b('h'), count: 5, withValues: true },
        { type: 'hrandfield', key: b('h'), count: -5 },
        { type: 'hrandfield', key: b('h') },
        { type: 'hscan', key: b('h'), cursor: 0, count: 10 },
      ]);
    };
    const a = picks();
    expect(a).toEqual(picks());
    expect((a[0] as string[]).length).toBe(10);
    expect((a[1] as string[]).length).toBe(5);
    // A hashtable's HSCAN walks positions down from the top (structs/hash.ts).
    expect(a[3]).toEqual(['590', Array.from({ length: 10 }, (_, i) => [`f${599 - i}`, `v${599 - i}`]).flat()]);
    const h = new Harness();
    h.run(hset('h', 'f', 'v'));
    expect(h.run({ type: 'hrandfield', key: b('h'), count: -1_000_001 })).toEqual({ err: expect.stringMatching(/^ERR count is out of range/) });
  });
});

describe('snapshots of hashes (FORMAT 7)', () => {
  /** A store with strings, a listpack hash, a hashtable hash and one shrunk back under 512. */
  function populated(): Harness {
    const h = new Harness();
    h.set('s', 'string value', { pxat: h.ts + 60_000 });
    h.run(hset('small', 'a', '1', 'b', '2'));
    for (let i = 0; i < 600; i++) h.run(hset('big', `f${i}`, `value ${i}`));
    for (let i = 0; i < 520; i++) h.run(hset('shrunk', `f${i}`, 'v'));
    for (let i = 0; i < 150; i++) h.run({ type: 'hdel', key: b('shrunk'), fields: [b(`f${i * 1.3}`.replace('.', ''))] });
    h.run({ type: 'hdel', key: b('big'), fields: [b('f7'), b('f100')] });
    h.run({ type: 'pexpireat', key: b('big'), at: h.ts + 90_000 });
    return h;
  }

  it('round-trips: the restored store answers the same, and its own snapshot is byte-identical', async () => {
    const h = populated();
    const image = await collect(h.store.beginSnapshot());
    expect(image[4]).toBe(7);
    const copy = new KvStore();
    await copy.restore(image);
    for (const key of ['small', 'big', 'shrunk']) {
      const read = (s: KvStore, type: 'hgetall' | 'encoding') => s.readCollection({ type, key: b(key) }, h.ts, Math.random);
      expect(read(copy, 'hgetall')).toEqual(read(h.store, 'hgetall'));
      expect(read(copy, 'encoding')).toEqual(read(h.store, 'encoding'));
    }
    expect(copy.usedMemory()).toBe(h.store.usedMemory());
    expect(copy.ttl(b('big'), h.ts)).toBe(90_000);
    expect(await collect(copy.beginSnapshot())).toEqual(image);
  });

  it('a keyspace of strings still writes the older format', async () => {
    const h = new Harness();
    h.set('a', '1');
    h.run(hset('h', 'f', 'v'));
    h.run({ type: 'del', keys: [b('h')] });
    const image = await collect(h.store.beginSnapshot());
    expect(image[4]).toBeLessThan(7);
  });

  it('writes a big hash in pieces, each chunk small, and a hash changed meanwhile appears as it was', async () => {
    const h = new Harness();
    const fields = 20_000;
    const pairs: [Buffer, Buffer][] = [];
    for (let i = 0; i < fields; i++) pairs.push([b(`field:${i}`), b(`value:${i}`)]);
    h.run({ type: 'hset', key: b('h'), pairs });
    const expected = h.store.readCollection({ type: 'hgetall', key: b('h') }, h.ts, Math.random);
    const writer = h.store.beginSnapshot(16 * 1024);
    const chunks: Buffer[] = [];
    let turn = 0;
    for await (const chunk of writer) {
      expect(chunk.length).toBeLessThanOrEqual(16 * 1024);
      chunks.push(Buffer.from(chunk));
      // Between chunks, change the hash being written: set, delete, and finally drop it.
      turn++;
      if (turn === 2) h.run({ type: 'hdel', key: b('h'), fields: [b('field:0'), b(`field:${fields - 1}`)] });
      if (turn === 3) h.run(hset('h', 'field:5', 'changed', 'new', 'x'));
      if (turn === 4) h.run({ type: 'del', keys: [b('h')] });
    }
    expect(chunks.length).toBeGreaterThan(20);
    const copy = new KvStore();
    await copy.restore(Buffer.concat(chunks));
    expect(copy.readCollection({ type: 'hgetall', key: b('h') }, h.ts, Math.random)).toEqual(expected);
  });

  it('restore refuses a corrupt hash record: repeated field, listpack beyond its limits, unknown type, empty', async () => {
    const h = new Harness();
    h.run(hset('h', 'aa', 'v1', 'bb', 'v2'));
    const image = await collect(h.store.beginSnapshot());
    const fix = (edit: (img: Buffer) => Buffer) => {
      const img = edit(Buffer.from(image));
      // Recompute the trailing crc so only the record is wrong.
      img.writeUInt32LE(crc32(img.subarray(0, img.length - 4)), img.length - 4);
      return img;
    };
    const at = image.indexOf(Buffer.from('aa'));
    const dup = fix((img) => {
      img.write('aa', image.indexOf(Buffer.from('bb')), 'latin1');
      return img;
    });
    await expect(new KvStore().restore(dup)).rejects.toThrow(/duplicate hash field/);
    // The record: key(len 1 'h') type expiresAt version hashtable count; the type byte is 'h' + 1.
    const typeAt = image.indexOf(Buffer.from([1, 0x68])) + 2;
    expect(image[typeAt]).toBe(1);
    const poke = (offset: number, byte: number) =>
      fix((img) => {
        img[offset] = byte;
        return img;
      });
    await expect(new KvStore().restore(poke(typeAt, 9))).rejects.toThrow(/value type 9/);
    const countAt = at - 2;
    expect(image[countAt]).toBe(2);
    await expect(new KvStore().restore(poke(countAt, 0))).rejects.toThrow(/empty collection/);
    const encAt = countAt - 1;
    await expect(new KvStore().restore(poke(encAt, 2))).rejects.toThrow(/encoding 2/);
  });

  it('restore refuses a listpack hash beyond 512 fields', async () => {
    const h = new Harness();
    const pairs: [Buffer, Buffer][] = [];
    for (let i = 0; i < 513; i++) pairs.push([b(`f${i}`), b('v')]);
    h.run({ type: 'hset', key: b('h'), pairs });
    const image = Buffer.from(await collect(h.store.beginSnapshot()));
    // hashtable(1) n(513 = 0x81 0x04) right before the first field "f0" (len 2).
    const encAt = image.indexOf(Buffer.from([0x81, 0x04, 2, 0x66, 0x30])) - 1;
    expect(image[encAt]).toBe(1);
    image[encAt] = 0;
    image.writeUInt32LE(crc32(image.subarray(0, image.length - 4)), image.length - 4);
    await expect(new KvStore().restore(image)).rejects.toThrow(/listpack beyond its limits/);
  });
});

describe('WATCH versions of collections', () => {
  it('a real change moves the version; a write that changes nothing does not', () => {
    const h = new Harness();
    h.run(hset('h', 'f', 'v'));
    h.run({ type: 'sadd', key: b('s'), members: [b('m')] });
    const version = (k: string) => h.store.version(b(k), h.ts);
    const unchanged: KvOp[] = [
      { type: 'hdel', key: b('h'), fields: [b('nope')] },
      { type: 'hset', key: b('h'), pairs: [[b('f'), b('x')]], nx: true },
      { type: 'sadd', key: b('s'), members: [b('m')] },
      { type: 'srem', key: b('s'), members: [b('nope')] },
      { type: 'hget', key: b('h'), field: b('f') },
    ];
    for (const op of unchanged) {
      const before = [version('h'), version('s')];
      h.run(op);
      expect([version('h'), version('s')], op.type).toEqual(before);
    }
    for (const op of [
      hset('h', 'f', 'same-or-not'),
      { type: 'hincrby', key: b('h'), field: b('n'), delta: 1n },
      { type: 'sadd', key: b('s'), members: [b('new')] },
    ] as KvOp[]) {
      const before = [version('h'), version('s')];
      h.run(op);
      expect([version('h'), version('s')], op.type).not.toEqual(before);
    }
    // EXEC after WATCH aborts once the hash changed.
    const watched = version('h');
    h.run(hset('h', 'g', '1'));
    expect(h.exec([{ type: 'hget', key: b('h'), field: b('g') }], [{ key: b('h'), version: watched }])).toEqual(['ABORTED']);
  });
});
