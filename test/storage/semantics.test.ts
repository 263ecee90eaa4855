/**
 * LevelStorage against etcd's MemoryStorage tests (raft/storage_test.go), plus the invariants
 * the durable store adds. Every case ends by reopening the store: what was read from memory must
 * be exactly what comes back from disk.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { entrySize } from '../../src/raft/index.ts';
import { CompactedError, type Entry, type Snapshot, UnavailableError } from '../../src/raft/types.ts';
import { InvalidWriteError, type LevelStorage, SnapshotOutOfDateError, StorageClosedError, StorageLockedError } from '../../src/storage/index.ts';
import { conf, ent, ents, observe, openStore, removeTmpDirs, reopen, tmpDir } from './helpers.ts';

const open: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await removeTmpDirs();
});

const snap = (index: number, term: number, data = new Uint8Array(0)): Snapshot => ({ meta: { index, term, conf }, data });

/** etcd's fixture: ents [{3,3},{4,4},{5,5}] — the log was compacted at index 3 (here: by a snapshot). */
async function storeWith(...pairs: Array<[number, number]>): Promise<LevelStorage> {
  const s = await openStore(await tmpDir());
  open.push(s);
  const [[i0, t0], ...rest] = pairs;
  // Index 0 is the empty initial snapshot already in place.
  await s.save(i0 === 0 ? { entries: ents(...rest) } : { snapshot: snap(i0, t0), entries: ents(...rest) });
  return s;
}

async function reopened(s: LevelStorage): Promise<LevelStorage> {
  open.splice(open.indexOf(s), 1);
  const again = await reopen(s);
  open.push(again);
  return again;
}

const pairsOf = (es: Entry[]) => es.map((e) => [e.index, e.term]);

describe('term (TestStorageTerm)', () => {
  it.each([
    [2, CompactedError],
    [3, 3],
    [4, 4],
    [5, 5],
    [6, UnavailableError],
  ] as const)('term(%i)', async (i, want) => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    if (typeof want === 'number') expect(s.term(i)).toBe(want);
    else expect(() => s.term(i)).toThrow(want);
    await reopened(s);
  });
});

describe('entries (TestStorageEntries)', () => {
  const size = (i: number) => entrySize(ent(i, i));
  const max = Number.POSITIVE_INFINITY;
  it.each([
    [2, 6, max, CompactedError],
    [3, 4, max, CompactedError],
    [4, 5, max, [[4, 4]]],
    [
      4,
      6,
      max,
      [
        [4, 4],
        [5, 5],
      ],
    ],
    [
      4,
      7,
      max,
      [
        [4, 4],
        [5, 5],
        [6, 6],
      ],
    ],
    // even if maxBytes is zero, the first entry is returned
    [4, 7, 0, [[4, 4]]],
    // limit to 2
    [
      4,
      7,
      size(4) + size(5),
      [
        [4, 4],
        [5, 5],
      ],
    ],
    [
      4,
      7,
      size(4) + size(5) + size(6) / 2,
      [
        [4, 4],
        [5, 5],
      ],
    ],
    [
      4,
      7,
      size(4) + size(5) + size(6) - 1,
      [
        [4, 4],
        [5, 5],
      ],
    ],
    // all
    [
      4,
      7,
      size(4) + size(5) + size(6),
      [
        [4, 4],
        [5, 5],
        [6, 6],
      ],
    ],
  ] as const)('entries(%i, %i, %d)', async (lo, hi, maxBytes, want) => {
    const s = await storeWith([3, 3], [4, 4], [5, 5], [6, 6]);
    if (Array.isArray(want)) expect(pairsOf(s.entries(lo, hi, maxBytes))).toEqual(want);
    else expect(() => s.entries(lo, hi, maxBytes)).toThrow(want as typeof CompactedError);
    await reopened(s);
  });

  it('refuses ranges past the last index, and an empty log', async () => {
    const s = await storeWith([3, 3], [4, 4]);
    expect(() => s.entries(4, 6, 100)).toThrow(UnavailableError);
    const empty = await storeWith([3, 3]);
    expect(() => empty.entries(4, 4, 100)).toThrow(UnavailableError);
  });
});

describe('first and last index', () => {
  it('lastIndex (TestStorageLastIndex)', async () => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    expect(s.lastIndex()).toBe(5);
    await s.save({ entries: ents([6, 5]) });
    expect(s.lastIndex()).toBe(6);
    await reopened(s);
  });

  it('firstIndex (TestStorageFirstIndex)', async () => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    expect(s.firstIndex()).toBe(4);
    await s.save({ hardState: { term: 5, vote: '', commit: 5 } });
    await s.createSnapshot(4, conf, new Uint8Array([1]));
    await s.compact(4);
    expect(s.firstIndex()).toBe(5);
    expect(s.term(4)).toBe(4); // the compaction point keeps its term
    const again = await reopened(s);
    expect(again.firstIndex()).toBe(5);
  });

  it('a new store is empty, with an empty snapshot at index 0', async () => {
    const s = await openStore(await tmpDir());
    open.push(s);
    expect([s.firstIndex(), s.lastIndex(), s.term(0)]).toEqual([1, 0, 0]);
    expect(s.snapshot().meta).toEqual({ index: 0, term: 0, conf: { voters: [], learners: [] } });
    expect(s.initialState().hardState).toEqual({ term: 0, vote: '', commit: 0 });
    await reopened(s);
  });
});

describe('compact (TestStorageCompact)', () => {
  it.each([
    [2, CompactedError, 3, 3, 3],
    [3, CompactedError, 3, 3, 3],
    [4, undefined, 4, 4, 2],
    [5, undefined, 5, 5, 1],
  ] as const)('compact(%i)', async (i, err, wIndex, wTerm, wLen) => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    await s.save({ hardState: { term: 5, vote: '', commit: 5 } });
    await s.createSnapshot(5, conf, new Uint8Array(0));
    if (err) await expect(s.compact(i)).rejects.toThrow(err);
    else await s.compact(i);
    // etcd's ms.ents[0] is the compaction point; its length counts that dummy entry.
    expect([s.firstIndex() - 1, s.term(s.firstIndex() - 1), s.lastIndex() - s.firstIndex() + 2]).toEqual([wIndex, wTerm, wLen]);
    await reopened(s);
  });

  it('never past the snapshot, so the tail kept for slow followers stays', async () => {
    const s = await storeWith([3, 3], [4, 4], [5, 5], [6, 6]);
    await s.save({ hardState: { term: 6, vote: '', commit: 6 } });
    await s.createSnapshot(5, conf, new Uint8Array([5]));
    await expect(s.compact(6)).rejects.toThrow(InvalidWriteError);
    await s.compact(4);
    expect([s.firstIndex(), s.lastIndex(), s.snapshotMeta().index]).toEqual([5, 6, 5]);
    expect(pairsOf(s.entries(5, 7, 1000))).toEqual([
      [5, 5],
      [6, 6],
    ]);
    await reopened(s);
  });
});

describe('createSnapshot (TestStorageCreateSnapshot)', () => {
  it.each([4, 5])('at index %i', async (i) => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    await s.save({ hardState: { term: 5, vote: '', commit: 5 } });
    const data = new TextEncoder().encode('data');
    const got = await s.createSnapshot(i, conf, data);
    expect(got).toEqual({ meta: { index: i, term: i, conf }, bytes: 4 });
    expect(s.snapshotMeta()).toEqual(got.meta);
    expect(await s.loadSnapshot()).toEqual({ meta: got.meta, data });
    expect(s.initialState().confState).toEqual(conf);
    await reopened(s);
  });

  it('at index 0 on a new store, which is how the runtime bootstraps a cluster configuration', async () => {
    const s = await openStore(await tmpDir());
    open.push(s);
    const boot = await s.createSnapshot(0, conf, new Uint8Array([9]));
    expect(boot.meta).toEqual({ index: 0, term: 0, conf });
    await expect(s.createSnapshot(0, conf, new Uint8Array([9]))).rejects.toThrow(SnapshotOutOfDateError);
    const again = await reopened(s);
    expect(again.initialState().confState).toEqual(conf);
    expect([again.firstIndex(), again.lastIndex()]).toEqual([1, 0]);
    await again.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: 'n1', commit: 1 } });
    await again.createSnapshot(1, conf, new Uint8Array([1]));
    await reopened(again);
  });

  it('refuses an old index, an index past the log, and an uncommitted index', async () => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    await s.save({ hardState: { term: 5, vote: '', commit: 4 } });
    await expect(s.createSnapshot(3, conf, new Uint8Array())).rejects.toThrow(SnapshotOutOfDateError);
    await expect(s.createSnapshot(6, conf, new Uint8Array())).rejects.toThrow(InvalidWriteError);
    await expect(s.createSnapshot(5, conf, new Uint8Array())).rejects.toThrow(/only 4 is committed/);
    expect(s.snapshotMeta().index).toBe(3);
    await reopened(s);
  });
});

describe('append (TestStorageAppend)', () => {
  it.each([
    [
      'older entries are ignored',
      [
        [1, 1],
        [2, 2],
      ],
      [
        [3, 3],
        [4, 4],
        [5, 5],
      ],
    ],
    [
      'identical entries',
      [
        [3, 3],
        [4, 4],
        [5, 5],
      ],
      [
        [3, 3],
        [4, 4],
        [5, 5],
      ],
    ],
    [
      'conflicting entries replace',
      [
        [3, 3],
        [4, 6],
        [5, 6],
      ],
      [
        [3, 3],
        [4, 6],
        [5, 6],
      ],
    ],
    [
      'longer',
      [
        [3, 3],
        [4, 4],
        [5, 5],
        [6, 5],
      ],
      [
        [3, 3],
        [4, 4],
        [5, 5],
        [6, 5],
      ],
    ],
    [
      'incoming below the first index are dropped',
      [
        [2, 3],
        [3, 3],
        [4, 5],
      ],
      [
        [3, 3],
        [4, 5],
      ],
    ],
    [
      'truncate the existing entries and append',
      [[4, 5]],
      [
        [3, 3],
        [4, 5],
      ],
    ],
    [
      'direct append',
      [[6, 5]],
      [
        [3, 3],
        [4, 4],
        [5, 5],
        [6, 5],
      ],
    ],
  ] as Array<[string, Array<[number, number]>, Array<[number, number]>]>)('%s', async (_, incoming, want) => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    await s.save({ entries: ents(...incoming) });
    const got = [[s.firstIndex() - 1, s.term(s.firstIndex() - 1)], ...pairsOf(s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity))];
    expect(got).toEqual(want);
    await reopened(s);
  });

  it('truncating a long suffix deletes it on disk too', async () => {
    const s = await storeWith([0, 0]);
    await s.save({ entries: Array.from({ length: 100 }, (_, i) => ent(i + 1, 1, new Uint8Array([i]))) });
    await s.save({ entries: [ent(40, 2, new Uint8Array([0xee]))] });
    expect([s.lastIndex(), s.term(40), s.term(39)]).toEqual([40, 2, 1]);
    const again = await reopened(s);
    await again.save({ entries: [ent(41, 2)] });
    expect(again.stats().entries).toBe(41);
  });
});

describe('received snapshots (TestStorageApplySnapshot)', () => {
  it('applies a newer snapshot and refuses an older one', async () => {
    const s = await openStore(await tmpDir());
    open.push(s);
    await s.save({ snapshot: snap(4, 4, new Uint8Array([4])) });
    expect([s.firstIndex(), s.lastIndex(), s.initialState().hardState.commit]).toEqual([5, 4, 4]);
    await expect(s.save({ snapshot: snap(3, 3) })).rejects.toThrow(SnapshotOutOfDateError);
    await reopened(s);
  });

  it('keeps the entries after a snapshot that matches the log (Raft paper, section 7)', async () => {
    const s = await storeWith([0, 0], [1, 1], [2, 1], [3, 2], [4, 2]);
    await s.save({ snapshot: snap(2, 1, new Uint8Array([2])) });
    expect([s.firstIndex(), s.lastIndex(), s.term(2), s.term(4)]).toEqual([3, 4, 1, 2]);
    await reopened(s);
  });

  it('replaces a log that conflicts with it, atomically with the entries and hard state after it', async () => {
    const s = await storeWith([0, 0], [1, 1], [2, 1], [3, 1], [4, 1]);
    await s.save({
      snapshot: snap(3, 2, new Uint8Array([3])),
      entries: ents([4, 3], [5, 3]),
      hardState: { term: 3, vote: 'n2', commit: 3 },
    });
    expect([s.firstIndex(), s.lastIndex(), s.term(3), s.term(4)]).toEqual([4, 5, 2, 3]);
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 'n2', commit: 3 });
    await reopened(s);
  });
});

describe('writes that would break the log are refused and change nothing', () => {
  it.each([
    ['a gap', { entries: ents([7, 5]) }, /log ends at index 5/],
    ['non-contiguous entries', { entries: ents([6, 5], [8, 5]) }, /not contiguous/],
    ['a decreasing term', { entries: ents([6, 4]) }, /below the previous entry's term/],
    ['commit past the log', { hardState: { term: 5, vote: '', commit: 6 } }, /beyond the last index/],
    ['commit below the snapshot', { hardState: { term: 5, vote: '', commit: 2 } }, /below the snapshot index/],
    ['an unknown entry type', { entries: [{ ...ent(6, 5), type: 9 as 0 }] }, /unknown type/],
    ['an index that is not an integer', { entries: [ent(6.5, 5)] }, /not a non-negative integer/],
  ] as const)('%s', async (_, req, msg) => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    const before = await observe(s);
    await expect(s.save(req as Parameters<LevelStorage['save']>[0])).rejects.toThrow(msg);
    await expect(s.save(req as Parameters<LevelStorage['save']>[0])).rejects.toThrow(InvalidWriteError);
    expect(await observe(s)).toEqual(before);
    await reopened(s);
  });

  it('truncating committed entries', async () => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    await s.save({ hardState: { term: 5, vote: '', commit: 5 } });
    await expect(s.save({ entries: ents([4, 6]) })).rejects.toThrow(/would drop committed entries/);
    expect(s.lastIndex()).toBe(5);
    await reopened(s);
  });
});

describe('lifecycle', () => {
  it('a second open of the same directory is refused while the first holds it', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir);
    open.push(s);
    await expect(openStore(dir)).rejects.toThrow(StorageLockedError);
  });

  it('writes after close fail with StorageClosedError', async () => {
    const s = await openStore(await tmpDir());
    await s.save({ entries: ents([1, 1]) });
    await s.close();
    await expect(s.save({ entries: ents([2, 1]) })).rejects.toThrow(StorageClosedError);
    await expect(s.compact(1)).rejects.toThrow(StorageClosedError);
    await expect(s.createSnapshot(1, conf, new Uint8Array())).rejects.toThrow(StorageClosedError);
  });

  it('stats describe the retained log', async () => {
    const s = await storeWith([3, 3], [4, 4], [5, 5]);
    const fsyncs: number[] = [];
    s.onFsync = (ms) => fsyncs.push(ms);
    await s.save({ entries: [ent(6, 5, new Uint8Array(10))] });
    const st = s.stats();
    expect(st).toMatchObject({ firstIndex: 4, lastIndex: 6, entries: 3, snapshotIndex: 3 });
    expect(st.bytes).toBe(entrySize(ent(4, 4)) + entrySize(ent(5, 5)) + entrySize(ent(6, 5, new Uint8Array(10))));
    expect(fsyncs).toHaveLength(1);
    expect(st.lastFsyncMs).toBe(fsyncs[0]);
  });
});

describe('held entries own their bytes', () => {
  it('an entry that is a view into a larger buffer (the Buffer pool, a received frame) is held as an exact-size copy', async () => {
    const s = await openStore(await tmpDir());
    const frame = Buffer.alloc(64 * 1024, 7);
    const view = frame.subarray(100, 120);
    const own = new Uint8Array([1, 2, 3]);
    await s.save({ entries: [ent(1, 1, view), ent(2, 1, own)] });
    const [a, b] = s.entries(1, 3, Number.POSITIVE_INFINITY);
    // The view is copied, so the 64 KiB frame is not pinned; bytes and size are unchanged.
    expect(a.data.buffer.byteLength).toBe(20);
    expect(Buffer.from(a.data)).toEqual(Buffer.alloc(20, 7));
    expect(entrySize(a)).toBe(entrySize(ent(1, 1, view)));
    // Bytes that own their buffer are kept as they are.
    expect(b.data).toBe(own);
    await s.close();
  });
});
