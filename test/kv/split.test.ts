/**
 * Owned slots and the split entry (issue 13), through the real codec: a store refuses keys of
 * slots it does not own with `moved`, its reads do not see them, a SPLIT gives slots up as one
 * entry (or is refused with nothing changed), and DROP_UNOWNED deletes the given-up keys.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import { ITEM_OVERHEAD } from '../../src/kv/item.ts';
import { bucketOf } from '../../src/kv/keyspace.ts';
import type { KvOp, OpOf } from '../../src/kv/ops.ts';
import { SlotSet } from '../../src/kv/owned.ts';
import { binarySlot, crc16 } from '../../src/kv/slot.ts';
import { MAX_DROP_EXAMINED, SPLIT_ERR, splitProblem } from '../../src/kv/split.ts';
import { KvStore } from '../../src/kv/store.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { b, Harness, rng } from './harness.ts';
import { dump, keyIn, slotOf } from './split-support.ts';

const split = (atSlot: number, group: number): KvOp => ({ type: 'split', atSlot, group });
const drop = (limit: number): KvOp => ({ type: 'dropUnowned', limit });

/** A store with n keys k0..k{n-1} (every third with an expiry far ahead). */
function populated(n: number): Harness {
  const h = new Harness();
  for (let i = 0; i < n; i++) h.set(`k${i}`, `v${i}`, i % 3 === 0 ? { pxat: h.ts + 3_600_000 } : {});
  return h;
}

describe('the slot function in kv', () => {
  it('binarySlot of a binary string is keyHashSlot of its bytes, hash tags included', () => {
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(r() * 24) }, () => (r() < 0.1 ? 0x7b + 2 * Math.floor(r() * 2) : Math.floor(r() * 256))));
      expect(binarySlot(bytes.toString('latin1'))).toBe(keyHashSlot(bytes));
    }
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(binarySlot('{user1000}.following')).toBe(binarySlot('user1000'));
  });
});

describe('owned slots', () => {
  it('a store owns every slot by default and never answers moved', () => {
    const h = populated(50);
    expect(h.store.ownedSlots).toEqual([[0, 16383]]);
    expect(h.store.ownsSlot(0) && h.store.ownsSlot(16383)).toBe(true);
    expect(h.store.unownedKeys).toBe(0);
    expect(h.store.dbsize(h.ts)).toBe(50);
    let total = 0;
    for (let s = 0; s < 16384; s++) total += h.store.countKeysInSlot(s);
    expect(total).toBe(50);
    // Counted on first ask; kept from then on.
    const s7 = slotOf('k7');
    const was = h.store.countKeysInSlot(s7);
    expect(was).toBeGreaterThanOrEqual(1);
    h.set(keyIn(s7, 'more'), 'x');
    expect(h.store.countKeysInSlot(s7)).toBe(was + 1);
    h.run({ type: 'del', keys: [b('k7'), b(keyIn(s7, 'more'))] });
    expect(h.store.countKeysInSlot(s7)).toBe(was - 1);
    expect(h.store.countKeysInSlot(16384)).toBe(0);
  });

  it('refuses a whole entry naming a key of another slot, before anything in it applies', () => {
    const h = new Harness({ slots: [[0, 99]] });
    expect(h.store.ownedSlots).toEqual([[0, 99]]);
    const mine = keyIn(5, 'a');
    const other = keyIn(100, 'b');
    expect(h.set(mine, '1')).toBe('OK');
    expect(h.exec([{ type: 'set', key: b(other), value: b('x') }])).toEqual([{ moved: 100 }]);
    // A MULTI with one foreign key applies none of its ops (no half-applied transaction).
    const multi: KvOp[] = [
      { type: 'set', key: b(mine), value: b('2') },
      { type: 'incrby', key: b(keyIn(6)), delta: 1n },
      { type: 'mget', keys: [b(mine), b(keyIn(7000))] },
    ];
    expect(h.exec(multi)).toEqual([{ moved: 7000 }]);
    expect(h.get(mine)).toBe('1');
    expect(h.get(keyIn(6))).toBeNull();
    // Every keyed op is judged, reads included; a WATCHed key too.
    const ops: KvOp[] = [
      { type: 'get', key: b(other) },
      { type: 'del', keys: [b(mine), b(other)] },
      {
        type: 'mset',
        pairs: [
          [b(mine), b('x')],
          [b(other), b('y')],
        ],
      },
      { type: 'pexpireat', key: b(other), at: h.ts + 10 },
      { type: 'ttl', key: b(other), unit: 'ms' },
      { type: 'exists', keys: [b(other)] },
      { type: 'getex', key: b(other), persist: true },
      { type: 'append', key: b(other), value: b('x') },
      // A shard channel belongs to its slot's group, as a key does.
      { type: 'spublish', channel: b(other), message: b('m') },
    ];
    for (const op of ops) expect(h.exec([op])).toEqual([{ moved: 100 }]);
    expect(h.exec([{ type: 'get', key: b(mine) }], [{ key: b(other), version: -1 }])).toEqual([{ moved: 100 }]);
    // Ops without a data key still apply.
    expect(h.exec([{ type: 'dbsize' }, { type: 'publish', channel: b(other), message: b('m') }])).toEqual([1, { publish: [other, 'm'] }]);
  });

  it('judges a SESSION entry before its record: the owner of the key applies a retry', () => {
    const h = new Harness({ slots: [[0, 99]] });
    const session: KvOp = { type: 'session', key: b('idem'), fingerprint: b('fp'), ttlMs: 60_000 };
    expect(h.exec([session, { type: 'set', key: b(keyIn(200)), value: b('x') }])).toEqual([{ moved: 200 }]);
    expect(h.store.sessionStats().records).toBe(0);
    expect(h.exec([session, { type: 'set', key: b(keyIn(50)), value: b('x') }])[0]).toEqual([{ status: 'applied' }, 2]);
  });

  it('refuses slot ranges that are not a slot set', () => {
    for (const slots of [
      [],
      [[5, 4]],
      [[0, 16384]],
      [[-1, 3]],
      [
        [10, 20],
        [15, 30],
      ],
      [
        [10, 20],
        [0, 5],
      ],
      [[1.5, 3]],
    ] as [number, number][][]) {
      expect(() => new KvStore({ slots })).toThrow(RangeError);
    }
    expect(
      new KvStore({
        slots: [
          [0, 9],
          [10, 16383],
        ],
      }).ownedSlots,
    ).toEqual([[0, 16383]]);
    expect(
      new KvStore({
        slots: [
          [0, 9],
          [10, 20],
          [30, 40],
        ],
      }).ownedSlots,
    ).toEqual([
      [0, 20],
      [30, 40],
    ]);
  });
});

describe('the split entry', () => {
  it('gives up [atSlot .. end of its range]: those keys answer moved, reads stop seeing them, the rest is untouched', () => {
    const h = populated(400);
    const before = dump(h.store, h.ts);
    expect(h.run(split(8192, 7))).toEqual({ split: [7, 8192, 16383, 401] });
    expect(h.store.ownedSlots).toEqual([[0, 8191]]);
    expect(h.store.splits).toEqual([{ index: 401, group: 7, slots: [8192, 16383] }]);
    const gone = before.filter((line) => slotOf(line.slice(0, line.indexOf('='))) >= 8192);
    const kept = before.filter((line) => slotOf(line.slice(0, line.indexOf('='))) < 8192);
    expect(gone.length).toBeGreaterThan(150);
    expect(kept.length).toBeGreaterThan(150);
    expect(h.store.unownedKeys).toBe(gone.length);
    expect(dump(h.store, h.ts)).toEqual(kept);
    expect(h.store.dbsize(h.ts)).toBe(kept.length);
    expect(h.store.size).toBe(400);
    for (let i = 0; i < 400; i++) {
      const key = `k${i}`;
      const mine = slotOf(key) < 8192;
      expect(h.store.ownsKey(b(key))).toBe(mine);
      expect(h.store.exists(b(key), h.ts)).toBe(mine);
      expect(h.store.ttl(b(key), h.ts)).toBe(mine ? (i % 3 === 0 ? 3_600_000 : -1) : -2);
      expect(h.run({ type: 'get', key: b(key) })).toEqual(mine ? `v${i}` : { moved: slotOf(key) });
      expect(h.set(key, 'new')).toEqual(mine ? 'OK' : { moved: slotOf(key) });
    }
    // Whole-keyspace reads, alone and inside an entry.
    const seen = new Set<string>();
    let cursor = 0;
    do {
      const page = h.store.scan(cursor, { count: 7 }, h.ts);
      for (const k of page.keys) seen.add(k.toString());
      cursor = page.cursor;
    } while (cursor !== 0);
    expect(seen.size).toBe(kept.length);
    for (const k of seen) expect(slotOf(k)).toBeLessThan(8192);
    expect(h.run({ type: 'keys', pattern: b('k*') })).toHaveLength(kept.length);
    expect(h.run({ type: 'dbsize' })).toBe(kept.length);
    const r = rng(3);
    for (let i = 0; i < 200; i++) expect(slotOf(h.store.randomKey(r, h.ts)!.toString())).toBeLessThan(8192);
    for (let s = 8192; s < 16384; s++) expect(h.store.countKeysInSlot(s)).toBe(0);
    expect(h.store.keys(b('k1'), h.ts).length).toBe(slotOf('k1') < 8192 ? 1 : 0);
  });

  it('refuses what it cannot do, changing nothing, with the text splitProblem gives', () => {
    const h = populated(50);
    h.run(split(1000, 2));
    const bad: [KvOp, string][] = [
      [split(16384, 3), SPLIT_ERR.badSlot],
      [split(2 ** 40, 3), SPLIT_ERR.badSlot],
      [split(500, 2 ** 32), SPLIT_ERR.badGroup],
      [split(500, 0), SPLIT_ERR.badGroup],
      [split(1000, 3), SPLIT_ERR.notOwned],
      [split(9000, 3), SPLIT_ERR.notOwned],
      [split(0, 3), SPLIT_ERR.rangeStart],
      [split(500, 2), SPLIT_ERR.groupUsed],
    ];
    const state = () => JSON.stringify([h.store.ownedSlots, h.store.splits, h.store.unownedKeys, dump(h.store, h.ts)]);
    const was = state();
    for (const [op, text] of bad) expect(h.run(op)).toEqual({ err: text });
    // Not alone in its entry: with another op, with a WATCH, or behind a SESSION.
    expect(h.exec([split(500, 3), { type: 'get', key: b(keyIn(1)) }])[0]).toEqual({ err: SPLIT_ERR.notAlone });
    expect(h.exec([{ type: 'dbsize' }, split(500, 3)])[1]).toEqual({ err: SPLIT_ERR.notAlone });
    const watched = { key: b(keyIn(1)), version: h.store.version(b(keyIn(1)), h.ts) };
    expect(h.exec([split(500, 3)], [watched])).toEqual([{ err: SPLIT_ERR.notAlone }]);
    const session: KvOp = { type: 'session', key: b('idem'), fingerprint: b('fp'), ttlMs: 60_000 };
    expect(h.exec([session, split(500, 3)])[1]).toEqual({ err: SPLIT_ERR.notAlone });
    expect(state()).toBe(was);
    // The same checks, before proposing.
    for (const [op, text] of bad) expect(splitProblem(op as OpOf<'split'>, ownedOf(h.store), h.store.splits)).toBe(text);
    expect(splitProblem({ type: 'split', atSlot: 500, group: 3 }, ownedOf(h.store), h.store.splits)).toBeUndefined();
    expect(splitProblem({ type: 'split', atSlot: 1, group: 3 }, null, [])).toBeUndefined();
    expect(splitProblem({ type: 'split', atSlot: 0, group: 3 }, null, [])).toBe(SPLIT_ERR.rangeStart);
  });

  it('splits again, at a slot of any owned range, keeping both halves non-empty', () => {
    const h = populated(200);
    expect(h.run(split(100, 2))).toEqual({ split: [2, 100, 16383, 201] });
    expect(h.run(split(50, 3))).toEqual({ split: [3, 50, 99, 202] });
    expect(h.run(split(49, 4))).toEqual({ split: [4, 49, 49, 203] });
    expect(h.run(split(48, 5))).toEqual({ split: [5, 48, 48, 204] });
    expect(h.store.ownedSlots).toEqual([[0, 47]]);
    expect(h.store.splits.map((s) => s.group)).toEqual([2, 3, 4, 5]);
  });
});

/** The owned set of a store as split.ts sees it (null = every slot). */
function ownedOf(store: KvStore): SlotSet | null {
  const set = new SlotSet(store.ownedSlots);
  return set.full ? null : set;
}

describe('cleanup: DROP_UNOWNED', () => {
  it('deletes the given-up keys in creation order, a bounded walk per entry, until none is left', () => {
    const h = populated(3000);
    h.run(split(4000, 2));
    const given = h.store.unownedKeys;
    expect(given).toBeGreaterThan(2000);
    const ownedBytes = (): number => {
      let n = 0;
      for (const k of h.store.keys(b('*'), 0)) n += k.length + h.store.get(k, 0)!.length + ITEM_OVERHEAD;
      return n;
    };
    const owned = ownedBytes();
    expect(h.store.usedMemory()).toBeGreaterThan(owned);
    // The first step walks k0..k99 (creation order): it drops exactly the given-up ones there.
    const inFirst = Array.from({ length: 100 }, (_, i) => `k${i}`).filter((k) => slotOf(k) >= 4000).length;
    expect(h.run(drop(100))).toBe(inFirst);
    expect(h.store.unownedKeys).toBe(given - inFirst);
    expect(h.store.size).toBe(3000 - inFirst);
    let steps = 1;
    while (h.store.unownedKeys > 0) {
      const left = h.store.unownedKeys;
      const n = h.run(drop(250)) as number;
      expect(n).toBeLessThanOrEqual(250);
      expect(h.store.unownedKeys).toBe(left - n);
      steps++;
      expect(steps).toBeLessThan(20);
    }
    // 3000 places: at most 100 + 12 x 250 walked (fewer if the last given-up keys came early).
    expect(steps).toBeLessThanOrEqual(13);
    while (h.store.cleanupPending > 0) expect(h.run(drop(250))).toBe(0);
    expect(h.store.cleanupPending).toBe(0);
    expect(h.run(drop(250))).toBe(0);
    expect(h.store.size).toBe(3000 - given);
    expect(h.store.usedMemory()).toBe(owned);
    expect(ownedBytes()).toBe(owned);
  });

  it('caps the walk of one entry at MAX_DROP_EXAMINED, whatever it asks', () => {
    const h = new Harness();
    const pairs: [Buffer, Buffer][] = [];
    for (let i = 0; i < 3 * MAX_DROP_EXAMINED; i++) pairs.push([b(`k${i}`), b('v')]);
    h.run({ type: 'mset', pairs });
    h.run(split(1, 2));
    const given = h.store.unownedKeys;
    expect(given).toBeGreaterThan(3 * MAX_DROP_EXAMINED - 10);
    const n = h.run(drop(Number.MAX_SAFE_INTEGER)) as number;
    // Slot 0 holds about one key in 16384: nearly every place walked is a given-up key.
    expect(n).toBeLessThanOrEqual(MAX_DROP_EXAMINED);
    expect(n).toBeGreaterThan(MAX_DROP_EXAMINED - 10);
    expect(h.store.unownedKeys).toBe(given - n);
  });

  it('finishes across a second split, and after keys were created, deleted and flushed', () => {
    const h = populated(2000);
    h.run(split(12000, 2));
    h.run(drop(500));
    for (let i = 0; i < 200; i++) h.run({ type: 'del', keys: [b(`k${i * 3}`)] });
    for (let i = 2000; i < 2500; i++) h.set(`k${i}`, 'x');
    h.run(split(6000, 3));
    const visible = h.store.dbsize(h.ts);
    while (h.store.unownedKeys > 0) h.run(drop(300));
    expect(h.store.size).toBe(visible);
    for (const k of h.store.keys(b('*'), h.ts)) expect(slotOf(k.toString())).toBeLessThan(6000);
    // FLUSHALL drops given-up keys with the rest.
    h.run(split(3000, 4));
    expect(h.store.unownedKeys).toBeGreaterThan(0);
    h.run({ type: 'flushall' });
    expect(h.store.unownedKeys).toBe(0);
    expect(h.store.size).toBe(0);
    expect(h.store.usedMemory()).toBe(0);
  });

  it("drops a given-up key named by the leader's expiry or eviction without moving any WATCH version", () => {
    const h = new Harness();
    const soon = h.ts + 1000;
    const given = keyIn(9000, 'x');
    h.set(given, 'v', { pxat: soon });
    h.set(keyIn(9001, 'y'), 'v');
    h.set(keyIn(10, 'z'), 'v');
    h.run(split(5000, 2));
    // Owned absent keys that share a WATCH version bucket with the given-up ones.
    const buckets = new Set([bucketOf(given), bucketOf(keyIn(9001, 'y'))]);
    const absent: Buffer[] = [];
    for (let i = 0; absent.length < 4; i++) {
      const k = `absent${i}`;
      if (buckets.has(bucketOf(k)) && binarySlot(k) < 5000) absent.push(b(k));
    }
    const versions = () => absent.map((k) => h.store.version(k, h.ts));
    const was = versions();
    h.ts = soon + 1;
    expect(h.store.expiredSample(h.ts, 10).map((e) => e.key.toString())).toEqual([given]);
    expect(h.run({ type: 'expireIf', key: b(given), at: soon })).toBe(1);
    const victims = h.store.evictionCandidates(1e9, 'allkeys-lru', rng(1)).filter((v) => v.key.toString().includes('}y'));
    expect(h.run({ type: 'evictIf', victims })).toBe(1);
    expect(h.store.unownedKeys).toBe(0);
    expect(versions()).toEqual(was);
    expect(h.store.size).toBe(1);
  });
});

describe('SPLIT and DROP_UNOWNED in the log', () => {
  it('decode whatever varints they carry, and apply refuses what it cannot use', () => {
    const h = populated(20);
    // FORMAT 1, ts 9, no watch, one op: SPLIT slot 2^35, group 7; DROP_UNOWNED 2^49.
    const hostile = [
      Buffer.from([1, 9, 0, 1, 19, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 7]),
      Buffer.from([1, 9, 0, 1, 20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
      Buffer.from([1, 9, 0, 1, 19, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    ];
    expect(decodeEntry(hostile[0]).ops[0]).toEqual({ type: 'split', atSlot: 2 ** 35, group: 7 });
    expect(h.store.apply(decodeEntry(hostile[0]), 100)).toEqual([{ type: 'error', message: SPLIT_ERR.badSlot }]);
    expect(h.store.apply(decodeEntry(hostile[1]), 101)).toEqual([{ type: 'int', value: 0 }]);
    // Slot 16383 (0xff 0x7f), group 2^35 - 1.
    expect(h.store.apply(decodeEntry(hostile[2]), 102)).toEqual([{ type: 'error', message: SPLIT_ERR.badGroup }]);
    expect(h.store.ownedSlots).toEqual([[0, 16383]]);
  });

  it('survive every single-byte mutation: a typed decode error or a total apply', () => {
    const entry = encodeEntry({ ts: 1_700_000_000_000, ops: [split(3000, 9)] });
    const cleanup = encodeEntry({ ts: 1_700_000_000_000, ops: [drop(500), { type: 'set', key: b('k1'), value: b('v') }] });
    for (const data of [entry, cleanup]) {
      for (let at = 0; at < data.length; at++) {
        for (const v of [0, 1, 0x13, 0x14, 0x7f, 0x80, 0xff]) {
          const bad = Buffer.from(data);
          bad[at] = v;
          let decoded: ReturnType<typeof decodeEntry>;
          try {
            decoded = decodeEntry(bad);
          } catch (err) {
            expect((err as Error).name).toBe('KvDecodeError');
            continue;
          }
          const h = populated(30);
          const results = h.store.apply(decoded, 31);
          expect(results.length).toBeGreaterThan(0);
          expect(h.store.dbsize(h.ts) + h.store.unownedKeys).toBeLessThanOrEqual(31);
        }
      }
    }
  });
});
