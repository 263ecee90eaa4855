/**
 * Snapshots of the keyspace that stay consistent at the index they were taken at while applies
 * continue, produced and restored in slices so the event loop never stalls (heartbeats!).
 *
 * Taking one is O(1) in keys (the idempotency records, a few hundred thousand at most, are
 * copied as a list of references; records never change): the writer keeps a reference to the keyspace's creation-order array and
 * its current length. That array is only appended to (new keys, which the snapshot must not
 * see, land past that length) or replaced by a new array (compaction, FLUSHALL), never changed
 * in place, so the writer's view stays exactly the set of keys that existed. A key is pending
 * while doneSeq < seq < endSeq; before such a key's value, expiry or version changes, or it is
 * removed, Keyspace calls `preserve` and the writer keeps the old fields (three references:
 * values are immutable strings). Keys removed before the snapshot began are dead in the array
 * and skipped.
 *
 * Format (all varints unsigned LEB128):
 *   "RKVS" FORMAT(u8 = 1 | 2 | 3 | 4 | 5) index count nbuckets {bucket deletedAt}*
 *   [FORMAT 2-5: nsettings {name(len, bytes) value(len, bytes)}*]
 *   [FORMAT 3-5: highTs]
 *   [FORMAT 4, 5: nextSeq]
 *   count x { [FORMAT 4, 5: seq - previous record's seq (0 before the first)]
 *             key(len, bytes) value(len, bytes) expiresAt(0 = none) version }
 *   [FORMAT 5: nsessions {key(len, bytes) fingerprint(len, bytes) index expiresAt
 *                         results(len, bytes)}*]
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
 * Records are in creation order; a restore rebuilds the LRU lists in that order (LRU order is
 * leader-local bookkeeping, not replicated state). Replicas that applied the same log write
 * byte-identical snapshots.
 */
import { Buffer } from 'node:buffer';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { ByteReader, ByteWriter, ShortInputError, uvarintSize } from './bytes.ts';
import { SnapshotAbortedError, SnapshotFormatError } from './errors.ts';
import type { Item } from './item.ts';
import { type ItemImage, Keyspace, VERSION_BUCKETS } from './keyspace.ts';
import { type ClusterSettings, mergeSettings, settingPairs } from './settings.ts';
import { decodeResults, MAX_FINGERPRINT_BYTES, MAX_SESSION_BYTES, MAX_SESSION_KEY_BYTES, MAX_SESSION_RESULT_BYTES, SESSION_OVERHEAD, type SessionRecord, Sessions } from './sessions.ts';
import { ChunkSource } from './snapshot-input.ts';

const MAGIC = Buffer.from('RKVS', 'latin1');
/** Without settings. */
const FORMAT_1 = 1;
/** With the cluster-wide settings after the version buckets. */
const FORMAT_2 = 2;
/** FORMAT 2 plus the high-water entry timestamp after the settings. */
const FORMAT_3 = 3;
/** FORMAT 3 plus the keys' creation sequences and the keyspace's nextSeq. */
const FORMAT_4 = 4;
/** FORMAT 4 plus the idempotency records after the keys. */
const FORMAT_5 = 5;

function knownFormat(format: number): boolean {
  return format >= FORMAT_1 && format <= FORMAT_5;
}
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
/** Records restored between two yields to the event loop. */
const RESTORE_SLICE = 1024;

/** A record's size; `seqBytes` is its seq delta's (0 before FORMAT 4). */
function recordSize(seqBytes: number, key: string, value: string, expiresAt: number, version: number): number {
  return seqBytes + uvarintSize(key.length) + key.length + uvarintSize(value.length) + value.length + uvarintSize(expiresAt) + uvarintSize(version);
}

/**
 * A snapshot in progress: iterate it (once) to get the chunks. Cancelling it, or beginning a
 * newer snapshot on the same store, makes a pending iteration throw SnapshotAbortedError.
 *
 * With `reuseChunks`, a chunk is valid only until the iteration resumes: the writer fills the
 * same buffer again. For a consumer that copies each chunk at once, that spares a 1M-key
 * snapshot 500 x 256 KB of short-lived allocations (external memory the GC must collect, and
 * malloc churn between long-lived log entries).
 */
export class SnapshotWriter implements AsyncIterable<Uint8Array> {
  /** The last applied log index the snapshot reflects. */
  readonly index: number;
  readonly keyCount: number;
  private items: Item[];
  private readonly end: number;
  /** Keyspace.nextSeq at the start: every key the snapshot covers has a smaller seq. */
  private readonly nextSeq: number;
  private readonly fmt: number;
  /** Whether records carry their seq (FORMAT 4, 5). */
  private readonly withSeqs: boolean;
  private readonly originals = new Map<Item, ItemImage>();
  private readonly buckets: Float64Array;
  /** The cluster-wide settings as of `index`, canonical pairs (copies: apply may change them). */
  private readonly settings: [Uint8Array, Uint8Array][];
  /** KvStore.highTs as of `index`. */
  readonly highTs: number;
  /** The idempotency records as of `index` (immutable records; the list is the snapshot's own). */
  private sessions: readonly SessionRecord[];
  private state: 'ready' | 'running' | 'done' | 'aborted' = 'ready';
  /** The last chunk, once its consumer is done with it (reuseChunks only). */
  private spare: Buffer | undefined;

  constructor(
    private readonly ks: Keyspace,
    index: number,
    private readonly chunkBytes = SNAPSHOT_CHUNK_BYTES,
    private readonly reuseChunks = false,
    settings: Readonly<ClusterSettings> = {},
    highTs = 0,
    sessions: readonly SessionRecord[] = [],
  ) {
    this.index = index;
    this.settings = settingPairs(settings);
    this.highTs = highTs;
    this.sessions = sessions;
    this.keyCount = ks.size;
    this.items = ks.order;
    this.end = ks.order.length;
    this.nextSeq = ks.nextSeq;
    this.fmt = this.pickFormat();
    this.withSeqs = this.fmt >= FORMAT_4;
    this.buckets = ks.deletedAt.slice();
    ks.snapEnd = ks.nextSeq;
    ks.snapDone = 0;
    ks.preserve = this.preserve;
  }

  private readonly preserve = (item: Item): void => {
    if (!this.originals.has(item)) {
      this.originals.set(item, { value: item.value, expiresAt: item.expiresAt, version: item.version });
    }
  };

  get done(): boolean {
    return this.state === 'done';
  }

  /** Stops the snapshot and releases what it holds. */
  cancel(): void {
    if (this.state === 'done' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.detach();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.state !== 'ready') throw new SnapshotAbortedError();
    this.state = 'running';
    try {
      let crc = 0;
      let written = 0;
      let prevSeq = 0;
      let w = this.chunk(this.headerSize());
      this.writeHeader(w);
      for (let i = 0; i < this.end; i++) {
        const item = this.items[i];
        let img = this.imageOf(item);
        if (img === undefined) {
          this.ks.snapDone = item.seq;
          continue;
        }
        const seqDelta = item.seq - prevSeq;
        const seqBytes = this.withSeqs ? uvarintSize(seqDelta) : 0;
        let size = recordSize(seqBytes, item.key, img.value, img.expiresAt, img.version);
        if (w.pos + size > w.buf.length) {
          const out = w.buf.subarray(0, w.pos);
          crc = crc32(out, crc);
          yield out;
          await yieldToEventLoop();
          if (this.state !== 'running') throw new SnapshotAbortedError();
          if (this.reuseChunks) this.spare = w.buf;
          // Still pending while we were suspended, so a write meanwhile was preserved: re-read.
          img = this.imageOf(item)!;
          size = recordSize(seqBytes, item.key, img.value, img.expiresAt, img.version);
          w = this.chunk(size);
        }
        // Marked done only once written: until then a write to it must preserve the old fields.
        this.ks.snapDone = item.seq;
        if (this.withSeqs) w.uvarint(seqDelta);
        prevSeq = item.seq;
        w.binary(item.key);
        w.binary(img.value);
        w.uvarint(img.expiresAt);
        w.uvarint(img.version);
        this.originals.delete(item);
        written++;
      }
      // Every key live at the start is either still live or preserved: anything else is a bug.
      if (written !== this.keyCount) throw new Error(`snapshot wrote ${written} of ${this.keyCount} keys`);
      if (this.format() === FORMAT_5) {
        const sessions = this.sessions;
        for (let i = -1; i < sessions.length; i++) {
          const size = i < 0 ? uvarintSize(sessions.length) : sessionSize(sessions[i]);
          if (w.pos + size > w.buf.length) {
            const out = w.buf.subarray(0, w.pos);
            crc = crc32(out, crc);
            yield out;
            await yieldToEventLoop();
            if (this.state !== 'running') throw new SnapshotAbortedError();
            if (this.reuseChunks) this.spare = w.buf;
            w = this.chunk(size);
          }
          if (i < 0) w.uvarint(sessions.length);
          else writeSession(w, sessions[i]);
        }
      }
      if (w.pos + 4 > w.buf.length) {
        const out = w.buf.subarray(0, w.pos);
        crc = crc32(out, crc);
        yield out;
        if (this.reuseChunks) this.spare = w.buf;
        w = this.chunk(4);
      }
      crc = crc32(w.buf.subarray(0, w.pos), crc);
      w.buf.writeUInt32LE(crc, w.pos);
      w.pos += 4;
      this.state = 'done';
      this.detach();
      yield w.buf.subarray(0, w.pos);
    } finally {
      if (this.state !== 'done') this.state = 'aborted';
      this.detach();
    }
  }

  /** The fields to write for `item` as of the snapshot start; undefined if it did not exist. */
  private imageOf(item: Item): ItemImage | undefined {
    return this.originals.get(item) ?? (item.live ? item : undefined);
  }

  private chunk(min: number): ByteWriter {
    const spare = this.spare;
    if (spare !== undefined && spare.length >= min) return new ByteWriter(spare);
    return new ByteWriter(Buffer.allocUnsafe(Math.max(this.chunkBytes, min)));
  }

  private nonzeroBuckets(): number[] {
    const out: number[] = [];
    for (let b = 0; b < VERSION_BUCKETS; b++) if (this.buckets[b] !== 0) out.push(b);
    return out;
  }

  private headerSize(): number {
    let size = MAGIC.length + 1 + uvarintSize(this.index) + uvarintSize(this.keyCount) + uvarintSize(VERSION_BUCKETS);
    for (const b of this.nonzeroBuckets()) size += uvarintSize(b) + uvarintSize(this.buckets[b]);
    if (this.format() !== FORMAT_1) {
      size += uvarintSize(this.settings.length);
      for (const [n, v] of this.settings) size += uvarintSize(n.length) + n.length + uvarintSize(v.length) + v.length;
    }
    if (this.format() >= FORMAT_3) size += uvarintSize(this.highTs);
    if (this.format() >= FORMAT_4) size += uvarintSize(this.nextSeq);
    return size;
  }

  /** Fixed at the start: detach() drops the session list the choice depends on. */
  private format(): number {
    return this.fmt;
  }

  /** The oldest format that holds what this snapshot carries (the header comment says why). */
  private pickFormat(): number {
    if (this.sessions.length > 0) return FORMAT_5;
    if (this.nextSeq !== this.keyCount + 1) return FORMAT_4;
    if (this.highTs > 0) return FORMAT_3;
    return this.settings.length > 0 ? FORMAT_2 : FORMAT_1;
  }

  private writeHeader(w: ByteWriter): void {
    w.buf.set(MAGIC, 0);
    w.pos = MAGIC.length;
    const format = this.format();
    w.u8(format);
    w.uvarint(this.index);
    w.uvarint(this.keyCount);
    const buckets = this.nonzeroBuckets();
    w.uvarint(buckets.length);
    for (const b of buckets) {
      w.uvarint(b);
      w.uvarint(this.buckets[b]);
    }
    if (format === FORMAT_1) return;
    w.uvarint(this.settings.length);
    for (const [n, v] of this.settings) {
      w.bytes(n);
      w.bytes(v);
    }
    if (format === FORMAT_2) return;
    w.uvarint(this.highTs);
    if (format >= FORMAT_4) w.uvarint(this.nextSeq);
  }

  private detach(): void {
    if (this.ks.preserve === this.preserve) {
      this.ks.snapEnd = 0;
      this.ks.snapDone = 0;
      this.ks.preserve = null;
    }
    this.items = [];
    this.sessions = [];
    this.originals.clear();
  }
}

interface Header {
  format: number;
  index: number;
  count: number;
  buckets: [number, number][];
  settings: ClusterSettings;
  highTs: number;
  /** FORMAT 4: the keyspace's nextSeq; 0 when records carry no seq (renumbered 1..count). */
  nextSeq: number;
}

/** More than any version defines; a bound so a corrupt count cannot loop for long. */
const MAX_SETTINGS = 1024;

function readHeader(r: ByteReader): Header {
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
  return { format, index, count, buckets, settings, highTs, nextSeq };
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

/** Builds a new keyspace from a snapshot stream; the caller swaps it in when this resolves. */
export async function readSnapshot(
  source: AsyncIterable<Uint8Array> | Uint8Array,
): Promise<{ ks: Keyspace; index: number; settings: ClusterSettings; highTs: number; sessions: Sessions }> {
  const src = new ChunkSource(source);
  try {
    const header = await src.read(readHeader);
    const ks = new Keyspace();
    for (const [b, index] of header.buckets) ks.deletedAt[b] = index;
    let remaining = header.count;
    let sinceYield = 0;
    const withSeqs = header.nextSeq > 0;
    let seq = 0;
    while (remaining > 0) {
      const r = new ByteReader(src.buf, src.pos);
      try {
        while (remaining > 0 && sinceYield < RESTORE_SLICE) {
          const next = withSeqs ? seq + r.uvarint() : seq + 1;
          const key = r.binary();
          const value = r.binary();
          const expiresAt = r.uvarint();
          const version = r.uvarint();
          src.pos = r.pos;
          if (ks.map.has(key)) throw new SnapshotFormatError('duplicate key');
          // Seqs ascend (SCAN's binary search over `order` relies on it) and stay below nextSeq.
          if (next <= seq || (withSeqs && next >= header.nextSeq)) throw new SnapshotFormatError(`key seq ${next} after ${seq}`);
          seq = next;
          ks.nextSeq = seq; // create() takes it and moves on
          ks.create(key, value, expiresAt, version);
          remaining--;
          sinceYield++;
        }
      } catch (err) {
        if (!(err instanceof ShortInputError)) throw err;
        if (!(await src.grow())) throw new SnapshotFormatError('truncated');
        continue;
      }
      if (sinceYield >= RESTORE_SLICE) {
        await yieldToEventLoop();
        sinceYield = 0;
      }
    }
    const sessions = header.format === FORMAT_5 ? await readSessions(src) : new Sessions();
    const expected = src.consumedCrc();
    const crc = await src.read((r) => {
      if (r.remaining < 4) throw new ShortInputError('crc');
      r.pos += 4;
      return r.buf.readUInt32LE(r.pos - 4);
    });
    if (crc !== expected) throw new SnapshotFormatError('checksum mismatch');
    if (withSeqs) ks.nextSeq = header.nextSeq;
    if (src.available > 0 || (await src.grow())) throw new SnapshotFormatError('trailing bytes');
    return { ks, index: header.index, settings: header.settings, highTs: header.highTs, sessions };
  } catch (err) {
    if (err instanceof SnapshotFormatError) throw err;
    throw new SnapshotFormatError((err as Error).message);
  }
}

function sessionSize(r: SessionRecord): number {
  return (
    uvarintSize(r.key.length) + r.key.length + uvarintSize(r.fingerprint.length) + r.fingerprint.length +
    uvarintSize(r.index) + uvarintSize(r.expiresAt) + uvarintSize(r.results.length) + r.results.length
  );
}

function writeSession(w: ByteWriter, r: SessionRecord): void {
  w.binary(r.key);
  w.binary(r.fingerprint);
  w.uvarint(r.index);
  w.uvarint(r.expiresAt);
  w.binary(r.results);
}

/** More records than the table can hold: a corrupt count, refused before any loop. */
const MAX_SESSION_RECORDS = Math.ceil(MAX_SESSION_BYTES / SESSION_OVERHEAD) + 1;

/** FORMAT 5's idempotency records, each checked as apply would have made it. */
async function readSessions(src: ChunkSource): Promise<Sessions> {
  const n = await src.read((r) => r.uvarint());
  if (n > MAX_SESSION_RECORDS) throw new SnapshotFormatError(`${n} idempotency records`);
  const sessions = new Sessions();
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % RESTORE_SLICE === 0) await yieldToEventLoop();
    const rec = await src.read(
      (r): SessionRecord => ({ key: r.binary(), fingerprint: r.binary(), index: r.uvarint(), expiresAt: r.uvarint(), results: r.binary() }),
    );
    if (rec.key.length === 0 || rec.key.length > MAX_SESSION_KEY_BYTES) throw new SnapshotFormatError('idempotency key length');
    if (rec.fingerprint.length === 0 || rec.fingerprint.length > MAX_FINGERPRINT_BYTES) throw new SnapshotFormatError('idempotency fingerprint length');
    if (rec.results.length > MAX_SESSION_RESULT_BYTES) throw new SnapshotFormatError('idempotency results length');
    try {
      decodeResults(rec.results);
    } catch (err) {
      throw new SnapshotFormatError(`idempotency results: ${(err as Error).message}`);
    }
    if (sessions.has(rec.key)) throw new SnapshotFormatError('duplicate idempotency key');
    sessions.add(rec);
  }
  return sessions;
}
