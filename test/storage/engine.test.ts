/**
 * The shared engine (src/storage/engine.ts): many groups in one LevelDB on disk, each with
 * today's storage API, written through one group commit; groups created, listed at open and
 * dropped in bounded slices; damage in one group refused without hiding the others.
 */
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type Entry, EntryType } from '../../src/raft/types.ts';
import {
  CorruptDataError,
  DROP_SLICE_KEYS,
  InvalidWriteError,
  type LevelStorage,
  StorageClosedError,
  UnknownGroupError,
  UnsupportedFormatError,
} from '../../src/storage/index.ts';
import { keySpace } from '../../src/storage/keys.ts';
import { encodeDropping, encodeEntry, fixedKey } from '../../src/storage/records.ts';
import {
  closeEngines,
  conf,
  countNativeWrites,
  distinctive,
  ent,
  flipByteOf,
  flushToTables,
  observe,
  openEngine,
  openStore,
  removeTmpDirs,
  sameBytes,
  tmpDir,
  withRawDb,
} from './helpers.ts';

afterEach(async () => {
  await closeEngines();
  await removeTmpDirs();
});

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** A log for group `g` whose bytes differ from every other group's. */
function groupLog(g: number, n: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ index: i + 1, term: 1 + Math.floor(i / 5), type: EntryType.Normal, data: distinctive(20 + i, g * 1000 + i) }));
}

/** Fills group `g`: entries, hard state, cluster id and (for some) a snapshot and compaction. */
async function fill(s: LevelStorage, g: number): Promise<void> {
  const n = 10 + (g % 7);
  await s.save({ entries: groupLog(g, n), hardState: { term: 3, vote: `n${g % 3}`, commit: n - 2 } });
  await s.setClusterId(`cluster-${g}`);
  if (g % 2 === 0) {
    await s.createSnapshot(n - 3, conf, distinctive(3000 + g, 50_000 + g));
    await s.compact(n - 5);
  }
}

/** Every key in the directory, as hex, for a closed engine. */
const rawKeys = (dir: string) => withRawDb(dir, async (db) => (await db.keys().all()).map((k) => k.toString('hex')));

describe('many groups in one engine', () => {
  it('round trip: each group keeps its own log, hard state, snapshot and cluster id across a reopen', async () => {
    const dir = await tmpDir();
    const ids = [0, 1, 2, 3, 9, 255, 256, 70_000, 0xffffffff];
    let e = await openEngine(dir, { chunkSize: 1024 });
    for (const g of ids) await fill(await e.createGroup(g), g);
    const before = await Promise.all(ids.map((g) => observe(e.group(g))));
    await e.close();

    e = await openEngine(dir, { chunkSize: 1024 });
    expect(e.groupIds()).toEqual(ids);
    const after = await Promise.all(ids.map((g) => observe(e.group(g))));
    expect(after).toEqual(before);
    // Nothing leaked between groups: each group's entries are its own bytes.
    for (const g of ids) {
      const s = e.group(g);
      for (const got of s.entries(s.firstIndex(), s.lastIndex() + 1, Number.POSITIVE_INFINITY)) {
        expect(sameBytes(got.data, groupLog(g, 20)[got.index - 1].data), `group ${g} entry ${got.index}`).toBe(true);
      }
      expect(s.clusterId()).toBe(`cluster-${g}`);
    }
    // Writes after the reopen go on per group.
    await e.group(3).save({ entries: [ent(14, 3)] });
    expect([e.group(3).lastIndex(), e.group(9).lastIndex()]).toEqual([14, 12]);
  });

  it('group 1 keeps the unprefixed keys of a pre-engine directory, which opens as the engine holding group 1', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir); // LevelStorage.open: group 1, as every node before sharding
    await s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: 'n1', commit: 1 } });
    await s.close();
    // Today's layout byte for byte: format marker, hard state, entry 1 under `e` + u64.
    expect(await rawKeys(dir)).toEqual(['65' + '0000000000000001', '68', '6d']);

    const e = await openEngine(dir);
    expect(e.groupIds()).toEqual([1]);
    expect(e.group(1).lastIndex()).toBe(1);
    await (await e.createGroup(2)).save({ entries: [ent(1, 7)] });
    await e.close();
    // Group 2 sits under `g` + u32 2; group 1's keys did not move.
    expect(await rawKeys(dir)).toEqual(['65' + '0000000000000001', '67000000026500000000000000' + '01', '67000000026d', '68', '6d']);
    const again = await openStore(dir);
    expect([again.lastIndex(), again.term(1)]).toEqual([1, 1]);
    await again.close();
  });

  it('writes of every group in one turn are one native fsynced batch; each group hears of it once', async () => {
    const e = await openEngine(await tmpDir());
    const groups = await Promise.all(Array.from({ length: 50 }, (_, i) => e.createGroup(i + 2)));
    const heard = groups.map(() => 0);
    groups.forEach((s, i) => {
      s.onFsync = () => heard[i]++;
    });
    const counter = countNativeWrites();
    try {
      // Turn 1: every group saves (two saves each); turn 2, while turn 1's batch is on disk: half of them.
      const first = groups.flatMap((s) => [s.save({ entries: [ent(1, 1)] }), s.save({ hardState: { term: 1, vote: 'n1', commit: 1 } })]);
      await nextTurn();
      const second = groups.filter((_, i) => i % 2 === 0).map((s) => s.save({ entries: [ent(2, 1)] }));
      await Promise.all([...first, ...second]);
      expect(counter.writes).toEqual([
        { ops: 100, sync: true },
        { ops: 25, sync: true },
      ]);
    } finally {
      counter.stop();
    }
    expect(heard).toEqual(groups.map((_, i) => (i % 2 === 0 ? 2 : 1)));
    expect(groups.map((s) => s.stats().batches)).toEqual(heard);
    expect(e.stats().syncedBatches).toBeGreaterThanOrEqual(2);
  });

  it("a failed write stops every group, since the batch may have held any group's writes", async () => {
    const e = await openEngine(await tmpDir());
    const [a, b] = [await e.createGroup(2), await e.createGroup(3)];
    const p = expect(a.save({ entries: [ent(1, 1)] })).rejects.toThrow(/write to Raft log in .* failed: Database is not open/);
    // LevelDB refuses to write a batch once it is closed underneath the engine.
    await e.db.close();
    await p;
    await expect(b.save({ entries: [ent(1, 1)] })).rejects.toThrow(/failed/);
  });
});

describe('a data directory written before the engine', () => {
  // Written by the storage of commit e210549 (before the engine): chunk size 256, cluster id
  // `legacy-cluster`, entries 1..30 (1 a conf change) in terms 1-3, commit 25, a snapshot at 20
  // of distinctive(1000, 77) with conf n1-n3 + learner n4, compacted to 15.
  const fixture = fileURLToPath(new URL('./fixtures/pre-engine-dir', import.meta.url));
  const expected = {
    first: 16,
    last: 30,
    initial: { hardState: { term: 3, vote: 'n2', commit: 25 }, confState: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } },
    snapshotMeta: { index: 20, term: 2, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } },
    clusterId: 'legacy-cluster',
  };

  it('opens as it is, as group 1, with every record; a second group joins it without moving a key', async () => {
    const dir = await tmpDir();
    await cp(fixture, dir, { recursive: true });
    const before = await rawKeys(dir);
    const e = await openEngine(dir, { chunkSize: 256 });
    expect(e.groupIds()).toEqual([1]);
    const seen = await observe(e.group(1));
    expect(seen).toMatchObject(expected);
    expect(seen.snapshotData).toBe(Buffer.from(distinctive(1000, 77)).toString('hex'));
    expect(seen.entries.map((x) => x.data)).toEqual(Array.from({ length: 15 }, (_, i) => Buffer.from(distinctive(25 + i, 515 + i)).toString('hex')));
    await (await e.createGroup(2)).save({ entries: [ent(1, 1)] });
    await e.close();
    const after = await rawKeys(dir);
    expect(after.filter((k) => !k.startsWith('67'))).toEqual(before);
    const s = await openStore(dir, { chunkSize: 256 });
    expect(await observe(s)).toEqual(seen);
    await s.close();
  });
});

describe('creating and dropping groups', () => {
  it('refuses bad and duplicate ids and unknown groups with clear errors', async () => {
    const e = await openEngine(await tmpDir());
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) await expect(e.createGroup(bad)).rejects.toThrow(RangeError);
    await e.createGroup(4);
    await expect(e.createGroup(4)).rejects.toThrow(InvalidWriteError);
    expect(() => e.group(5)).toThrow(UnknownGroupError);
    await expect(e.dropGroup(5)).rejects.toThrow(/has no group 5/);
    await e.group(4).close();
    expect(() => e.group(4)).toThrow(StorageClosedError);
    expect(e.groupIds()).toEqual([4]);
  });

  it('drop deletes every key of the group in slices of DROP_SLICE_KEYS and leaves its neighbours whole', async () => {
    const dir = await tmpDir();
    let e = await openEngine(dir, { chunkSize: 64 });
    for (const g of [1, 4, 5, 6]) await fill(await e.createGroup(g), g);
    // Group 5: a long log and a snapshot of many chunks, several slices' worth of keys.
    const big = e.group(5);
    const n = 2 * DROP_SLICE_KEYS + 500;
    const first = big.lastIndex() + 1;
    const entries = Array.from({ length: n }, (_, i) => ent(first + i, 3, distinctive(8, i)));
    await big.save({ entries, hardState: { term: 3, vote: 'n1', commit: first + n - 1 } });
    await big.createSnapshot(first + n - 1, conf, distinctive(64 * 900, 5));
    const keep = await Promise.all([1, 4, 6].map((g) => observe(e.group(g))));

    const counter = countNativeWrites();
    try {
      const drop = e.dropGroup(5);
      // While it is being dropped the group is gone for readers, and its id is not free yet.
      expect([e.has(5), e.groupIds()]).toEqual([false, [1, 4, 6]]);
      await expect(e.createGroup(5)).rejects.toThrow(/group 5 is being dropped/);
      await drop;
    } finally {
      counter.stop();
    }
    expect(counter.writes.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...counter.writes.map((w) => w.ops))).toBeLessThanOrEqual(DROP_SLICE_KEYS);
    await expect(big.save({ entries: [ent(first + n, 3)] })).rejects.toThrow(StorageClosedError);
    expect(e.groupIds()).toEqual([1, 4, 6]);
    await e.close();

    const [from, to] = [keySpace(5).spans()[0].gte.toString('hex'), keySpace(6).spans()[0].gte.toString('hex')];
    expect((await rawKeys(dir)).filter((k) => k >= from && k < to)).toEqual([]);
    e = await openEngine(dir, { chunkSize: 64 });
    expect(e.groupIds()).toEqual([1, 4, 6]);
    expect(await Promise.all([1, 4, 6].map((g) => observe(e.group(g))))).toEqual(keep);
    // The id can be used again, empty.
    expect((await e.createGroup(5)).lastIndex()).toBe(0);
  });

  it('dropping group 1 (the unprefixed keys) leaves every prefixed group whole', async () => {
    const dir = await tmpDir();
    let e = await openEngine(dir);
    for (const g of [0, 1, 2]) await fill(await e.createGroup(g), g);
    const keep = await Promise.all([0, 2].map((g) => observe(e.group(g))));
    await e.dropGroup(1);
    await e.close();
    expect((await rawKeys(dir)).every((k) => k.startsWith('67'))).toBe(true);
    e = await openEngine(dir);
    expect(e.groupIds()).toEqual([0, 2]);
    expect(await Promise.all([0, 2].map((g) => observe(e.group(g))))).toEqual(keep);
  });

  it('a drop cut short by a crash (marker written, some keys gone) is finished at the next open', async () => {
    const dir = await tmpDir();
    let e = await openEngine(dir);
    for (const g of [2, 3, 4]) await fill(await e.createGroup(g), g);
    const keep = await Promise.all([2, 4].map((g) => observe(e.group(g))));
    await e.close();
    // What a kill -9 between two slices leaves: the marker, and group 3 missing some entries.
    const ks = keySpace(3);
    await withRawDb(dir, async (db) => {
      await db.put(ks.fixed('dropping'), encodeDropping(ks));
      await db.batch([1, 2, 3].map((i) => ({ type: 'del' as const, key: ks.entry(i) })));
    });
    const lines: string[] = [];
    e = await openEngine(dir, { logger: { info: (m) => lines.push(m), warn() {}, error: (m) => lines.push(m) } });
    expect(e.groupIds()).toEqual([2, 4]);
    expect(lines.some((l) => /finished dropping group 3/.test(l))).toBe(true);
    expect(await Promise.all([2, 4].map((g) => observe(e.group(g))))).toEqual(keep);
    await e.close();
    const [from, to] = [ks.spans()[0].gte.toString('hex'), keySpace(4).spans()[0].gte.toString('hex')];
    expect((await rawKeys(dir)).filter((k) => k >= from && k < to)).toEqual([]);
  });
});

describe('damage is pinned to its group', () => {
  async function threeGroups(): Promise<{ dir: string; keep: unknown[] }> {
    const dir = await tmpDir();
    const e = await openEngine(dir);
    for (const g of [1, 2, 3]) await fill(await e.createGroup(g), g);
    const keep = await Promise.all([1, 2].map((g) => observe(e.group(g))));
    await e.close();
    return { dir, keep };
  }

  it('a corrupt record in group 3 names group 3 and does not hide groups 1 and 2', async () => {
    const { dir, keep } = await threeGroups();
    const ks = keySpace(3);
    await withRawDb(dir, async (db) => {
      const v = (await db.get(ks.entry(6)))!;
      v[v.length - 1] ^= 0x01;
      await db.put(ks.entry(6), v);
    });
    const warnings: string[] = [];
    const e = await openEngine(dir, { logger: { info() {}, warn: (m) => warnings.push(m), error() {} } });
    expect(e.groupIds()).toEqual([1, 2, 3]);
    const err = (() => {
      try {
        e.group(3);
      } catch (x) {
        return x as CorruptDataError;
      }
    })();
    expect(err).toBeInstanceOf(CorruptDataError);
    expect([err!.group, err!.index]).toEqual([3, 6]);
    expect(err!.message).toContain(`corrupt Raft log in ${dir} (group 3): entry 6: checksum mismatch`);
    expect(warnings).toEqual([expect.stringMatching(/: 3 groups, of which refused as damaged: group 3$/)]);
    expect(await Promise.all([1, 2].map((g) => observe(e.group(g))))).toEqual(keep);
    // The damaged replica is replaced by dropping it (the node then gets a leader's snapshot).
    await e.dropGroup(3);
    expect(e.groupIds()).toEqual([1, 2]);
  });

  it('a flipped byte in a table file, inside a group 3 entry, refuses group 3 only', async () => {
    const { dir, keep } = await threeGroups();
    const payload = distinctive(64, 4242);
    let e = await openEngine(dir);
    await e.group(3).save({ entries: [ent(e.group(3).lastIndex() + 1, 3, payload)] });
    const index = e.group(3).lastIndex();
    await e.close();
    await flushToTables(dir);
    await flipByteOf(dir, payload, 20, '.ldb');
    e = await openEngine(dir);
    expect(() => e.group(3)).toThrow(new RegExp(`\\(group 3\\): entry ${index}: checksum mismatch`));
    expect(await Promise.all([1, 2].map((g) => observe(e.group(g))))).toEqual(keep);
  });

  it("another group's record copied under group 3's key fails the checksum, which covers the prefix", async () => {
    const { dir } = await threeGroups();
    await withRawDb(dir, async (db) => db.put(keySpace(3).entry(2), encodeEntry(ent(2, 1), keySpace(2))));
    const e = await openEngine(dir);
    expect(() => e.group(3)).toThrow(/\(group 3\): entry 2: checksum mismatch/);
    expect(e.group(2).lastIndex()).toBeGreaterThan(0);
  });

  it('a missing format marker in group 2 refuses group 2 only', async () => {
    const { dir } = await threeGroups();
    await withRawDb(dir, (db) => db.del(fixedKey('format', keySpace(2))));
    const e = await openEngine(dir);
    expect(() => e.group(2)).toThrow(/\(group 2\): the format marker is missing/);
    expect([e.group(1).lastIndex(), e.group(3).lastIndex()].every((n) => n > 0)).toBe(true);
  });

  it('a group written by a newer format version is refused alone, named', async () => {
    const { dir } = await threeGroups();
    const key = fixedKey('format', keySpace(2));
    await withRawDb(dir, async (db) => {
      const v = (await db.get(key))!;
      v[4] = 2;
      v.writeUInt32BE(crc32(v.subarray(4), crc32(key)), 0);
      await db.put(key, v);
    });
    const e = await openEngine(dir);
    expect(() => e.group(2)).toThrow(UnsupportedFormatError);
    expect(() => e.group(2)).toThrow(/\(group 2\) has format version 2; this build reads version 1/);
    expect([e.group(1).lastIndex(), e.group(3).lastIndex()].every((n) => n > 0)).toBe(true);
  });

  it('a stray key under the group prefix that names no group refuses the directory, saying so', async () => {
    const { dir } = await threeGroups();
    await withRawDb(dir, (db) => db.put(Buffer.from('g\x00\x01', 'latin1'), Buffer.from('x')));
    await expect(openEngine(dir)).rejects.toThrow(/key 670001 is under the group prefix but names no group/);
  });

  it('LevelDB dropping damaged write-ahead records refuses every group, which cannot be told apart, and keeps them refused', async () => {
    const dir = await tmpDir();
    let e = await openEngine(dir);
    const payload = distinctive(64, 99);
    for (const g of [1, 2]) await (await e.createGroup(g)).save({ entries: [ent(1, 1)] });
    await e.group(2).save({ entries: [ent(2, 1, payload)] });
    await e.group(1).save({ entries: [ent(2, 1, distinctive(64, 1))] });
    await e.close();
    await flipByteOf(dir, payload, 20, '.log');
    e = await openEngine(dir);
    for (const g of e.groupIds()) expect(() => e.group(g)).toThrow(/LevelDB dropped damaged records/);
    await e.close();
    e = await openEngine(dir);
    for (const g of e.groupIds()) expect(() => e.group(g)).toThrow(/refused before and stays refused/);
    expect(e.groupIds().length).toBeGreaterThan(0);
  });
});
