/**
 * The cluster id stored with the log (node/cluster-id.ts decides it): it survives a reopen, is
 * written once, is refused when malformed, and a damaged record makes the store refused like any
 * other damaged record.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptDataError, InvalidWriteError, type LevelStorage } from '../../src/storage/index.ts';
import { fixedKey } from '../../src/storage/records.ts';
import { ents, openStore, removeTmpDirs, reopen, tmpDir, withRawDb } from './helpers.ts';

const stores: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await removeTmpDirs();
});

describe('stored cluster id', () => {
  it('is absent in a new store, and once set comes back after a reopen with the log', async () => {
    const s = await openStore(await tmpDir());
    stores.push(s);
    expect(s.clusterId()).toBeUndefined();
    await s.setClusterId('0123456789abcdef');
    await s.save({ entries: ents([1, 1], [2, 1]), hardState: { term: 1, vote: '', commit: 2 } });
    expect(s.clusterId()).toBe('0123456789abcdef');
    const again = await reopen(s);
    stores[0] = again;
    expect(again.clusterId()).toBe('0123456789abcdef');
    expect(again.lastIndex()).toBe(2);
  });

  it('is written once: the same id again is a no-op, another one is refused and nothing changes', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir);
    stores.push(s);
    await s.setClusterId('aaaa');
    await s.setClusterId('aaaa');
    await expect(s.setClusterId('bbbb')).rejects.toThrow(InvalidWriteError);
    await expect(s.setClusterId('bbbb')).rejects.toThrow(/belongs to cluster aaaa.*cluster bbbb/);
    await s.close();
    stores.length = 0;
    const again = await openStore(dir);
    stores.push(again);
    expect(again.clusterId()).toBe('aaaa');
  });

  it('refuses an empty, oversized or non-printable id', async () => {
    const s = await openStore(await tmpDir());
    stores.push(s);
    for (const bad of ['', 'x'.repeat(65), 'has space', 'caf\u00e9', 'a\nb']) {
      await expect(s.setClusterId(bad)).rejects.toThrow(InvalidWriteError);
    }
    expect(s.clusterId()).toBeUndefined();
  });

  it('a damaged cluster id record refuses the store, naming the record', async () => {
    const dir = await tmpDir();
    const s = await openStore(dir);
    await s.setClusterId('0123456789abcdef');
    await s.close();
    await withRawDb(dir, async (db) => {
      const v = await db.get(fixedKey('clusterId'));
      v![v!.length - 1] ^= 1;
      await db.put(fixedKey('clusterId'), v!);
    });
    await expect(openStore(dir)).rejects.toThrow(CorruptDataError);
    await expect(openStore(dir)).rejects.toThrow(/cluster id/);
  });
});
