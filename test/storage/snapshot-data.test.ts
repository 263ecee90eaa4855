/**
 * The snapshot's data is not kept in memory: a local snapshot is streamed to disk chunk by chunk,
 * and the data is read back only when asked for. The core's synchronous snapshot() then says
 * "temporarily unavailable" until the read is done, as etcd's contract allows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotTemporarilyUnavailableError } from '../../src/raft/types.ts';
import type { LevelStorage } from '../../src/storage/index.ts';
import { measureLoopStall } from '../support/loop-stall.ts';
import { chunkKeysOf, conf, distinctive, ent, openStore, removeTmpDirs, reopen, sameBytes, tmpDir } from './helpers.ts';

const stores: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await removeTmpDirs();
});

/**
 * `data` in pieces of varying sizes, all through one buffer that is overwritten for the next
 * piece as the state machine's snapshot writer does (beginSnapshot with reuseChunks).
 */
async function* refilling(data: Uint8Array, sizes: number[], fail?: Error): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(Math.max(...sizes));
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length], data.length - off);
    buf.set(data.subarray(off, off + n));
    off += n;
    if (fail && off > data.length / 2) throw fail;
    yield buf.subarray(0, n);
    await new Promise((r) => setImmediate(r));
  }
}

async function storeAt(index: number, opts: Parameters<typeof openStore>[1] = {}): Promise<LevelStorage> {
  const s = await openStore(await tmpDir(), opts);
  stores.push(s);
  const entries = Array.from({ length: index + 5 }, (_, i) => ent(i + 1, 1));
  await s.save({ entries, hardState: { term: 1, vote: '', commit: index + 5 } });
  return s;
}

/** Calls snapshot() as the core does, each loop turn, until the data has been read back. */
async function snapshotWhenReady(s: LevelStorage) {
  for (let turns = 0; turns < 10_000; turns++) {
    try {
      return { snap: s.snapshot(), turns };
    } catch (err) {
      if (!(err instanceof SnapshotTemporarilyUnavailableError)) throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
  throw new Error('the snapshot never became available');
}

describe('streamed snapshots', () => {
  it('re-cuts a stream of odd-sized chunks from one refilled buffer into stored chunks, byte for byte', async () => {
    const s = await storeAt(10, { chunkSize: 1000 });
    const data = distinctive(10_500, 10);
    const info = await s.createSnapshot(10, conf, refilling(data, [1, 999, 1700, 64, 3000]));
    expect(info).toEqual({ meta: { index: 10, term: 1, conf }, bytes: 10_500 });
    expect(sameBytes((await s.loadSnapshot()).data, data)).toBe(true);
    const again = await reopen(s, { chunkSize: 1000 });
    stores[0] = again;
    expect(sameBytes(again.snapshot().data, data)).toBe(true);
    await again.close();
    expect((await chunkKeysOf(again.dir)).map((p) => `${p?.snapIndex}/${p?.n}`)).toEqual(Array.from({ length: 11 }, (_, n) => `10/${n}`));
  });

  it('a stream that fails midway leaves the previous snapshot and no chunks of its own', async () => {
    const s = await storeAt(10, { chunkSize: 1000 });
    await s.createSnapshot(4, conf, distinctive(2500, 4));
    const broken = new Error('state machine went away');
    await expect(s.createSnapshot(10, conf, refilling(distinctive(20_000, 10), [700], broken))).rejects.toBe(broken);
    expect(s.snapshotMeta().index).toBe(4);
    expect(sameBytes((await s.loadSnapshot()).data, distinctive(2500, 4))).toBe(true);
    await s.close();
    expect((await chunkKeysOf(s.dir)).every((p) => p?.snapIndex === 4)).toBe(true);
  });

  it('streaming a 20 MB snapshot in 64 KiB pieces never holds the event loop for 50 ms', async () => {
    const s = await storeAt(1);
    const data = distinctive(20 * 1024 * 1024, 3);
    const stall = await measureLoopStall(() => s.createSnapshot(1, conf, refilling(data, [64 * 1024])));
    console.info(`streaming a 20 MB snapshot: longest loop slice ${stall.longestSliceMs.toFixed(1)} ms`);
    expect(stall.longestSliceMs).toBeLessThan(50);
    expect(sameBytes((await s.loadSnapshot()).data, data)).toBe(true);
  }, 60_000);
});

describe('snapshot data on demand', () => {
  it('snapshot() is temporarily unavailable after a local snapshot, then serves the data read back', async () => {
    const s = await storeAt(10, { chunkSize: 1000 });
    const data = distinctive(5000, 10);
    await s.createSnapshot(10, conf, data);
    expect(() => s.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
    const { snap, turns } = await snapshotWhenReady(s);
    expect(turns).toBeGreaterThan(0);
    expect(snap.meta).toEqual({ index: 10, term: 1, conf });
    expect(sameBytes(snap.data, data)).toBe(true);
    // Retries while a transfer runs get the same image, not another read.
    expect(s.snapshot()).toBe(snap);
  });

  it('a newer snapshot, local or received, drops the image in memory', async () => {
    const s = await storeAt(10);
    await s.createSnapshot(5, conf, distinctive(3000, 5));
    await snapshotWhenReady(s);
    await s.createSnapshot(10, conf, distinctive(3000, 10));
    expect(() => s.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
    expect(sameBytes((await snapshotWhenReady(s)).snap.data, distinctive(3000, 10))).toBe(true);

    const received = distinctive(4000, 40);
    const saving = s.save({ snapshot: { meta: { index: 40, term: 2, conf }, data: received } });
    // Asked before the received chunks are durable: the read waits for them.
    expect(() => s.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
    await saving;
    const { snap } = await snapshotWhenReady(s);
    expect(snap.meta.index).toBe(40);
    expect(sameBytes(snap.data, received)).toBe(true);
  });

  it('the image read back is dropped once nobody has asked for it for the linger time', async () => {
    const s = await storeAt(10, { snapshotLingerMs: 40 });
    await s.createSnapshot(10, conf, distinctive(3000, 10));
    await snapshotWhenReady(s);
    await new Promise((r) => setTimeout(r, 20));
    expect(() => s.snapshot()).not.toThrow(); // a use keeps it for another 40 ms
    await new Promise((r) => setTimeout(r, 150));
    expect(() => s.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
  });

  it('the data read at open is served at once and dropped after the linger time', async () => {
    const s = await storeAt(10);
    await s.createSnapshot(10, conf, distinctive(3000, 10));
    await s.close();
    const again = await openStore(s.dir, { snapshotLingerMs: 40 });
    stores.push(again);
    expect(sameBytes(again.snapshot().data, distinctive(3000, 10))).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(() => again.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
    expect(sameBytes((await again.loadSnapshot()).data, distinctive(3000, 10))).toBe(true);
  });

  it('a backup stream reads the snapshot it opened to the end, though a newer one replaced it meanwhile', async () => {
    const s = await storeAt(10, { chunkSize: 1000 });
    const data = distinctive(10_500, 10);
    await s.createSnapshot(10, conf, data);
    const stream = await s.streamSnapshot();
    expect(stream?.meta).toEqual({ index: 10, term: 1, conf });
    expect(stream?.bytes).toBe(data.length);
    const it = stream!.chunks[Symbol.asyncIterator]();
    const first = await it.next();
    // The newer snapshot's switch batch deletes every chunk of the one being streamed.
    await s.createSnapshot(12, conf, distinctive(3000, 12));
    const parts = [Buffer.from(first.value as Uint8Array)];
    for (let r = await it.next(); !r.done; r = await it.next()) parts.push(Buffer.from(r.value));
    expect(sameBytes(Buffer.concat(parts), data)).toBe(true);
    expect((await s.streamSnapshot())?.meta.index).toBe(12);
    await s.close();
    expect((await chunkKeysOf(s.dir)).every((k) => k?.snapIndex === 12)).toBe(true);
  });
});
