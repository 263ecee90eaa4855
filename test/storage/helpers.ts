import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Level } from 'level';
import { type Entry, EntryType } from '../../src/raft/types.ts';
import { LevelStorage, type LevelStorageOptions, StorageEngine } from '../../src/storage/index.ts';
import { chunkKeyParts, chunkRange } from '../../src/storage/records.ts';

export const tmpDirs: string[] = [];

/** A fresh directory under the OS temp dir; removeTmpDirs() deletes them all. */
export async function tmpDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-storage-'));
  tmpDirs.push(dir);
  return dir;
}

export async function removeTmpDirs(): Promise<void> {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export const ent = (index: number, term: number, data: Uint8Array = new Uint8Array(0)): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data,
});

/** Entries from [index, term] pairs, as etcd's tests write them. */
export const ents = (...pairs: Array<[number, number]>): Entry[] => pairs.map(([i, t]) => ent(i, t));

export const conf = { voters: ['n1', 'n2', 'n3'], learners: [] as string[] };

export async function openStore(dir: string, opts: LevelStorageOptions = {}): Promise<LevelStorage> {
  return LevelStorage.open(dir, opts);
}

/** Everything a reader can observe, for comparing a store before and after reopening it. */
export async function observe(s: LevelStorage) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const snap = await s.loadSnapshot();
  return {
    first,
    last,
    termBefore: s.term(first - 1),
    entries: last >= first ? s.entries(first, last + 1, Number.POSITIVE_INFINITY).map(plain) : [],
    initial: s.initialState(),
    snapshotMeta: snap.meta,
    snapshotData: Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength).toString('hex'),
    clusterId: s.clusterId(),
  };
}

const plain = (e: Entry) => ({ index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data).toString('hex') });

/** Closes the store, opens the directory again and checks that nothing observable changed. */
export async function reopen(s: LevelStorage, opts: LevelStorageOptions = {}): Promise<LevelStorage> {
  const before = await observe(s);
  await s.close();
  const again = await LevelStorage.open(s.dir, opts);
  const after = await observe(again);
  if (!isDeepStrictEqual(after, before)) {
    await again.close();
    throw new Error(`reopened store differs:\nbefore ${JSON.stringify(before)}\nafter  ${JSON.stringify(after)}`);
  }
  return again;
}

/** Runs fn against the raw LevelDB underneath a (closed) store. */
export async function withRawDb<T>(dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<T>): Promise<T> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The (snapshot index, chunk number) of every snapshot chunk record in a closed store. */
export const chunkKeysOf = (dir: string) => withRawDb(dir, async (db) => (await db.keys(chunkRange()).all()).map((k) => chunkKeyParts(k)));

export const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Moves everything out of LevelDB's write-ahead log into sorted table (.ldb) files. */
export const flushToTables = (dir: string) =>
  withRawDb(dir, (db) =>
    // In Node, `level` is classic-level, which has compactRange; the universal typings omit it.
    (db as unknown as { compactRange(start: Buffer, end: Buffer): Promise<void> }).compactRange(Buffer.alloc(0), Buffer.alloc(1, 0xff)),
  );

/**
 * Flips one bit of the byte at `offset` within the first occurrence of `needle` in the store's
 * files of the given kind ('.log' write-ahead log or '.ldb' tables). Returns the file name.
 */
export async function flipByteOf(dir: string, needle: Uint8Array, offset: number, kind: '.log' | '.ldb'): Promise<string> {
  for (const name of (await readdir(dir)).filter((f) => f.endsWith(kind)).sort()) {
    const path = join(dir, name);
    const bytes = await readFile(path);
    const at = bytes.indexOf(needle);
    if (at >= 0) {
      bytes[at + offset] ^= 0x10;
      await writeFile(path, bytes);
      return name;
    }
  }
  throw new Error(`pattern not found in any ${kind} file of ${dir}`);
}

/** Bytes that no compressor shrinks and that occur nowhere else on disk. */
export function distinctive(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Engines opened by openEngine; closeEngines() closes them all. */
export const engines: StorageEngine[] = [];

export async function openEngine(dir: string, opts: LevelStorageOptions = {}): Promise<StorageEngine> {
  const e = await StorageEngine.open(dir, opts);
  engines.push(e);
  return e;
}

export const closeEngines = () => Promise.all(engines.splice(0).map((e) => e.close()));

/** One native LevelDB write: its operation count and whether it was fsynced. */
export interface NativeWrite {
  ops: number;
  sync: boolean;
}

/**
 * Counts every native write of every LevelDB in this process (classic-level's chained batches,
 * `_batch`, `_put` and `_del`, the only ways a write reaches the native side) until `stop()`.
 */
export function countNativeWrites(): { writes: NativeWrite[]; stop: () => void } {
  type Proto = Record<'_chainedBatch' | '_batch' | '_put' | '_del', (...args: unknown[]) => unknown>;
  const proto = Level.prototype as unknown as Proto;
  const saved = { _chainedBatch: proto._chainedBatch, _batch: proto._batch, _put: proto._put, _del: proto._del };
  const writes: NativeWrite[] = [];
  const syncOf = (o: unknown) => (o as { sync?: boolean } | undefined)?.sync === true;
  proto._chainedBatch = function (this: unknown) {
    const b = saved._chainedBatch.call(this) as Record<'_put' | '_del' | '_write', (...a: unknown[]) => unknown>;
    let ops = 0;
    const [put, del, write] = [b._put, b._del, b._write];
    b._put = (...a) => {
      ops++;
      return put.apply(b, a);
    };
    b._del = (...a) => {
      ops++;
      return del.apply(b, a);
    };
    b._write = (o) => {
      writes.push({ ops, sync: syncOf(o) });
      return write.call(b, o);
    };
    return b;
  };
  proto._batch = function (this: unknown, o: unknown, opts: unknown) {
    writes.push({ ops: (o as unknown[]).length, sync: syncOf(opts) });
    return saved._batch.call(this, o, opts);
  };
  proto._put = function (this: unknown, k: unknown, v: unknown, opts: unknown) {
    writes.push({ ops: 1, sync: syncOf(opts) });
    return saved._put.call(this, k, v, opts);
  };
  proto._del = function (this: unknown, k: unknown, opts: unknown) {
    writes.push({ ops: 1, sync: syncOf(opts) });
    return saved._del.call(this, k, opts);
  };
  return { writes, stop: () => Object.assign(proto, saved) };
}
