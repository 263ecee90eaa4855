/**
 * The keyspace snapshot format, shared by the writer (snapshot.ts) and the reader
 * (snapshot-read.ts), and the checks run on an image before it is installed.
 *
 * Format (all varints unsigned LEB128):
 *   "RKVS" FORMAT(u8 = 1 .. 7) index count nbuckets {bucket deletedAt}*
 *   [FORMAT 2-7: nsettings {name(len, bytes) value(len, bytes)}*]
 *   [FORMAT 3-7: highTs]
 *   [FORMAT 4-7: nextSeq]
 *   [FORMAT 6, 7: nranges {start end}* nsplits {index group start end}* dropAfter dropEnd]
 *   count x { [FORMAT 4-7: seq - previous record's seq (0 before the first)]
 *             key(len, bytes) value(len, bytes) expiresAt(0 = none) version }    (FORMAT 1-6)
 *           { [seq delta] key(len, bytes) type(u8) expiresAt version value }     (FORMAT 7)
 *   [FORMAT 5-7: nsessions {key(len, bytes) fingerprint(len, bytes) index expiresAt
 *                            results(len, bytes)}*]
 *   crc32(u32 LE) of every preceding byte
 * FORMAT 2 adds the cluster-wide settings (settings.ts) in their canonical text form. FORMAT 3
 * adds the newest entry timestamp applied (KvStore.highTs, a varint of 6 bytes for today's
 * times), so that a node restored from it never stamps or reads at an older time than the log
 * holds. A store with neither still writes FORMAT 1, and one with settings but no timestamp
 * FORMAT 2: an older version can install those. Every older format still loads (highTs 0).
 * FORMAT 4 adds each key's creation sequence (Item.seq, the SCAN cursor; a delta, nearly always
 * one byte) and the keyspace's nextSeq, so that a SCAN continued on a node restored from the
 * snapshot neither skips nor repeats keys. It is written only when deletions left gaps
 * (nextSeq != count + 1): otherwise the seqs are exactly 1..count, which is what a restore of
 * an older format numbers them, and FORMAT 1-3 loses nothing.
 * FORMAT 5 adds the idempotency records (sessions.ts) in table order, after the keys; written
 * only when there are any. It always carries FORMAT 4's seqs.
 * FORMAT 6 (issue 13) adds, after nextSeq, the slots the image owns, the splits the store made
 * and its cleanup walk: `nranges {start end}* nsplits {index group start end}* dropAfter
 * dropEnd`, ranges canonical (owned.ts), the walk 0 0 when none is pending (keyspace.ts).
 * It always carries FORMAT 5's section (nsessions may be 0). Written only when the image does
 * not own every slot (a group that split, or the image of one split off) or records a split;
 * a store that owns every slot writes what it wrote before.
 * FORMAT 7 (issue 14) tags each record with its value's type (types.ts TYPE) and puts the
 * value last: a string as `value(len, bytes)`, a hash or set as `hashtable(u8: 0 = listpack
 * or intset, 1 = hashtable) n` and its n elements by position (a hash's `field value`, a set's
 * `member`, each len, bytes; a sorted set's `member score`, the score a double of 8 bytes LE,
 * in order for a listpack and by position for a skiplist, flagged 1), which the writer streams
 * across chunks like any other bytes; a list (tag 3) as `head(u8) n` and its elements from the
 * head, `head` being its first chunk's length (1..32; structs/deque.ts), so a restore rebuilds
 * its shape and accounted bytes. It
 * always carries FORMAT 6's and 5's sections, and is written only when some key holds a
 * collection: a keyspace of strings writes what it wrote before.
 * Records are in creation order; a restore rebuilds the LRU lists in that order (LRU order is
 * leader-local bookkeeping, not replicated state). Replicas that applied the same log write
 * byte-identical snapshots.
 */
import { Buffer } from 'node:buffer';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { ByteReader, type ByteWriter, ShortInputError, uvarintSize } from './bytes.ts';
import { SnapshotFormatError } from './errors.ts';
import { VERSION_BUCKETS } from './keyspace.ts';
import { LAST_SLOT, type SlotRange, SlotSet } from './owned.ts';
import type { SessionRecord } from './sessions.ts';
import { type ClusterSettings, mergeSettings } from './settings.ts';

export const MAGIC = Buffer.from('RKVS', 'latin1');
/** Without settings. */
export const FORMAT_1 = 1;
/** With the cluster-wide settings after the version buckets. */
export const FORMAT_2 = 2;
/** FORMAT 2 plus the high-water entry timestamp after the settings. */
export const FORMAT_3 = 3;
/** FORMAT 3 plus the keys' creation sequences and the keyspace's nextSeq. */
export const FORMAT_4 = 4;
/** FORMAT 4 plus the idempotency records after the keys. */
export const FORMAT_5 = 5;
/** FORMAT 5 plus the slots owned and the splits made. */
export const FORMAT_6 = 6;
/** FORMAT 6 with typed records: hashes and sets (issue 14). */
export const FORMAT_7 = 7;

export function knownFormat(format: number): boolean {
  return format >= FORMAT_1 && format <= FORMAT_7;
}

/** A split the store made: at log `index` it gave `slots` to the new `group` (split.ts). */
export interface SplitRecord {
  readonly index: number;
  readonly group: number;
  readonly slots: SlotRange;
}

/** Largest group id (uint32). */
export const MAX_GROUP_ID = 0xffffffff;
/** Target chunk size: one chunk is one slice of synchronous work (well under 5 ms). */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

/**
 * Why `image` cannot be a keyspace snapshot, judged by its magic, format and trailing crc32, or
 * undefined if it may be one. Checked before a snapshot from a peer reaches the core: once the
 * core takes a snapshot it is saved, and a restore that then fails would stop the node at
 * every start. The crc runs over 4 MiB slices with a turn of the event loop between them.
 */
export async function snapshotImageProblem(image: Uint8Array): Promise<string | undefined> {
  if (image.length < MAGIC.length + 1 + 4) return 'shorter than a snapshot';
  if (!MAGIC.equals(image.subarray(0, MAGIC.length))) return 'bad magic';
  const format = image[MAGIC.length];
  if (!knownFormat(format)) return `unknown format ${format}`;
  const end = image.length - 4;
  let crc = 0;
  for (let at = 0; at < end; at += CHECK_SLICE_BYTES) {
    if (at > 0) await yieldToEventLoop();
    crc = crc32(image.subarray(at, Math.min(end, at + CHECK_SLICE_BYTES)), crc);
  }
  const expected = Buffer.from(image.buffer, image.byteOffset + end, 4).readUInt32LE(0);
  return crc === expected ? undefined : 'checksum mismatch';
}

const CHECK_SLICE_BYTES = 4 * 1024 * 1024;

/** A record's size; `seqBytes` is its seq delta's (0 before FORMAT 4). */
export function recordSize(seqBytes: number, key: string, value: string, expiresAt: number, version: number): number {
  return seqBytes + uvarintSize(key.length) + key.length + uvarintSize(value.length) + value.length + uvarintSize(expiresAt) + uvarintSize(version);
}

export interface Header {
  format: number;
  index: number;
  count: number;
  buckets: [number, number][];
  settings: ClusterSettings;
  highTs: number;
  /** FORMAT 4: the keyspace's nextSeq; 0 when records carry no seq (renumbered 1..count). */
  nextSeq: number;
  /** FORMAT 6: the slots owned; null = every slot (as every older format). */
  owned: SlotSet | null;
  splits: SplitRecord[];
  /** FORMAT 6: the cleanup walk [dropAfter, dropEnd]; [0, 0] when none is pending. */
  cleanup: [number, number];
}

/** More than any version defines; a bound so a corrupt count cannot loop for long. */
const MAX_SETTINGS = 1024;

export function readHeader(r: ByteReader): Header {
  for (let i = 0; i < MAGIC.length; i++) {
    if (r.u8() !== MAGIC[i]) throw new SnapshotFormatError('bad magic');
  }
  const format = r.u8();
  if (!knownFormat(format)) throw new SnapshotFormatError(`unknown format ${format}`);
  const index = r.uvarint();
  const count = r.uvarint();
  const n = r.uvarint();
  if (n > VERSION_BUCKETS) throw new SnapshotFormatError(`${n} version buckets`);
  const buckets: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const b = r.uvarint();
    if (b >= VERSION_BUCKETS) throw new SnapshotFormatError(`version bucket ${b}`);
    buckets.push([b, r.uvarint()]);
  }
  const settings: ClusterSettings = {};
  if (format !== FORMAT_1) {
    const ns = r.uvarint();
    if (ns > MAX_SETTINGS) throw new SnapshotFormatError(`${ns} settings`);
    const pairs: [Uint8Array, Uint8Array][] = [];
    // Copies: the input chunks may be reused once read.
    for (let i = 0; i < ns; i++) pairs.push([Buffer.from(r.bytes()), Buffer.from(r.bytes())]);
    // A setting this version does not know (a newer version's) is dropped, as apply would.
    mergeSettings(settings, pairs);
  }
  const highTs = format >= FORMAT_3 ? r.uvarint() : 0;
  const nextSeq = format >= FORMAT_4 ? r.uvarint() : 0;
  if (format >= FORMAT_4 && nextSeq <= count) throw new SnapshotFormatError(`nextSeq ${nextSeq} for ${count} keys`);
  const sharding = format >= FORMAT_6 ? readSharding(r, index, nextSeq) : { owned: null, splits: [], cleanup: [0, 0] as [number, number] };
  return { format, index, count, buckets, settings, highTs, nextSeq, ...sharding };
}

/** Canonical ranges (disjoint, non-adjacent) hold at most this many: one slot of every two. */
const MAX_RANGES = (LAST_SLOT + 2) / 2;
/** Every split gives up at least one slot and keeps one. */
const MAX_SPLITS = LAST_SLOT;

/** FORMAT 6's section, checked as apply would have made it. */
function readSharding(r: ByteReader, index: number, nextSeq: number): Pick<Header, 'owned' | 'splits' | 'cleanup'> {
  const n = r.uvarint();
  if (n === 0 || n > MAX_RANGES) throw new SnapshotFormatError(`${n} slot ranges`);
  const ranges: SlotRange[] = [];
  for (let i = 0; i < n; i++) {
    const start = r.uvarint();
    const end = r.uvarint();
    // Canonical only: a replica writes merged ranges, and a restore must write the same bytes.
    if (start > LAST_SLOT || end > LAST_SLOT || start > end || (i > 0 && start <= ranges[i - 1][1] + 1)) {
      throw new SnapshotFormatError(`slot range [${start}, ${end}]`);
    }
    ranges.push([start, end]);
  }
  const ns = r.uvarint();
  if (ns > MAX_SPLITS) throw new SnapshotFormatError(`${ns} splits`);
  const splits: SplitRecord[] = [];
  const groups = new Set<number>();
  for (let i = 0; i < ns; i++) {
    const at = r.uvarint();
    const group = r.uvarint();
    const start = r.uvarint();
    const end = r.uvarint();
    if (at > index || (i > 0 && at <= splits[i - 1].index)) throw new SnapshotFormatError(`split at index ${at}`);
    if (group === 0 || group > MAX_GROUP_ID || groups.has(group)) throw new SnapshotFormatError(`split to group ${group}`);
    if (start > LAST_SLOT || end > LAST_SLOT || start > end) throw new SnapshotFormatError(`split of slots [${start}, ${end}]`);
    groups.add(group);
    splits.push({ index: at, group, slots: [start, end] });
  }
  const after = r.uvarint();
  const end = r.uvarint();
  // None pending (0 0), or a walk that has seqs left, below nextSeq.
  if ((after !== 0 || end !== 0) && (end < 2 || after > end - 2 || end > nextSeq)) throw new SnapshotFormatError(`cleanup walk (${after}, ${end})`);
  const owned = new SlotSet(ranges);
  if (owned.full && end !== 0) throw new SnapshotFormatError('cleanup walk without a split');
  return { owned: owned.full ? null : owned, splits, cleanup: [after, end] };
}

export function shardingSize(ranges: readonly SlotRange[], splits: readonly SplitRecord[], cleanup: readonly [number, number]): number {
  let size = uvarintSize(ranges.length) + uvarintSize(splits.length) + uvarintSize(cleanup[0]) + uvarintSize(cleanup[1]);
  for (const [start, end] of ranges) size += uvarintSize(start) + uvarintSize(end);
  for (const s of splits) size += uvarintSize(s.index) + uvarintSize(s.group) + uvarintSize(s.slots[0]) + uvarintSize(s.slots[1]);
  return size;
}

export function writeSharding(w: ByteWriter, ranges: readonly SlotRange[], splits: readonly SplitRecord[], cleanup: readonly [number, number]): void {
  w.uvarint(ranges.length);
  for (const [start, end] of ranges) {
    w.uvarint(start);
    w.uvarint(end);
  }
  w.uvarint(splits.length);
  for (const s of splits) {
    w.uvarint(s.index);
    w.uvarint(s.group);
    w.uvarint(s.slots[0]);
    w.uvarint(s.slots[1]);
  }
  w.uvarint(cleanup[0]);
  w.uvarint(cleanup[1]);
}

/**
 * What an image's header says (a backup file repeats it in its own header), from the image's
 * first bytes: undefined when they end before the header does. SnapshotFormatError if it is
 * not an image of a format this version reads.
 */
export function snapshotImageSummary(prefix: Uint8Array): { format: number; index: number; keyCount: number } | undefined {
  try {
    const header = readHeader(new ByteReader(prefix));
    return { format: prefix[MAGIC.length], index: header.index, keyCount: header.count };
  } catch (err) {
    if (err instanceof ShortInputError) return undefined;
    throw err;
  }
}
export function sessionSize(r: SessionRecord): number {
  return (
    uvarintSize(r.key.length) +
    r.key.length +
    uvarintSize(r.fingerprint.length) +
    r.fingerprint.length +
    uvarintSize(r.index) +
    uvarintSize(r.expiresAt) +
    uvarintSize(r.results.length) +
    r.results.length
  );
}

export function writeSession(w: ByteWriter, r: SessionRecord): void {
  w.binary(r.key);
  w.binary(r.fingerprint);
  w.uvarint(r.index);
  w.uvarint(r.expiresAt);
  w.binary(r.results);
}
