/** Snapshot/restore: fidelity, consistency under concurrent writes, and corrupt input. */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { RestoreInProgressError, SnapshotAbortedError, SnapshotFormatError } from '../../src/kv/errors.ts';
import { snapshotImageProblem } from '../../src/kv/snapshot-format.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness, rng } from './harness.ts';

/** Every key with value, expiry and version, read at `now` = 0 so nothing counts as expired. */
function dump(store: KvStore): string[] {
  return store
    .keys(b('*'), 0)
    .map((k) => `${k.toString('latin1')}=${store.get(k, 0)!.toString('latin1')}@${store.expireTime(k, 0)}#${store.version(k, 0)}`)
    .sort();
}

function populated(n = 200): Harness {
  const h = new Harness();
  for (let i = 0; i < n; i++) h.set(`key${i}`, `value${i}\x00\xff`, i % 3 === 0 ? { pxat: h.ts + 1000 + i } : {});
  h.run({ type: 'del', keys: [b('key1'), b('key2')] });
  return h;
}

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('snapshot round trip', () => {
  it('restores keys, values, expiries, versions and memory accounting; LRU in creation order', async () => {
    const h = populated();
    h.store.get(b('key10'), h.ts, { touch: true });
    const writer = h.store.beginSnapshot();
    expect(writer.index).toBe(h.index);
    const data = await collect(writer);
    const copy = new KvStore();
    expect(await copy.restore(data)).toBe(h.index);
    expect(copy.appliedIndex).toBe(h.index);
    expect(dump(copy)).toEqual(dump(h.store));
    expect(copy.usedMemory()).toBe(h.store.usedMemory());
    expect(copy.nextExpiry()).toBe(h.store.nextExpiry());
    const lru = (s: KvStore) => s.evictionCandidates(Number.MAX_SAFE_INTEGER, 'allkeys-lru', Math.random, 1000).map((v) => String(v.key));
    const creationOrder = h.store.scan(0, { count: 1000 }, 0).keys.map(String);
    expect(lru(copy)).toEqual(creationOrder);
    expect(lru(h.store).at(-1)).toBe('key10');
    // The restored store snapshots to the same bytes.
    expect((await collect(copy.beginSnapshot())).equals(data)).toBe(true);
  });

  it('with reuseChunks, refills one buffer and still writes the same bytes when each chunk is copied', async () => {
    const h = populated(2000);
    const expected = await collect(h.store.beginSnapshot(1024));
    const copies: Buffer[] = [];
    const backing = new Set<ArrayBuffer>();
    for await (const chunk of h.store.beginSnapshot(1024, true)) {
      copies.push(Buffer.from(chunk));
      backing.add(chunk.buffer as ArrayBuffer);
    }
    expect(copies.length).toBeGreaterThan(20);
    // The header chunk and the refilled one (a pooled small Buffer may share its slab).
    expect(backing.size).toBeLessThanOrEqual(2);
    expect(Buffer.concat(copies).equals(expected)).toBe(true);
  });

  it('restores from chunks of any size, down to single bytes', async () => {
    const h = populated(50);
    const data = await collect(h.store.beginSnapshot());
    for (const size of [1, 7, 100, data.length]) {
      const copy = new KvStore();
      await copy.restore(chunksOf(data, size));
      expect(dump(copy)).toEqual(dump(h.store));
    }
  });

  it('handles values much larger than a chunk', async () => {
    const h = new Harness();
    const big = 'x'.repeat(3 << 20);
    h.set('big', big);
    h.set('small', 'v');
    const writer = h.store.beginSnapshot(64 * 1024);
    const chunks: Uint8Array[] = [];
    for await (const c of writer) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(1);
    const copy = new KvStore();
    await copy.restore(chunksOf(Buffer.concat(chunks), 1000));
    expect(copy.get(b('big'), 0)?.length).toBe(big.length);
    expect(copy.get(b('small'), 0)?.toString()).toBe('v');
  });

  it('an empty store round-trips', async () => {
    const copy = new KvStore();
    await copy.restore(await collect(new KvStore().beginSnapshot()));
    expect(copy.dbsize(0)).toBe(0);
  });
});

describe('snapshot consistency while applies continue', () => {
  it('writes made during the snapshot do not leak into it', async () => {
    const h = populated(2000);
    const expected = dump(h.store);
    const writer = h.store.beginSnapshot(1024);
    const chunks: Uint8Array[] = [];
    let step = 0;
    const r = rng(11);
    for await (const chunk of writer) {
      chunks.push(chunk);
      // Between chunks, on random keys (most not yet written out): overwrite, delete,
      // re-create, append, change expiry, increment, create.
      step++;
      const k = () => b(`key${Math.floor(r() * 2000)}`);
      h.run({ type: 'set', key: k(), value: b('OVERWRITTEN') });
      h.run({ type: 'del', keys: [k()] });
      h.run({ type: 'append', key: k(), value: b('+more') });
      h.run({ type: 'pexpireat', key: k(), at: h.ts + 5 });
      h.run({ type: 'persist', key: k() });
      h.run({ type: 'incrbyfloat', key: k(), incr: '1' });
      h.set(`new${step}`, 'NEW');
      const again = k();
      h.run({ type: 'del', keys: [again] });
      h.run({ type: 'set', key: again, value: b('RECREATED') });
      if (step === 40) h.run({ type: 'flushall' });
    }
    expect(step).toBeGreaterThan(20);
    const copy = new KvStore();
    await copy.restore(Buffer.concat(chunks));
    expect(dump(copy)).toEqual(expected);
    expect(copy.appliedIndex).toBe(writer.index);
  });

  it('rewriting every key at every chunk boundary leaks nothing (boundary keys included)', async () => {
    const h = populated(500);
    const expected = dump(h.store);
    const chunks: Uint8Array[] = [];
    let round = 0;
    for await (const chunk of h.store.beginSnapshot(512)) {
      chunks.push(chunk);
      round++;
      for (let i = 0; i < 500; i++) h.set(`key${i}`, `round${round}`, round % 2 ? { pxat: h.ts + round } : {});
    }
    expect(round).toBeGreaterThan(10);
    const copy = new KvStore();
    await copy.restore(Buffer.concat(chunks));
    expect(dump(copy)).toEqual(expected);
  });

  it('a cancelled or superseded snapshot stops with SnapshotAbortedError', async () => {
    const h = populated(500);
    const first = h.store.beginSnapshot(1024);
    const it = first[Symbol.asyncIterator]();
    await it.next();
    const second = h.store.beginSnapshot(1024);
    await expect(it.next()).rejects.toThrow(SnapshotAbortedError);
    second.cancel();
    await expect(collect(second)).rejects.toThrow(SnapshotAbortedError);
    // The store keeps working and a new snapshot is whole.
    h.set('after', 'v');
    const copy = new KvStore();
    await copy.restore(await collect(h.store.beginSnapshot()));
    expect(dump(copy)).toEqual(dump(h.store));
  });

  it('breaking out of the iteration releases the copy-on-write hook', async () => {
    const h = populated(500);
    for await (const _ of h.store.beginSnapshot(1024)) break;
    h.set('key10', 'changed');
    const copy = new KvStore();
    await copy.restore(await collect(h.store.beginSnapshot()));
    expect(copy.get(b('key10'), 0)?.toString()).toBe('changed');
  });
});

describe('restore of bad input', () => {
  it('rejects corruption, truncation, trailing bytes and garbage, keeping the old state', async () => {
    const h = populated(100);
    const data = await collect(h.store.beginSnapshot());
    const target = new Harness();
    target.set('keep', 'me');
    const attempts: Buffer[] = [
      data.subarray(0, data.length - 1),
      data.subarray(0, 10),
      Buffer.concat([data, Buffer.from([0])]),
      Buffer.from('not a snapshot at all'),
      Buffer.alloc(0),
    ];
    for (const pos of [0, 5, 20, Math.floor(data.length / 2), data.length - 2]) {
      const bad = Buffer.from(data);
      bad[pos] ^= 0x40;
      attempts.push(bad);
    }
    for (const bad of attempts) {
      await expect(target.store.restore(bad)).rejects.toThrow(SnapshotFormatError);
      await expect(target.store.restore(chunksOf(bad, 3))).rejects.toThrow(SnapshotFormatError);
    }
    expect(target.get('keep')).toBe('me');
  });

  it('snapshotImageProblem passes a good image and names what is wrong with a bad one (checked before a peer snapshot reaches the core)', async () => {
    const data = await collect(populated(100).store.beginSnapshot());
    expect(await snapshotImageProblem(data)).toBeUndefined();
    expect(await snapshotImageProblem(await collect(new Harness().store.beginSnapshot()))).toBeUndefined();
    expect(await snapshotImageProblem(Buffer.from('RKV'))).toBe('shorter than a snapshot');
    expect(await snapshotImageProblem(Buffer.from('garbage, not a snapshot'))).toBe('bad magic');
    const format = Buffer.from(data);
    format[4] = 9;
    expect(await snapshotImageProblem(format)).toBe('unknown format 9');
    for (const pos of [5, Math.floor(data.length / 2), data.length - 1]) {
      const bad = Buffer.from(data);
      bad[pos] ^= 0x40;
      expect(await snapshotImageProblem(bad), `byte ${pos}`).toBe('checksum mismatch');
    }
    expect(await snapshotImageProblem(data.subarray(0, data.length - 1))).toBe('checksum mismatch');
  });

  it('refuses apply and a second restore while a restore runs', async () => {
    const h = populated(20_000);
    const data = await collect(h.store.beginSnapshot());
    const target = new Harness();
    const pending = target.store.restore(chunksOf(data, 4096));
    expect(() => target.run({ type: 'get', key: b('x') })).toThrow(RestoreInProgressError);
    await expect(target.store.restore(data)).rejects.toThrow(RestoreInProgressError);
    await pending;
    expect(target.store.dbsize(0)).toBe(h.store.dbsize(0));
  });
});
