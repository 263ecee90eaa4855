/**
 * DUMP and RESTORE at the state machine, through the real entry codec: a payload of every type
 * restores the same value (encoding and element positions included), with Redis's order of
 * errors, its TTL rules and the LRU placement of IDLETIME; and a seeded fuzz of corrupted real
 * payloads, each refused with Redis's error by the decoder and by apply, never a throw.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DUMP_ERR, DUMP_VERSION, decodePayload, dumpPayload, isRefused } from '../../src/kv/dump.ts';
import { itemBytes } from '../../src/kv/item.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';
import { TYPE } from '../../src/kv/types.ts';
import { SplitMix32 } from '../support/splitmix32.ts';
import { b, collect, Harness } from './harness.ts';

const hset = (key: string, n: number, long = 0): KvOp => ({
  type: 'hset',
  key: b(key),
  pairs: Array.from({ length: n }, (_, i) => [b(`f${i}`), b(`v${i}${'x'.repeat(long)}`)] as [Buffer, Buffer]),
});
const sadd = (key: string, members: string[]): KvOp => ({ type: 'sadd', key: b(key), members: members.map(b) });

/** One key of each type and encoding, under the names the tests use. */
function fill(h: Harness): string[] {
  h.set('str', 'hello');
  h.set('empty', '');
  h.set('bin', '\x00\xff\r\n');
  h.set('int', '12345');
  h.run(hset('lp', 3));
  h.run(hset('ht', 600));
  h.run({ type: 'hdel', key: b('ht'), fields: [b('f7'), b('f300')] });
  h.run(sadd('ints', ['3', '-1', '9223372036854775807']));
  h.run(sadd('members', ['a', 'b', 'c', '1']));
  h.run(
    sadd(
      'bigints',
      Array.from({ length: 700 }, (_, i) => String(i)),
    ),
  );
  h.run({ type: 'lpush', key: b('list'), elements: ['a', 'b', 'a', '\x00'].map(b) });
  // A list of many chunks whose first is part-full: pushes at both ends, pops from the head.
  h.run({ type: 'lpush', key: b('chunks'), elements: Array.from({ length: 150 }, (_, i) => b(`e${i}`)) });
  h.run({ type: 'lpush', key: b('chunks'), elements: Array.from({ length: 45 }, (_, i) => b(`h${i}`)), left: true });
  h.run({ type: 'lpop', key: b('chunks'), left: true, count: 7 });
  const zadd = (key: string, n: number) =>
    h.run({
      type: 'zadd',
      key: b(key),
      pairs: Array.from({ length: n }, (_, i) => [b(`${(i * 7) % 13}${i % 3 ? '.5' : ''}`), b(`m${i}`)] as [Buffer, Buffer]),
    });
  zadd('zl', 5);
  zadd('zs', 200);
  h.run({ type: 'zrem', key: b('zs'), members: [b('m3'), b('m150')] });
  return ['str', 'empty', 'bin', 'int', 'lp', 'ht', 'ints', 'members', 'bigints', 'list', 'chunks', 'zl', 'zs'];
}

const dumpOf = (h: Harness, key: string) => h.run({ type: 'dump', key: b(key) }) as string;
const restore = (h: Harness, key: string, payload: string | Buffer, opts: Partial<Extract<KvOp, { type: 'restore' }>> = {}) =>
  h.run({ type: 'restore', key: b(key), payload: typeof payload === 'string' ? b(payload) : payload, at: 0, ...opts });

/** What a key holds, as every read of its type sees it (order included), and its encoding. */
function contents(h: Harness, key: string): unknown {
  const type = (h.run({ type: 'type', key: b(key) }) as { status: string }).status;
  const enc = h.run({ type: 'encoding', key: b(key) });
  if (type === 'string') return [type, enc, h.get(key)];
  if (type === 'hash') return [type, enc, h.run({ type: 'hgetall', key: b(key) }), h.run({ type: 'hscan', key: b(key), cursor: 0, count: 10 })];
  if (type === 'list') return [type, enc, h.run({ type: 'lrange', key: b(key), start: 0, stop: -1 })];
  if (type === 'zset') return [type, enc, h.run({ type: 'zrange', key: b(key), min: b('0'), max: b('-1'), by: 0, withScores: true })];
  return [type, enc, h.run({ type: 'smembers', key: b(key) }), h.run({ type: 'sscan', key: b(key), cursor: 0, count: 10 })];
}

/** usedMemory recomputed from scratch, to compare with the incremental count. */
function recount(store: KvStore): number {
  // biome-ignore lint/suspicious/noExplicitAny: a test reaches into the keyspace to recount it
  const ks = (store as any).ks;
  let n = 0;
  for (const item of ks.map.values()) n += itemBytes(item.key, item.value);
  return n;
}

describe('DUMP and RESTORE in the state machine', () => {
  it('every type and encoding round-trips: same value, order, encoding and accounted bytes', async () => {
    const h = new Harness();
    const keys = fill(h);
    const other = new Harness();
    for (const key of keys) {
      const payload = dumpOf(h, key);
      expect(payload.charCodeAt(0)).toBe(DUMP_VERSION);
      expect(restore(other, key, payload)).toBe('OK');
      expect(contents(other, key), key).toEqual(contents(h, key));
      // A payload is a function of the value alone: dumping the restored key gives the same bytes.
      expect(dumpOf(other, key)).toBe(payload);
    }
    expect(other.store.usedMemory()).toBe(recount(other.store));
    expect(other.store.usedMemory()).toBe(h.store.usedMemory());
    // Positions survive, so later random picks and scans match too: the two stores' snapshots
    // differ only in versions, so compare the values through a fresh copy of each.
    const copyA = new Harness();
    const copyB = new Harness();
    for (const key of keys) {
      restore(copyA, key, dumpOf(h, key));
      restore(copyB, key, dumpOf(other, key));
    }
    expect(Buffer.compare(await collect(copyA.store.beginSnapshot()), await collect(copyB.store.beginSnapshot()))).toBe(0);
    expect(h.run({ type: 'dump', key: b('nokey') })).toBe(null);
  });

  it("Redis's order: BUSYKEY first, REPLACE, then the payload; the old key stays on a refused payload", () => {
    const h = new Harness();
    fill(h);
    const payload = dumpOf(h, 'lp');
    expect(restore(h, 'str', payload)).toEqual({ err: DUMP_ERR.busyKey });
    expect(restore(h, 'str', 'junk')).toEqual({ err: DUMP_ERR.busyKey });
    expect(restore(h, 'str', 'junk', { replace: true })).toEqual({ err: DUMP_ERR.checksum });
    expect(h.get('str')).toBe('hello');
    expect(restore(h, 'str', payload, { replace: true })).toBe('OK');
    expect(contents(h, 'str')).toEqual(contents(h, 'lp'));
  });

  it('TTL: an absolute time is kept; a time already past leaves no key (REPLACE deletes the old one) and answers OK', () => {
    const h = new Harness();
    fill(h);
    const payload = dumpOf(h, 'ints');
    expect(restore(h, 'k', payload, { at: h.ts + 5000 })).toBe('OK');
    expect(h.run({ type: 'ttl', key: b('k'), unit: 'ms' })).toBe(5000);
    expect(restore(h, 'gone', payload, { at: h.ts })).toBe('OK');
    expect(h.run({ type: 'exists', keys: [b('gone')] })).toBe(0);
    expect(restore(h, 'str', payload, { at: 1, replace: true })).toBe('OK');
    expect(h.run({ type: 'exists', keys: [b('str')] })).toBe(0);
    // A time past what a log entry carries (a forged entry) is refused, not stored.
    expect(restore(h, 'far', payload, { at: 2 ** 52 })).toEqual({ err: "ERR invalid expire time in 'restore' command" });
  });

  it('IDLETIME (cold) places the key least recently used, in both LRU lists', async () => {
    const h = new Harness();
    fill(h);
    const payload = dumpOf(h, 'str');
    restore(h, 'warm', payload);
    restore(h, 'cold', payload, { cold: true, at: h.ts + 60_000 });
    const order = await h.store.lruOrder();
    expect(order[0]).toBe('cold');
    expect(order[order.length - 1]).toBe('warm');
    // biome-ignore lint/suspicious/noExplicitAny: the volatile list's head, which volatile-lru evicts first
    expect((h.store as any).ks.lru.vhead.key).toBe('cold');
  });

  it('refuses bad payloads with the checksum error or "Bad data format"', () => {
    const h = new Harness();
    fill(h);
    const good = Buffer.from(dumpOf(h, 'lp'), 'latin1');
    const forge = (edit: (p: Buffer) => Buffer): Buffer => {
      const p = edit(Buffer.from(good));
      p.writeUInt32LE(crc32(p.subarray(0, p.length - 4)), p.length - 4);
      return p;
    };
    const refusal = (p: Uint8Array) => {
      const v = decodePayload(p);
      return isRefused(v) ? v.refused : 'value';
    };
    // Redis 7.0's DUMP of SET s hello: an RDB string, RDB version 10 and its CRC64.
    expect(refusal(Buffer.from('000568656c6c6f0a006372df766534200a', 'hex'))).toBe(DUMP_ERR.checksum);
    expect(refusal(Buffer.alloc(0))).toBe(DUMP_ERR.checksum);
    expect(refusal(forge((p) => Buffer.concat([Buffer.from([2]), p.subarray(1)])))).toBe(DUMP_ERR.checksum);
    const flipped = Buffer.from(good);
    flipped[5] ^= 1;
    expect(refusal(flipped)).toBe(DUMP_ERR.checksum);
    expect(refusal(good)).toBe('value');
    // Checksums that hold over bytes that are no value this store builds.
    const poke = (at: number, byte: number) =>
      forge((p) => {
        p[at] = byte;
        return p;
      });
    const bad = {
      trailing: forge((p) => Buffer.concat([p.subarray(0, p.length - 4), Buffer.from([0]), p.subarray(p.length - 4)])),
      unknownType: poke(1, 9),
      stringTag: poke(1, TYPE.string),
      encoding: poke(2, 2),
      empty: poke(3, 0),
      countLie: poke(3, 100),
      duplicate: forge((p) => {
        p.write('f0', p.indexOf('f1'), 'latin1');
        return p;
      }),
      cut: forge((p) => Buffer.concat([p.subarray(0, 6), p.subarray(p.length - 4)])),
    };
    for (const [why, p] of Object.entries(bad)) expect(refusal(p), why).toBe(DUMP_ERR.badFormat);
    // A listpack beyond its limits: 600 fields claimed compact.
    const ht = Buffer.from(dumpOf(h, 'ht'), 'latin1');
    ht[2] = 0;
    ht.writeUInt32LE(crc32(ht.subarray(0, ht.length - 4)), ht.length - 4);
    expect(refusal(ht)).toBe(DUMP_ERR.badFormat);
    // Apply answers the same, whatever the front end let through.
    expect(restore(h, 'x', bad.duplicate)).toEqual({ err: DUMP_ERR.badFormat });
    expect(restore(h, 'x', flipped)).toEqual({ err: DUMP_ERR.checksum });
    expect(h.run({ type: 'exists', keys: [b('x')] })).toBe(0);
  });

  it('fuzz: random corruptions of real payloads are refused, never thrown, by the decoder and by apply', () => {
    const h = new Harness();
    const keys = fill(h);
    const payloads = keys.map((k) => Buffer.from(dumpOf(h, k), 'latin1'));
    const rng = new SplitMix32(20261204);
    const int = (n: number) => rng.u32() % n;
    const counts = { checksum: 0, badFormat: 0, value: 0 };
    for (let i = 0; i < 4000; i++) {
      const p = Buffer.from(payloads[int(payloads.length)]);
      let q: Buffer = p;
      switch (int(4)) {
        case 0:
          q[int(q.length)] ^= 1 << int(8);
          break;
        case 1:
          q[int(q.length)] = int(256);
          break;
        case 2: {
          const at = int(q.length);
          q = Buffer.concat([q.subarray(0, at), q.subarray(at + 1 + int(8))]);
          break;
        }
        case 3: {
          const at = int(q.length);
          q = Buffer.concat([q.subarray(0, at), Buffer.from([int(256), int(256)]), q.subarray(at)]);
          break;
        }
      }
      // Half of them get a checksum that holds, so the structure is what is tested.
      const fixed = rng.u32() % 2 === 0 && q.length >= 6;
      if (fixed) q.writeUInt32LE(crc32(q.subarray(0, q.length - 4)), q.length - 4);
      const v = decodePayload(q);
      if (isRefused(v)) {
        counts[v.refused === DUMP_ERR.checksum ? 'checksum' : 'badFormat']++;
        if (!fixed && !q.equals(p)) expect(v.refused).toBe(DUMP_ERR.checksum);
      } else {
        counts.value++;
        // Whatever decodes is a value this store builds: it dumps to the bytes it came from.
        expect(dumpPayload(v).equals(q)).toBe(true);
      }
      const r = restore(h, 'fz', q, { replace: true });
      expect(r === 'OK' || (typeof r === 'object' && r !== null && 'err' in r)).toBe(true);
    }
    expect(counts.checksum).toBeGreaterThan(1000);
    expect(counts.badFormat).toBeGreaterThan(500);
    expect(h.store.usedMemory()).toBe(recount(h.store));
  });
});

describe('DUMP on a store restored from a snapshot', () => {
  it('gives the same payloads as the store it was taken from', async () => {
    const h = new Harness();
    const keys = fill(h);
    const copy = new KvStore();
    await copy.restore(await collect(h.store.beginSnapshot()));
    for (const key of keys) {
      const r = copy.readCollection({ type: 'dump', key: b(key) }, h.ts, Math.random);
      expect(r?.type === 'bulk' && Buffer.from(r.value).toString('latin1')).toBe(dumpOf(h, key));
    }
  });
});
