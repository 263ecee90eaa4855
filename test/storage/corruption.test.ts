/**
 * Damage on disk is found at open and refused with a CorruptDataError naming the directory and
 * the index; it is never served. The damage is real: bytes flipped in LevelDB's own files, keys
 * deleted or rewritten underneath the store.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptDataError, UnsupportedFormatError } from '../../src/storage/index.ts';
import { chunkKey, encodeChunk, encodeEntry, encodeHardState, entryKey, fixedKey } from '../../src/storage/records.ts';
import { conf, distinctive, ent, flipByteOf, flushToTables, openStore, removeTmpDirs, tmpDir, withRawDb } from './helpers.ts';

afterEach(removeTmpDirs);

/** A closed store holding entries 1..20 (entry 7 with a distinctive payload), committed to 5. */
async function storeWithLog(opts: { oneBatchEach?: boolean } = {}): Promise<{ dir: string; payload: Uint8Array }> {
  const dir = await tmpDir();
  const s = await openStore(dir);
  const payload = distinctive(64, 7);
  const entries = Array.from({ length: 20 }, (_, i) => ent(i + 1, 1 + Math.floor(i / 10), i === 6 ? payload : distinctive(32, 100 + i)));
  if (opts.oneBatchEach) for (const e of entries) await s.save({ entries: [e] });
  else await s.save({ entries });
  await s.save({ hardState: { term: 2, vote: 'n1', commit: 5 } });
  await s.close();
  return { dir, payload };
}

async function openError(dir: string): Promise<CorruptDataError> {
  const err = await openStore(dir).then(
    async (s) => {
      await s.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorruptDataError);
  const c = err as CorruptDataError;
  expect(c.message).toContain(dir);
  return c;
}

describe('flipped bytes in LevelDB files', () => {
  it('an entry value in a table file fails its checksum: the error names the directory and the index', async () => {
    const { dir, payload } = await storeWithLog();
    await flushToTables(dir);
    await flipByteOf(dir, payload, 20, '.ldb');
    const err = await openError(dir);
    expect(err.index).toBe(7);
    expect(err.message).toMatch(/entry 7: checksum mismatch/);
  });

  it('an entry in the write-ahead log: LevelDB drops it, the store is refused, and stays refused', async () => {
    const { dir, payload } = await storeWithLog({ oneBatchEach: true });
    const file = await flipByteOf(dir, payload, 20, '.log');
    const err = await openError(dir);
    // LevelDB drops the damaged batch and the rest of its 32 KiB block: entries 7..20.
    expect(err.index).toBe(7);
    expect(err.message).toMatch(/LevelDB dropped damaged records/);
    expect(err.message).toContain(file);
    // The second open no longer sees LevelDB's report (it forgot), but the verdict was recorded.
    const again = await openError(dir);
    expect(again.message).toMatch(/refused before and stays refused/);
    expect(again.message).toMatch(/index 6/);
  });

  it('a snapshot chunk fails its checksum', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir, { chunkSize: 4096 });
    const data = distinctive(5 * 4096 + 100, 77);
    await s.save({ entries: [ent(1, 1), ent(2, 1)], hardState: { term: 1, vote: '', commit: 2 } });
    await s.createSnapshot(2, conf, data);
    await s.close();
    await flushToTables(dir);
    await flipByteOf(dir, data.subarray(2 * 4096 + 500, 2 * 4096 + 564), 10, '.ldb');
    const err = await openError(dir);
    expect(err.message).toMatch(/snapshot at index 2: chunk 2 of 6: checksum mismatch/);
    expect(err.index).toBe(2);
  });

  it('LevelDB refusing to open (a damaged manifest) is a CorruptDataError too', async () => {
    const { dir } = await storeWithLog();
    const current = await import('node:fs/promises').then((fs) => fs.readFile(join(dir, 'CURRENT'), 'utf8'));
    await writeFile(join(dir, current.trim()), Buffer.alloc(200, 0x5a));
    const err = await openError(dir);
    expect(err.message).toMatch(/LevelDB cannot open it/);
  });
});

describe('records removed or rewritten underneath the store', () => {
  it('a silently dropped entry key is a gap naming the missing index', async () => {
    const { dir } = await storeWithLog();
    await withRawDb(dir, (db) => db.del(entryKey(12)));
    const err = await openError(dir);
    expect(err.index).toBe(12);
    expect(err.message).toMatch(/entry 12 is missing: the log jumps from index 11 to 13/);
  });

  it('a record moved to another key fails its checksum (the key is checksummed too)', async () => {
    const { dir } = await storeWithLog();
    await withRawDb(dir, async (db) => db.put(entryKey(9), (await db.get(entryKey(10)))!));
    const err = await openError(dir);
    expect([err.index, err.message.includes('entry 9: checksum mismatch')]).toEqual([9, true]);
  });

  it('a well-formed entry with a lower term than its predecessor', async () => {
    const { dir } = await storeWithLog();
    await withRawDb(dir, (db) => db.put(entryKey(15), encodeEntry(ent(15, 1))));
    const err = await openError(dir);
    expect(err.index).toBe(15);
    expect(err.message).toMatch(/entry 15 has term 1, below term 2 of entry 14/);
  });

  it('a lost tail under the commit index', async () => {
    const { dir } = await storeWithLog();
    await withRawDb(dir, (db) => db.put(fixedKey('hardState'), encodeHardState({ term: 2, vote: 'n1', commit: 20 })));
    await withRawDb(dir, (db) => db.batch([18, 19, 20].map((i) => ({ type: 'del' as const, key: entryKey(i) }))));
    const err = await openError(dir);
    expect(err.index).toBe(18);
    expect(err.message).toMatch(/commit index is 20 but the log ends at 17/);
  });

  it('a missing snapshot chunk', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir, { chunkSize: 100 });
    await s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    await s.createSnapshot(1, conf, distinctive(450, 1));
    await s.close();
    await withRawDb(dir, (db) => db.del(chunkKey(1, 3)));
    expect((await openError(dir)).message).toMatch(/snapshot at index 1: chunk 3 of 5 is missing/);
  });

  it('validly sealed but wrong chunk data fails the whole-snapshot checksum', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir, { chunkSize: 100 });
    await s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: '', commit: 1 } });
    await s.createSnapshot(1, conf, distinctive(450, 1));
    await s.close();
    await withRawDb(dir, (db) => db.put(chunkKey(1, 2), encodeChunk(chunkKey(1, 2), distinctive(100, 2))));
    expect((await openError(dir)).message).toMatch(/snapshot at index 1: the data fails its checksum/);
  });

  it('a directory with data but no format marker, and a future format version', async () => {
    const { dir } = await storeWithLog();
    await withRawDb(dir, (db) => db.del(fixedKey('format')));
    expect((await openError(dir)).message).toMatch(/format marker is missing/);

    const other = await tmpDir();
    await (await openStore(other)).close();
    await withRawDb(other, async (db) => {
      const v = (await db.get(fixedKey('format')))!;
      v[4] = 99; // the version byte; re-seal so only the version is wrong
      const { crc32 } = await import('node:zlib');
      v.writeUInt32BE(crc32(v.subarray(4), crc32(fixedKey('format'))), 0);
      await db.put(fixedKey('format'), v);
    });
    await expect(openStore(other)).rejects.toThrow(UnsupportedFormatError);
  });
});
