/**
 * Everything saved comes back after close and open: entries, hard state, the compaction point,
 * and snapshots of tens of megabytes stored in chunks. Snapshot writes that never finished leave
 * nothing behind but orphan chunks, which the next open removes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Entry, EntryType } from '../../src/raft/types.ts';
import { type LevelStorage, SnapshotOutOfDateError, StorageClosedError } from '../../src/storage/index.ts';
import { chunkKey, encodeChunk } from '../../src/storage/records.ts';
import { measureLoopStall } from '../support/loop-stall.ts';
import { chunkKeysOf, conf, distinctive, ent, openStore, removeTmpDirs, reopen, sameBytes, tmpDir, withRawDb } from './helpers.ts';

const stores: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await removeTmpDirs();
});

describe('reopen round trip', () => {
  it('keeps entries of every kind, the hard state, a 50 MB snapshot in 1 MiB chunks and the compaction point', async () => {
    const dir = await tmpDir();
    let s = await openStore(dir);
    stores.push(s);
    const entries: Entry[] = Array.from({ length: 300 }, (_, i) => ({
      index: i + 1,
      term: 1 + Math.floor(i / 100),
      type: i % 50 === 0 ? EntryType.ConfChange : EntryType.Normal,
      data: distinctive(i % 7 === 0 ? 0 : 1 + (i % 300), i + 1),
    }));
    await s.save({ entries, hardState: { term: 3, vote: 'n3', commit: 250 } });

    const data = distinctive(50 * 1024 * 1024 + 12345, 42);
    const t0 = performance.now();
    await s.createSnapshot(200, { voters: ['n1', 'n2', 'n3'], learners: ['n4'] }, data);
    const writeMs = performance.now() - t0;
    await s.compact(150);

    const t1 = performance.now();
    s = await reopen(s); // checks that every observable detail came back
    const readMs = performance.now() - t1;
    stores[0] = s;
    expect(sameBytes(s.snapshot().data, data)).toBe(true);
    expect(s.snapshot().meta).toEqual({ index: 200, term: 2, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } });
    expect([s.firstIndex(), s.lastIndex(), s.term(150)]).toEqual([151, 300, 2]);
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 'n3', commit: 250 });
    await s.close();
    const chunks = await chunkKeysOf(dir);
    expect(chunks).toHaveLength(51);
    expect(chunks.every((p) => p?.snapIndex === 200)).toBe(true);
    console.info(`50 MB snapshot: createSnapshot ${writeMs.toFixed(0)} ms, reopen with verification ${readMs.toFixed(0)} ms`);
  }, 120_000);

  it('writing a 20 MB snapshot never holds the event loop for 50 ms (heartbeats keep flowing)', async () => {
    const s = await openStore(await tmpDir());
    stores.push(s);
    await s.save({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: { term: 1, vote: '', commit: 3 } });
    const data = distinctive(20 * 1024 * 1024, 3);
    // Loop-thread CPU between timer turns, not wall clock: other processes on this 2-core
    // machine must not decide the result (test/support/loop-stall.ts).
    const stall = await measureLoopStall(() => s.createSnapshot(1, conf, data));
    console.info(
      `writing a 20 MB snapshot: longest loop slice ${stall.longestSliceMs.toFixed(1)} ms (monitorEventLoopDelay max ${stall.delayMaxMs.toFixed(1)} ms)`,
    );
    expect(stall.longestSliceMs).toBeLessThan(50);
  }, 60_000);

  it('a received snapshot, then a newer local one, leaves only the newest chunks on disk', async () => {
    const dir = await tmpDir();
    let s = await openStore(dir, { chunkSize: 1000 });
    stores.push(s);
    const received = distinctive(4500, 1);
    await s.save({ snapshot: { meta: { index: 10, term: 2, conf }, data: received }, entries: [ent(11, 2), ent(12, 3)] });
    await s.save({ hardState: { term: 3, vote: '', commit: 12 } });
    s = await reopen(s, { chunkSize: 1000 });
    stores[0] = s;
    expect(sameBytes(s.snapshot().data, received)).toBe(true);

    // A different chunk size later is fine: each snapshot records its own.
    await s.close();
    s = await openStore(dir, { chunkSize: 700 });
    stores[0] = s;
    await s.createSnapshot(12, conf, distinctive(2000, 2));
    await s.close();
    expect((await chunkKeysOf(dir)).map((p) => `${p?.snapIndex}/${p?.n}`)).toEqual(['12/0', '12/1', '12/2']);
    s = await openStore(dir);
    stores[0] = s;
    expect(sameBytes(s.snapshot().data, distinctive(2000, 2))).toBe(true);
  });

  it('an empty snapshot has no chunks and reads back empty', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir);
    stores.push(s);
    await s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    await s.createSnapshot(1, conf, new Uint8Array(0));
    stores[0] = await reopen(s);
    expect(stores[0].snapshot().data.byteLength).toBe(0);
  });
});

describe('unfinished snapshots', () => {
  it('close() during createSnapshot stops it; the old snapshot stays and its orphans are removed on open', async () => {
    const dir = await tmpDir();
    let s = await openStore(dir, { chunkSize: 64 * 1024 });
    stores.push(s);
    const entries = Array.from({ length: 20 }, (_, i) => ent(i + 1, 1));
    await s.save({ entries, hardState: { term: 1, vote: '', commit: 20 } });
    await s.createSnapshot(5, conf, distinctive(1000, 5));
    const pending = s.createSnapshot(15, conf, distinctive(8 * 1024 * 1024, 15));
    const b0 = s.stats().batches;
    while (s.stats().batches < b0 + 3) await new Promise((r) => setImmediate(r)); // some chunks are durable
    await s.close();
    await expect(pending).rejects.toThrow(StorageClosedError);
    const leftOver = (await chunkKeysOf(dir)).filter((p) => p?.snapIndex === 15).length;
    expect(leftOver).toBeGreaterThan(0);

    s = await openStore(dir);
    stores[0] = s;
    expect(s.snapshot().meta.index).toBe(5);
    expect(sameBytes(s.snapshot().data, distinctive(1000, 5))).toBe(true);
    await s.close();
    expect((await chunkKeysOf(dir)).every((p) => p?.snapIndex === 5)).toBe(true);
  });

  it('stray chunks written by a crashed process are removed on open', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir);
    await s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    await s.close();
    await withRawDb(dir, async (db) => {
      const key = chunkKey(1, 0);
      await db.put(key, encodeChunk(key, new Uint8Array([1, 2, 3])));
    });
    stores.push(await openStore(dir));
    expect(stores[0].snapshot().meta.index).toBe(0);
    await stores[0].close();
    expect(await chunkKeysOf(dir)).toEqual([]);
  });

  it('a local snapshot overtaken by a received one while its chunks were written is dropped with its chunks', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir, { chunkSize: 64 * 1024 });
    stores.push(s);
    await s.save({ entries: Array.from({ length: 10 }, (_, i) => ent(i + 1, 1)), hardState: { term: 1, vote: '', commit: 10 } });
    const local = s.createSnapshot(8, conf, distinctive(4 * 1024 * 1024, 8));
    await s.save({ snapshot: { meta: { index: 30, term: 2, conf }, data: new Uint8Array([30]) } });
    await expect(local).rejects.toThrow(SnapshotOutOfDateError);
    expect(s.snapshotMeta().index).toBe(30);
    stores[0] = await reopen(s);
    await stores[0].close();
    expect((await chunkKeysOf(dir)).map((p) => p?.snapIndex)).toEqual([30]);
  });
});
