/**
 * Start-up: read one group's whole durable state back from LevelDB and verify it before anything
 * is served. Every record's checksum, contiguous entry indexes, non-decreasing terms, the
 * snapshot's chunks and whole-data checksum, and the cross-record invariants (compaction point
 * <= snapshot <= last index, snapshot term matches the log, snapshot index <= commit <= last
 * index). The first violation is a CorruptDataError naming the directory, the group and the
 * index; it concerns that group's keys (keys.ts) only.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Level } from 'level';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import { CorruptDataError, UnsupportedFormatError } from './errors.ts';
import type { KeySpace } from './keys.ts';
import type { LogState } from './memory-log.ts';
import {
  decodeClusterId,
  decodeCompacted,
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeQuarantine,
  decodeSnapMeta,
  encodeQuarantine,
  FORMAT_VERSION,
  type LogStart,
  openRecord,
  RecordError,
  type StoredSnapMeta,
} from './records.ts';

export type LevelDb = Level<Buffer, Buffer>;
/** What snapshotChunks needs of a LevelDB iterator over Buffer keys and values. */
export interface LevelIterator {
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  close(): Promise<void>;
}

/** Which group of which directory is being read: every error names both. */
export interface Where {
  dir: string;
  ks: KeySpace;
}

export interface Recovered {
  state: LogState;
  /** True when the group has no keys at all: the caller writes the format marker. */
  fresh: boolean;
  /** How the current snapshot's chunks are laid out on disk; undefined for the empty snapshot. */
  snapStored: StoredSnapMeta | undefined;
  /** The current snapshot's data, read and verified (empty for the empty snapshot). */
  snapData: Uint8Array;
  /** Chunks of snapshots that never became current (a crash mid-write) or were replaced. */
  orphanChunks: Buffer[];
  /** The cluster this log belongs to; undefined if none was stored (fresh, or written before ids). */
  clusterId: string | undefined;
}

const EMPTY_HARD_STATE: HardState = { term: 0, vote: '', commit: 0 };
const emptySnapshot = (): SnapshotMeta => ({ index: 0, term: 0, conf: { voters: [], learners: [] } });

export async function recover(db: LevelDb, w: Where): Promise<Recovered> {
  const { dir, ks } = w;
  const corrupt = (detail: string, index?: number) => corruptIn(w, detail, index);
  const get = (name: Parameters<KeySpace['fixed']>[0]) => guard(w, `the ${name} record`, () => db.get(ks.fixed(name)));
  const decode = <T>(what: string, index: number | undefined, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof RecordError) throw corrupt(`${what}: ${err.message}`, index);
      throw err;
    }
  };

  const q = await get('quarantine');
  if (q !== undefined) {
    const reason = decode('quarantine record', undefined, () => decodeQuarantine(q, ks));
    throw corrupt(
      `this store was refused before and stays refused: ${reason}. Replace the member: remove it from the cluster, move this directory away, and add it back empty (it then receives a snapshot from the leader)`,
    );
  }

  const marker = await get('format');
  if (marker === undefined) {
    if (await holdsKeys(db, w)) throw corrupt('the format marker is missing but the directory holds data');
    const state = { hardState: EMPTY_HARD_STATE, snapshot: emptySnapshot(), snapshotStored: false, start: { index: 0, term: 0 }, entries: [] };
    return { state, fresh: true, snapStored: undefined, snapData: new Uint8Array(0), orphanChunks: [], clusterId: undefined };
  }
  const version = decode('format marker', undefined, () => decodeFormat(marker, ks));
  if (version !== FORMAT_VERSION) throw new UnsupportedFormatError(dir, version, FORMAT_VERSION, ks.group);

  const idValue = await get('clusterId');
  const clusterId = idValue === undefined ? undefined : decode('cluster id', undefined, () => decodeClusterId(idValue, ks));

  const hsValue = await get('hardState');
  const hardState = hsValue === undefined ? EMPTY_HARD_STATE : decode('hard state', undefined, () => decodeHardState(hsValue, ks));

  const metaValue = await get('snapMeta');
  const meta = metaValue === undefined ? undefined : decode('snapshot metadata', undefined, () => decodeSnapMeta(metaValue, ks));
  const snapshot = meta ? { index: meta.index, term: meta.term, conf: meta.conf } : emptySnapshot();
  const snapData = meta ? await readSnapshotData(db, w, meta) : new Uint8Array(0);
  const orphanChunks = await findOrphanChunks(db, w, meta?.index);

  const startValue = await get('compacted');
  const start: LogStart = startValue === undefined ? { index: 0, term: 0 } : decode('compaction record', undefined, () => decodeCompacted(startValue, ks));

  const entries = await readEntries(db, w, start);
  const last = start.index + entries.length;
  const snapIndex = snapshot.index;
  const termAt = (i: number) => (i === start.index ? start.term : entries[i - start.index - 1].term);

  if (start.index > snapIndex) throw corrupt(`the log was compacted to index ${start.index}, past the snapshot at ${snapIndex}`, start.index);
  if (last < snapIndex) throw corrupt(`entries ${last + 1}..${snapIndex} are missing: the log ends before the snapshot at ${snapIndex}`, last + 1);
  if (meta && termAt(snapIndex) !== meta.term) {
    throw corrupt(`entry ${snapIndex} has term ${termAt(snapIndex)} but the snapshot at that index has term ${meta.term}`, snapIndex);
  }
  if (hardState.commit > last) {
    throw corrupt(`the commit index is ${hardState.commit} but the log ends at ${last}: committed entries from ${last + 1} are missing`, last + 1);
  }
  if (hardState.commit < snapIndex) throw corrupt(`the commit index ${hardState.commit} is below the snapshot index ${snapIndex}`, snapIndex);

  return {
    state: { hardState, snapshot, snapshotStored: meta !== undefined, start, entries },
    fresh: false,
    snapStored: meta,
    snapData,
    orphanChunks,
    clusterId,
  };
}

async function readEntries(db: LevelDb, w: Where, start: LogStart): Promise<Entry[]> {
  const entries: Entry[] = [];
  const corrupt = (detail: string, index?: number) => corruptIn(w, detail, index);
  let prev = start;
  await scan(
    db,
    w,
    w.ks.entryRange(),
    () => `entries after index ${prev.index}`,
    (key, value) => {
      const index = w.ks.entryIndex(key);
      const expected = prev.index + 1;
      if (index === undefined) {
        throw corrupt(`malformed entry key ${Buffer.from(key).toString('hex')} after index ${prev.index}`, expected);
      }
      if (index < expected) {
        throw corrupt(`entry ${index} is still stored below the compaction point ${start.index}`, index);
      }
      if (index > expected) {
        const gap = index === expected + 1 ? `entry ${expected} is` : `entries ${expected}..${index - 1} are`;
        throw corrupt(`${gap} missing: the log jumps from index ${prev.index} to ${index}`, expected);
      }
      let e: Entry;
      try {
        e = decodeEntry(key, value, index);
      } catch (err) {
        if (err instanceof RecordError) throw corrupt(`entry ${index}: ${err.message}`, index);
        throw err;
      }
      if (e.term < prev.term) {
        throw corrupt(`entry ${index} has term ${e.term}, below term ${prev.term} of entry ${prev.index}`, index);
      }
      entries.push(e);
      prev = e;
    },
  );
  return entries;
}

/**
 * Reads a snapshot's data back and verifies every chunk and the whole-data checksum: at open,
 * and later whenever a follower needs the snapshot (level-storage.ts keeps only its metadata).
 * Reads go one chunk-sized batch at a time, so the event loop keeps turning.
 */
export async function readSnapshotData(db: LevelDb, w: Where, meta: StoredSnapMeta): Promise<Uint8Array> {
  const data = new Uint8Array(meta.dataLength);
  let at = 0;
  for await (const chunk of snapshotChunks(db.iterator({ ...w.ks.chunkRange(meta.index), highWaterMarkBytes: 1 << 20 }), w, meta)) {
    data.set(chunk, at);
    at += chunk.length;
  }
  return data;
}

/**
 * A snapshot's data as its stored chunks, each checked (key, record checksum, size), and the
 * whole-data checksum checked after the last: a CorruptDataError ends the stream otherwise.
 * `it` is an iterator over the snapshot's chunk range, opened by the caller: LevelDB reads it
 * from an implicit snapshot taken when it was opened, so a newer Raft snapshot deleting these
 * chunks meanwhile does not cut the stream short (backups, level-storage.ts).
 */
export async function* snapshotChunks(it: LevelIterator, w: Where, meta: StoredSnapMeta): AsyncGenerator<Buffer> {
  const what = `snapshot at index ${meta.index}`;
  const corrupt = (detail: string) => corruptIn(w, `${what}: ${detail}`, meta.index);
  let n = 0;
  let crc = 0;
  try {
    for (;;) {
      const batch = await guard(w, `${what}, chunk ${n}`, () => it.nextv(16));
      if (batch.length === 0) break;
      for (const [key, value] of batch) {
        const parts = w.ks.chunkParts(key);
        if (parts === undefined) throw corrupt(`malformed chunk key ${Buffer.from(key).toString('hex')}`);
        if (parts.n !== n) throw corrupt(`chunk ${n} of ${meta.chunkCount} is missing`);
        if (n >= meta.chunkCount) throw corrupt(`unexpected chunk ${n}: the snapshot has ${meta.chunkCount}`);
        let chunk: Buffer;
        try {
          chunk = openRecord(key, value);
        } catch (err) {
          if (err instanceof RecordError) throw corrupt(`chunk ${n} of ${meta.chunkCount}: ${err.message}`);
          throw err;
        }
        const expected = Math.min(meta.chunkSize, meta.dataLength - n * meta.chunkSize);
        if (chunk.length !== expected) throw corrupt(`chunk ${n} is ${chunk.length} bytes, expected ${expected}`);
        crc = crc32(chunk, crc);
        n++;
        yield chunk;
      }
    }
  } finally {
    await it.close();
  }
  if (n !== meta.chunkCount) throw corrupt(`chunk ${n} of ${meta.chunkCount} is missing`);
  if (crc !== meta.dataCrc) throw corrupt('the data fails its checksum');
}

async function findOrphanChunks(db: LevelDb, w: Where, current: number | undefined): Promise<Buffer[]> {
  const orphans: Buffer[] = [];
  const keys = await guard(w, 'snapshot chunk keys', () => db.keys(w.ks.chunkRange()).all());
  for (const key of keys) {
    const parts = w.ks.chunkParts(key);
    if (parts === undefined) throw corruptIn(w, `malformed snapshot chunk key ${key.toString('hex')}`);
    if (parts.snapIndex !== current) orphans.push(key);
  }
  return orphans;
}

/** Streams a key range through `visit`, in key order. */
async function scan(
  db: LevelDb,
  w: Where,
  range: { gte: Buffer; lt: Buffer },
  where: () => string,
  visit: (key: Buffer, value: Buffer) => void,
): Promise<void> {
  const it = db.iterator({ ...range, highWaterMarkBytes: 1 << 20 });
  try {
    for (;;) {
      const batch = await guard(w, where(), () => it.nextv(1000));
      if (batch.length === 0) return;
      for (const [key, value] of batch) visit(key, value);
    }
  } finally {
    await it.close();
  }
}

/** Whether the group has any key at all. */
export async function holdsKeys(db: LevelDb, w: Where): Promise<boolean> {
  for (const span of w.ks.spans()) {
    if ((await guard(w, 'the key space', () => db.keys({ ...span, limit: 1 }).all())).length > 0) return true;
  }
  return false;
}

const corruptIn = (w: Where, detail: string, index?: number) => new CorruptDataError(w.dir, detail, index, w.ks.group);

/** Runs a LevelDB read, turning LevelDB's own corruption reports into a CorruptDataError. */
export async function guard<T>(w: Where, what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isLevelCorruption(err)) {
      throw corruptIn(w, `LevelDB reports corruption while reading ${what}: ${(err as Error).message}`);
    }
    throw err;
  }
}

export function isLevelCorruption(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'LEVEL_CORRUPTION') return true;
  }
  return false;
}

/**
 * LevelDB recovers its write-ahead log leniently: a record that fails LevelDB's own checksum is
 * dropped (with the rest of its 32 KiB block) and only noted in the info log, and the next open
 * forgets it ever happened. The info log is rewritten on every open, so its "Corruption" lines
 * are exactly what this open had to drop. (A torn tail from a crash is not reported there.)
 */
export async function levelDbCorruptionReport(dir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'LOG'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text
    .split('\n')
    .filter((l) => l.includes('Corruption'))
    // Drop the timestamp and thread id LevelDB puts in front.
    .map((l) =>
      l
        .replace(/^\S+ \S+ /, '')
        .replace('(ignoring error) ', '')
        .trim(),
    );
  return lines.length > 0 ? lines.join('; ') : undefined;
}

/**
 * recover() plus LevelDB's own report, `dropped` (levelDbCorruptionReport, read once when the
 * engine opened). When LevelDB itself dropped records while opening, the evidence is gone after
 * this open, and nothing tells which group's records they were: the verdict is written into
 * every group, which stays refused until an operator replaces it (the node then gets a leader's
 * snapshot for it).
 */
export async function verify(db: LevelDb, w: Where, dropped: string | undefined): Promise<Recovered> {
  let verdict: unknown;
  try {
    const rec = await recover(db, w);
    if (!dropped) return rec;
    const last = rec.state.start.index + rec.state.entries.length;
    verdict = corruptIn(
      w,
      `LevelDB dropped damaged records while recovering (${dropped}); the log read back ends at index ${last} and acknowledged entries after it may be lost`,
      last + 1,
    );
  } catch (err) {
    verdict =
      dropped && err instanceof CorruptDataError
        ? corruptIn(w, `${err.detail}; LevelDB also dropped damaged records while recovering (${dropped})`, err.index)
        : err;
  }
  if (dropped && verdict instanceof CorruptDataError) {
    // Best effort: failing to record the verdict must not hide it.
    await db.put(w.ks.fixed('quarantine'), encodeQuarantine(verdict.detail, w.ks), { sync: true }).catch(() => {});
  }
  throw verdict;
}
