/**
 * The records of one Raft group's log in LevelDB: their keys and checksummed binary values.
 * Keys (keys.ts has the group prefix in front of them, empty for group 1):
 *
 *   m                                 format marker (magic + format version)
 *   h                                 hard state
 *   c                                 compaction point: index and term of the last deleted entry
 *   e <index u64>                     one log entry
 *   s/meta                            snapshot metadata (index, term, conf, size, whole-data CRC)
 *   s/chunk/ <snap index u64> <n u32>  snapshot data, in chunks
 *   q                                 quarantine: why this store was refused (see recover.ts)
 *   i                                 cluster id: the cluster this log belongs to (node/cluster-id.ts)
 *   d                                 the group is being dropped (engine.ts)
 *
 * Every value is `crc32 (4 bytes) | format version (1 byte) | payload`. The CRC covers the key
 * (prefix included), the version and the payload, so a value that LevelDB hands back under the
 * wrong key, or another group's, fails the check just like a flipped bit does. Chunk keys carry
 * the snapshot's index so a new snapshot never overwrites the chunks of the one it replaces (see
 * level-storage.ts, createSnapshot). Every function takes the group's KeySpace; without one it
 * is group 1's, the single group of today's nodes.
 */
import { crc32 } from 'node:zlib';
import { type ConfState, type Entry, EntryType, type HardState } from '../raft/types.ts';
import { type FixedRecord, type KeySpace, keySpace, LEGACY_GROUP, readU64Safe, writeU64 } from './keys.ts';

export { KeyPrefix } from './keys.ts';

export const FORMAT_VERSION = 1;
const FORMAT_MAGIC = 'raftkv-log';

const HEADER = 5; // crc32 + version
const ENTRY_FIXED = 1 + 8; // type + term
const ENTRY_TYPES: ReadonlySet<number> = new Set(Object.values(EntryType));
const G1 = keySpace(LEGACY_GROUP);

/** A record failed its checksum or could not be decoded; recover.ts turns it into a CorruptDataError. */
export class RecordError extends Error {
  override name = 'RecordError';
}

// Group 1's keys, under the names the single-group code and its tests use.
export const fixedKey = (name: FixedRecord, ks: KeySpace = G1): Buffer => ks.fixed(name);
export const entryKey = (index: number, ks: KeySpace = G1): Buffer => ks.entry(index);
export const entryKeyIndex = (key: Uint8Array, ks: KeySpace = G1): number | undefined => ks.entryIndex(key);
export const entryRange = (ks: KeySpace = G1) => ks.entryRange();
export const chunkKey = (snapIndex: number, n: number, ks: KeySpace = G1): Buffer => ks.chunk(snapIndex, n);
export const chunkKeyParts = (key: Uint8Array, ks: KeySpace = G1) => ks.chunkParts(key);
export const chunkRange = (snapIndex?: number, ks: KeySpace = G1) => ks.chunkRange(snapIndex);

// ---- values ----

function seal(key: Buffer, value: Buffer): Buffer {
  value[4] = FORMAT_VERSION;
  value.writeUInt32BE(crc32(value.subarray(4), crc32(key)), 0);
  return value;
}

/** Checks a value's checksum and version and returns its payload. */
export function openRecord(key: Uint8Array, value: Uint8Array): Buffer {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (v.length < HEADER) throw new RecordError(`record is ${v.length} bytes, shorter than its header`);
  const expected = v.readUInt32BE(0);
  const actual = crc32(v.subarray(4), crc32(key));
  if (expected !== actual) throw new RecordError('checksum mismatch');
  if (v[4] !== FORMAT_VERSION) throw new RecordError(`unknown record version ${v[4]}`);
  return v.subarray(HEADER);
}

export function encodeFormat(ks: KeySpace = G1): Buffer {
  const magic = Buffer.from(FORMAT_MAGIC, 'latin1');
  const v = Buffer.allocUnsafe(HEADER + magic.length);
  magic.copy(v, HEADER);
  return seal(ks.fixed('format'), v);
}

/**
 * The format version of a marker record. A marker that fails its checksum or lacks the magic is a
 * RecordError; a future version is returned as is so the caller can name it.
 */
export function decodeFormat(value: Uint8Array, ks: KeySpace = G1): number {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (v.length < HEADER || v.readUInt32BE(0) !== crc32(v.subarray(4), crc32(ks.fixed('format')))) {
    throw new RecordError('format marker checksum mismatch');
  }
  if (v.subarray(HEADER).toString('latin1') !== FORMAT_MAGIC) throw new RecordError('not a RaftKV log');
  return v[4];
}

export function encodeEntry(e: Entry, ks: KeySpace = G1): Buffer {
  const v = Buffer.allocUnsafe(HEADER + ENTRY_FIXED + e.data.byteLength);
  v[HEADER] = e.type;
  writeU64(v, HEADER + 1, e.term);
  v.set(e.data, HEADER + ENTRY_FIXED);
  return seal(ks.entry(e.index), v);
}

export function decodeEntry(key: Uint8Array, value: Uint8Array, index: number): Entry {
  const p = openRecord(key, value);
  if (p.length < ENTRY_FIXED) throw new RecordError('entry record truncated');
  const type = p[0];
  if (!ENTRY_TYPES.has(type)) throw new RecordError(`unknown entry type ${type}`);
  const term = readU64(p, 1);
  // A view, not a copy: each LevelDB value is its own allocation.
  const data = new Uint8Array(p.buffer, p.byteOffset + ENTRY_FIXED, p.length - ENTRY_FIXED);
  return { index, term, type: type as EntryType, data };
}

export function encodeHardState(hs: HardState, ks: KeySpace = G1): Buffer {
  const vote = Buffer.from(hs.vote, 'utf8');
  const v = Buffer.allocUnsafe(HEADER + 16 + vote.length);
  writeU64(v, HEADER, hs.term);
  writeU64(v, HEADER + 8, hs.commit);
  vote.copy(v, HEADER + 16);
  return seal(ks.fixed('hardState'), v);
}

export function decodeHardState(value: Uint8Array, ks: KeySpace = G1): HardState {
  const p = openRecord(ks.fixed('hardState'), value);
  if (p.length < 16) throw new RecordError('hard state record truncated');
  return { term: readU64(p, 0), commit: readU64(p, 8), vote: p.subarray(16).toString('utf8') };
}

/** Index and term of the last entry removed by compaction (etcd's dummy entry at ents[0]). */
export interface LogStart {
  index: number;
  term: number;
}

export function encodeCompacted(c: LogStart, ks: KeySpace = G1): Buffer {
  const v = Buffer.allocUnsafe(HEADER + 16);
  writeU64(v, HEADER, c.index);
  writeU64(v, HEADER + 8, c.term);
  return seal(ks.fixed('compacted'), v);
}

export function decodeCompacted(value: Uint8Array, ks: KeySpace = G1): LogStart {
  const p = openRecord(ks.fixed('compacted'), value);
  if (p.length !== 16) throw new RecordError('compaction record has the wrong size');
  return { index: readU64(p, 0), term: readU64(p, 8) };
}

/** Snapshot metadata as stored: enough to find, size and verify the chunks. */
export interface StoredSnapMeta {
  index: number;
  term: number;
  conf: ConfState;
  dataLength: number;
  /** CRC32 of the whole data, checked after the chunks are joined. */
  dataCrc: number;
  chunkSize: number;
  chunkCount: number;
}

export function encodeSnapMeta(m: StoredSnapMeta, ks: KeySpace = G1): Buffer {
  // ConfState is JSON so that fields the core may add later survive a round trip unchanged.
  const conf = Buffer.from(JSON.stringify(m.conf), 'utf8');
  const v = Buffer.allocUnsafe(HEADER + 36 + conf.length);
  writeU64(v, HEADER, m.index);
  writeU64(v, HEADER + 8, m.term);
  writeU64(v, HEADER + 16, m.dataLength);
  v.writeUInt32BE(m.dataCrc, HEADER + 24);
  v.writeUInt32BE(m.chunkSize, HEADER + 28);
  v.writeUInt32BE(m.chunkCount, HEADER + 32);
  conf.copy(v, HEADER + 36);
  return seal(ks.fixed('snapMeta'), v);
}

export function decodeSnapMeta(value: Uint8Array, ks: KeySpace = G1): StoredSnapMeta {
  const p = openRecord(ks.fixed('snapMeta'), value);
  if (p.length < 36) throw new RecordError('snapshot metadata truncated');
  let conf: unknown;
  try {
    conf = JSON.parse(p.subarray(36).toString('utf8'));
  } catch {
    throw new RecordError('snapshot conf state is not JSON');
  }
  if (!isConfState(conf)) throw new RecordError('snapshot conf state is malformed');
  const m: StoredSnapMeta = {
    index: readU64(p, 0),
    term: readU64(p, 8),
    dataLength: readU64(p, 16),
    dataCrc: p.readUInt32BE(24),
    chunkSize: p.readUInt32BE(28),
    chunkCount: p.readUInt32BE(32),
    conf,
  };
  const expectedChunks = m.chunkSize === 0 ? -1 : Math.ceil(m.dataLength / m.chunkSize);
  if (m.chunkCount !== expectedChunks) {
    throw new RecordError(`snapshot metadata claims ${m.chunkCount} chunks for ${m.dataLength} bytes`);
  }
  return m;
}

export function encodeChunk(key: Buffer, chunk: Uint8Array): Buffer {
  const v = Buffer.allocUnsafe(HEADER + chunk.byteLength);
  v.set(chunk, HEADER);
  return seal(key, v);
}

export function encodeQuarantine(reason: string, ks: KeySpace = G1): Buffer {
  const r = Buffer.from(reason, 'utf8');
  const v = Buffer.allocUnsafe(HEADER + r.length);
  r.copy(v, HEADER);
  return seal(ks.fixed('quarantine'), v);
}

export const decodeQuarantine = (value: Uint8Array, ks: KeySpace = G1): string => openRecord(ks.fixed('quarantine'), value).toString('utf8');

/** The drop marker (engine.ts): its presence is all it says. */
export function encodeDropping(ks: KeySpace = G1): Buffer {
  return seal(ks.fixed('dropping'), Buffer.allocUnsafe(HEADER));
}

/** Longest cluster id stored: the id travels in every peer handshake and close reason. */
export const MAX_CLUSTER_ID_BYTES = 64;

/** Why `id` cannot be a cluster id, or undefined: 1-64 bytes of printable ASCII. */
export function clusterIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'a cluster id is a non-empty string';
  if (id.length > MAX_CLUSTER_ID_BYTES) return `a cluster id is at most ${MAX_CLUSTER_ID_BYTES} characters`;
  if (!/^[\x21-\x7e]+$/.test(id)) return 'a cluster id is printable ASCII without spaces';
  return undefined;
}

export function encodeClusterId(id: string, ks: KeySpace = G1): Buffer {
  const r = Buffer.from(id, 'latin1');
  const v = Buffer.allocUnsafe(HEADER + r.length);
  r.copy(v, HEADER);
  return seal(ks.fixed('clusterId'), v);
}

export function decodeClusterId(value: Uint8Array, ks: KeySpace = G1): string {
  const id = openRecord(ks.fixed('clusterId'), value).toString('latin1');
  const problem = clusterIdProblem(id);
  if (problem) throw new RecordError(problem);
  return id;
}

// ---- helpers ----

function isConfState(x: unknown): x is ConfState {
  const strings = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === 'string');
  return typeof x === 'object' && x !== null && strings((x as ConfState).voters) && strings((x as ConfState).learners);
}

function readU64(b: Buffer, off: number): number {
  const n = readU64Safe(b, off);
  if (n === undefined) throw new RecordError('number exceeds 2^53');
  return n;
}
