/**
 * The images a split leaves (issue 13): the new group's, begun at the split entry and limited to
 * the given-up slots, and the parent's own, which skips them. Replicas write the same bytes; the
 * parent's image does not depend on cleanup progress; writes while an image streams do not leak
 * into it; FORMAT 6 carries the owned slots and the splits; hostile images are refused.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import { SnapshotFormatError } from '../../src/kv/errors.ts';
import type { KvEntry, KvOp } from '../../src/kv/ops.ts';
import { MAX_DROP_EXAMINED, SPLIT_ERR } from '../../src/kv/split.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness, rng } from './harness.ts';
import { dump, fixCrc, keyIn, slotOf } from './split-support.ts';

const T0 = 1_700_000_000_000;
const SPLIT_AT = 6000;

/**
 * A seeded log: writes of every kind, sessions, CONFIG, a split to group 2 half-way, and after
 * it DROP_UNOWNED entries among the writes, as a leader would propose them.
 */
function splitLog(seed: number, length: number): KvEntry[] {
  const r = rng(seed);
  const key = () => b(`k${Math.floor(r() * 300)}`);
  const log: KvEntry[] = [];
  const half = Math.floor(length / 2);
  for (let i = 1; i <= length; i++) {
    const ts = T0 + i * 10;
    const pick = r();
    let ops: KvOp[];
    if (i === half) ops = [{ type: 'split', atSlot: SPLIT_AT, group: 2 }];
    else if (i > half && pick < 0.1) ops = [{ type: 'dropUnowned', limit: 20 }];
    else if (pick < 0.5) ops = [{ type: 'set', key: key(), value: b(`v${i}`), ...(r() < 0.3 ? { pxat: ts + 100_000 } : {}) }];
    else if (pick < 0.6) ops = [{ type: 'del', keys: [key()] }];
    else if (pick < 0.7) ops = [{ type: 'incrby', key: key(), delta: 3n }];
    else if (pick < 0.75)
      ops = [
        { type: 'session', key: b(`idem${i}`), fingerprint: b('fp'), ttlMs: 1_000_000 },
        { type: 'append', key: key(), value: b('+') },
      ];
    else if (pick < 0.77) ops = [{ type: 'config', pairs: [[b('maxmemory'), b(String(1000 + i))]] }];
    else ops = [{ type: 'get', key: key() }];
    log.push({ ts, ops });
  }
  return log;
}

/** Applies entries through the codec from log index `from`. */
function applyAll(store: KvStore, log: KvEntry[], from = 1): KvStore {
  for (let i = 0; i < log.length; i++) store.apply(decodeEntry(encodeEntry(log[i])), from + i);
  return store;
}

describe('the images of a split', () => {
  it('two replicas applying the same entries write byte-identical parent and child images', async () => {
    const log = splitLog(1, 2000);
    const half = Math.floor(log.length / 2);
    // One counts keys per slot from the start (a sharded node's group), the other first at the
    // split: derived data, so the same bytes.
    const a = applyAll(new KvStore({ countSlots: true }), log.slice(0, half));
    const c = applyAll(new KvStore(), log.slice(0, half));
    const childA = collect(a.takeSplitImage(2)!);
    const childC = collect(c.takeSplitImage(2)!);
    // Both go on with the same log (writes and cleanup) while the images stream; one of them
    // also serves local reads, which touch its LRU order.
    const r = rng(4);
    for (let i = half; i < log.length; i++) {
      const data = encodeEntry(log[i]);
      a.apply(decodeEntry(data), i + 1);
      c.apply(decodeEntry(data), i + 1);
      c.get(b(`k${i % 300}`), T0, { touch: true });
      c.randomKey(r, T0);
    }
    const ca = await childA;
    expect(ca.equals(await childC)).toBe(true);
    expect(ca[4]).toBe(6);
    expect(a.unownedKeys).toBe(c.unownedKeys);
    expect((await collect(a.beginSnapshot())).equals(await collect(c.beginSnapshot()))).toBe(true);
    expect(a.takeSplitImage(2)).toBeUndefined();
  });

  it('a replica restored mid-cleanup answers every later entry as one that replayed the log', async () => {
    const log = splitLog(5, 3000);
    const half = Math.floor(log.length / 2);
    const full = applyAll(new KvStore(), log.slice(0, half + 10));
    full.takeSplitImage(2)?.cancel();
    expect(full.unownedKeys).toBeGreaterThan(0);
    const restored = new KvStore();
    await restored.restore(await collect(full.beginSnapshot()));
    const json = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    let compared = 0;
    for (let i = half + 10; i < log.length; i++) {
      const data = encodeEntry(log[i]);
      const a = full.apply(decodeEntry(data), i + 1);
      const c = restored.apply(decodeEntry(data), i + 1);
      // Only the count of a cleanup step differs: the restored replica never held given-up keys.
      if (log[i].ops[0].type === 'dropUnowned') continue;
      expect(json(c)).toBe(json(a));
      compared++;
    }
    expect(compared).toBeGreaterThan(1000);
    // The same cleanup steps finish the walk on both, the one that held given-up keys included.
    for (let n = log.length + 1; full.cleanupPending > 0; n++) {
      const step = encodeEntry({ ts: T0, ops: [{ type: 'dropUnowned', limit: 100 }] });
      full.apply(decodeEntry(step), n);
      restored.apply(decodeEntry(step), n);
      expect(restored.cleanupPending).toBe(full.cleanupPending);
    }
    expect(full.unownedKeys).toBe(0);
    expect((await collect(restored.beginSnapshot())).equals(await collect(full.beginSnapshot()))).toBe(true);
    expect(restored.usedMemory()).toBe(full.usedMemory());
  });

  it("the parent's image does not depend on what given-up keys a replica still holds", async () => {
    const setup: KvEntry[] = [];
    for (let i = 0; i < 3000; i++)
      setup.push({ ts: T0, ops: [{ type: 'set', key: b(`k${i}`), value: b(`v${i}`), ...(i % 5 === 0 ? { pxat: T0 + 60_000 } : {}) }] });
    setup.push({ ts: T0, ops: [{ type: 'split', atSlot: SPLIT_AT, group: 2 }] });
    const replayed = applyAll(new KvStore(), setup);
    replayed.takeSplitImage(2)?.cancel();
    const image0 = await collect(replayed.beginSnapshot());
    expect(image0[4]).toBe(6);
    // One restored right after the split never held the given-up keys.
    const restored = new KvStore();
    await restored.restore(image0);
    expect(replayed.unownedKeys).toBeGreaterThan(1000);
    expect(restored.unownedKeys).toBe(0);
    expect(restored.cleanupPending).toBe(replayed.cleanupPending);
    expect(replayed.cleanupPending).toBe(3000);
    let index = setup.length;
    let steps = 0;
    while (replayed.cleanupPending > 0) {
      const step = encodeEntry({ ts: T0, ops: [{ type: 'dropUnowned', limit: 400 }] });
      index++;
      replayed.apply(decodeEntry(step), index);
      restored.apply(decodeEntry(step), index);
      steps++;
      // At every index, the same image, whatever each still holds.
      expect((await collect(replayed.beginSnapshot())).equals(await collect(restored.beginSnapshot()))).toBe(true);
    }
    expect(steps).toBe(Math.ceil(3000 / 400));
    expect(replayed.unownedKeys).toBe(0);
    expect(replayed.usedMemory()).toBe(restored.usedMemory());
    expect(replayed.size).toBe(restored.size);
  });

  it('the new group restored from its image serves the given-up keys and refuses the rest', async () => {
    const h = new Harness();
    h.exec([{ type: 'config', pairs: [[b('requirepass'), b('pw')]] }]);
    for (let i = 0; i < 500; i++) h.set(`k${i}`, `v${i}`, i % 4 === 0 ? { pxat: h.ts + 60_000 + i } : {});
    for (let i = 0; i < 100; i++) h.run({ type: 'del', keys: [b(`k${i * 5}`)] });
    h.exec([
      { type: 'session', key: b('idem'), fingerprint: b('fp'), ttlMs: 600_000 },
      { type: 'incrby', key: b(keyIn(SPLIT_AT + 1)), delta: 5n },
    ]);
    const idemIndex = h.index;
    const before = dump(h.store, h.ts);
    const firstPage = h.store.scan(0, { count: 50 }, h.ts);
    expect(h.run({ type: 'split', atSlot: SPLIT_AT, group: 2 })).toEqual({ split: [2, SPLIT_AT, 16383, h.index] });
    const splitIndex = h.index;
    const child = new KvStore();
    expect(await child.restore(h.store.takeSplitImage(2)!)).toBe(splitIndex);
    expect(child.ownedSlots).toEqual([[SPLIT_AT, 16383]]);
    expect(child.splits).toEqual([]);
    expect(child.highTs).toBe(h.store.highTs);
    expect(child.settings).toEqual({ requirepass: 'pw' });
    const given = before.filter((l) => slotOf(l.slice(0, l.indexOf('='))) >= SPLIT_AT);
    expect(dump(child, h.ts)).toEqual(given);
    expect(dump(h.store, h.ts)).toEqual(before.filter((l) => !given.includes(l)));
    expect(child.dbsize(h.ts)).toBe(given.length);
    expect(child.usedMemory()).toBe(given.reduce((n, l) => n + l.indexOf('=') + (l.indexOf('@') - l.indexOf('=') - 1) + 200, 0));
    // A SCAN begun on the parent goes on over the child's keys: the child keeps their seqs.
    const seen = firstPage.keys.map(String).filter((k) => slotOf(k) >= SPLIT_AT);
    for (let c = firstPage.cursor; ; ) {
      const page = child.scan(c, { count: 7 }, h.ts);
      seen.push(...page.keys.map(String));
      c = page.cursor;
      if (c === 0) break;
    }
    expect(seen.sort()).toEqual(given.map((l) => l.slice(0, l.indexOf('='))).sort());
    // The child applies its own log from the split index on, and answers moved for the parent's.
    let index = splitIndex;
    const mine = given[0].slice(0, given[0].indexOf('='));
    const theirs = keyIn(1, 'x');
    expect(child.apply({ ts: h.ts, ops: [{ type: 'append', key: b(mine), value: b('!') }] }, ++index)[0]).toMatchObject({ type: 'int' });
    expect(child.apply({ ts: h.ts, ops: [{ type: 'set', key: b(theirs), value: b('x') }] }, ++index)).toEqual([{ type: 'moved', slot: 1 }]);
    expect(h.run({ type: 'get', key: b(mine) })).toEqual({ moved: slotOf(mine) });
    // The idempotency record went along: a retry routed to the child replays.
    const retry = child.apply(
      {
        ts: h.ts,
        ops: [
          { type: 'session', key: b('idem'), fingerprint: b('fp'), ttlMs: 600_000 },
          { type: 'incrby', key: b(keyIn(SPLIT_AT + 1)), delta: 5n },
        ],
      },
      ++index,
    );
    expect(retry[0]).toEqual({
      type: 'array',
      value: [
        { type: 'status', value: 'replayed' },
        { type: 'int', value: idemIndex },
      ],
    });
    expect(child.get(b(keyIn(SPLIT_AT + 1)), h.ts)?.toString()).toBe('5');
    // The child splits in turn.
    expect(child.apply({ ts: h.ts, ops: [{ type: 'split', atSlot: 12000, group: 3 }] }, ++index)[0]).toMatchObject({ type: 'split', slots: [12000, 16383] });
  });

  it('writes, deletes and cleanup on the parent while the child image streams do not leak into it', async () => {
    const h = new Harness();
    const N = 40_000;
    const value = (i: number) => `v${i}`.padEnd(200, '.');
    for (let i = 0; i < N; i++) h.set(`k${i}`, value(i));
    h.run({ type: 'split', atSlot: 8192, group: 2 });
    const image = h.store.takeSplitImage(2)!;
    // The parent's own snapshot runs at the same time: neither cancels the other.
    const own = h.store.beginSnapshot(64 * 1024);
    const expectedChild: string[] = [];
    for (let i = 0; i < N; i++) if (slotOf(`k${i}`) >= 8192) expectedChild.push(`k${i}=${value(i)}`);
    const r = rng(9);
    const chunks: Buffer[] = [];
    const ownChunks: Buffer[] = [];
    const ownIt = own[Symbol.asyncIterator]();
    let n = 0;
    for await (const chunk of image) {
      chunks.push(Buffer.from(chunk));
      const next = await ownIt.next();
      if (!next.done) ownChunks.push(Buffer.from(next.value));
      // Between chunks: overwrite and delete owned keys, create new ones, drop given-up keys.
      for (let j = 0; j < 20; j++) {
        const i = Math.floor(r() * N);
        if (slotOf(`k${i}`) < 8192) h.set(`k${i}`, 'CHANGED');
        h.set(keyIn(Math.floor(r() * 8192), `new${n++}`), 'NEW');
      }
      // Faster than the image is written, so cleanup overtakes it: what it drops, the image keeps.
      h.run({ type: 'dropUnowned', limit: MAX_DROP_EXAMINED });
    }
    for (let next = await ownIt.next(); !next.done; next = await ownIt.next()) ownChunks.push(Buffer.from(next.value));
    expect(chunks.length).toBeGreaterThan(10);
    expect(h.store.unownedKeys).toBe(0);
    const child = new KvStore();
    await child.restore(Buffer.concat(chunks));
    expect(
      child
        .keys(b('*'), h.ts)
        .map((k) => `${k}=${child.get(k, h.ts)}`)
        .sort(),
    ).toEqual(expectedChild.sort());
    expect(own.done).toBe(true);
    const parent = new KvStore();
    await parent.restore(Buffer.concat(ownChunks));
    expect(parent.dbsize(h.ts)).toBe(N - expectedChild.length);
    expect(parent.keys(b('*'), 0).filter((k) => parent.get(k, 0)!.toString() !== value(Number(k.toString().slice(1)))).length).toBe(0);
    expect(parent.keys(b('*'), 0).every((k) => slotOf(k.toString()) < 8192 && child.get(k, 0) === null)).toBe(true);
  });

  it('beginSnapshot with slots writes an image of owned slots only', async () => {
    const h = new Harness();
    for (let i = 0; i < 300; i++) h.set(`k${i}`, `v${i}`);
    const part = new KvStore();
    await part.restore(
      await collect(
        h.store.beginSnapshot(undefined, false, [
          [0, 99],
          [200, 16383],
        ]),
      ),
    );
    expect(part.ownedSlots).toEqual([
      [0, 99],
      [200, 16383],
    ]);
    expect(dump(part)).toEqual(dump(h.store).filter((l) => !(slotOf(l.slice(0, l.indexOf('='))) >= 100 && slotOf(l.slice(0, l.indexOf('='))) < 200)));
    h.run({ type: 'split', atSlot: 9000, group: 2 });
    expect(() => h.store.beginSnapshot(undefined, false, [[8000, 9000]])).toThrow(/slot 9000 is not owned/);
  });
});

describe('FORMAT 6', () => {
  async function splitImage(): Promise<{ parent: Buffer; child: Buffer; h: Harness }> {
    const h = new Harness();
    for (let i = 0; i < 50; i++) h.set(`k${i}`, `v${i}`);
    h.run({ type: 'split', atSlot: SPLIT_AT, group: 77 });
    const child = await collect(h.store.takeSplitImage(77)!);
    return { parent: await collect(h.store.beginSnapshot()), child, h };
  }

  it('carries the owned slots and the splits: a restored parent refuses a second split to the same group', async () => {
    const { parent, h } = await splitImage();
    const copy = new KvStore();
    await copy.restore(parent);
    expect(copy.ownedSlots).toEqual([[0, SPLIT_AT - 1]]);
    expect(copy.splits).toEqual(h.store.splits);
    expect((await collect(copy.beginSnapshot())).equals(parent)).toBe(true);
    expect(copy.apply({ ts: h.ts, ops: [{ type: 'split', atSlot: 10, group: 77 }] }, h.index + 1)).toEqual([{ type: 'error', message: SPLIT_ERR.groupUsed }]);
    // A store owning every slot still writes the older formats (here 3, for its highTs).
    const full = new Harness();
    full.set('a', '1');
    expect((await collect(full.store.beginSnapshot()))[4]).toBe(3);
  });

  it('refuses images whose owned slots or splits are not what a store writes, and keys outside them', async () => {
    const { child } = await splitImage();
    // Header: magic, format 6, index, count, nbuckets(0), nsettings(0), highTs(6 bytes), nextSeq,
    // then nranges(1) start(2 bytes) end(2 bytes) nsplits(0).
    const at = child.indexOf(Buffer.from([1, 0xf0, 0x2e, 0xff, 0x7f, 0]));
    expect(at).toBeGreaterThan(10);
    const edit = (bytes: number[], len = 6) => fixCrc(Buffer.concat([child.subarray(0, at), Buffer.from(bytes), child.subarray(at + len)]));
    const bad = [
      edit([0, 0]), // no ranges
      edit([1, 0xff, 0x7f, 0xf0, 0x2e, 0]), // start > end
      edit([1, 0xf0, 0x2e, 0x80, 0x80, 0x01, 0]), // end beyond 16383
      edit([2, 0xf0, 0x2e, 0xd7, 0x36, 0xd8, 0x36, 0xff, 0x7f, 0]), // [6000, 6999] [7000, 16383]: not canonical
      edit([2, 0xf0, 0x2e, 0xd8, 0x36, 0xd7, 0x36, 0xff, 0x7f, 0]), // overlapping
      edit([2, 0xf0, 0x2e, 0xff, 0x7f, 0x00, 0x05, 0]), // out of order
      edit([1, 0xf0, 0x2e, 0xff, 0x7f, 1, 0x80, 0x80, 0x80, 0x01, 5, 0, 1]), // split index beyond the image's
      edit([1, 0xf0, 0x2e, 0xff, 0x7f, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 1]), // group beyond uint32
      edit([1, 0xf0, 0x2e, 0xff, 0x7f, 2, 1, 5, 0, 1, 2, 5, 0, 1]), // the same group twice
      edit([1, 0xf0, 0x2e, 0xff, 0x7f, 0x80, 0x80, 0x04]), // a corrupt split count
    ];
    // The cleanup walk after the split records (here none pending: 0 0).
    expect([...child.subarray(at + 6, at + 8)]).toEqual([0, 0]);
    const walk = (bytes: number[]) => edit([1, 0xf0, 0x2e, 0xff, 0x7f, 0, ...bytes], 8);
    bad.push(walk([3, 4]), walk([0, 1]), walk([0, 0xc8, 0x01]), walk([5, 0]));
    bad.push(edit([1, 0, 0xff, 0x7f, 0, 0, 3], 8)); // a walk while owning every slot
    expect(await new KvStore().restore(walk([0, 3]))).toBeGreaterThan(0);
    for (const image of bad) await expect(new KvStore().restore(image)).rejects.toThrow(SnapshotFormatError);
    // A key of a slot the image does not own.
    const narrow = edit([1, 0x80, 0x7d, 0xff, 0x7f, 0]); // [16000, 16383]
    await expect(new KvStore().restore(narrow)).rejects.toThrow(/outside the owned slots/);
    for (let cut = 0; cut < child.length; cut++) await expect(new KvStore().restore(child.subarray(0, cut))).rejects.toThrow(SnapshotFormatError);
  });
});
