/**
 * Snapshots of the keyspace that stay consistent at the index they were taken at while applies
 * continue, produced in slices so the event loop never stalls (heartbeats!). The format is in
 * snapshot-format.ts; snapshot-read.ts restores one.
 *
 * Taking one is O(1) in keys (the idempotency records, a few hundred thousand at most, are
 * copied as a list of references; records never change): the writer keeps a reference to the
 * keyspace's creation-order array and its current length. That array is only appended to (new keys, which the snapshot must not
 * see, land past that length) or replaced by a new array (compaction, FLUSHALL), never changed
 * in place, so the writer's view stays exactly the set of keys that existed. A key is pending
 * while doneSeq < seq < endSeq; before such a key's value, expiry or version changes, or it is
 * removed, Keyspace calls `preserve` and the writer keeps the old fields (three references:
 * values are immutable strings). Keys removed before the snapshot began are dead in the array
 * and skipped.
 *
 * A writer may be limited to a set of slots (issue 13): it then writes only the keys of those
 * slots, and the image owns exactly them (FORMAT 6). A store's own snapshot is limited to the
 * slots it owns, so keys given up in a split and not yet dropped never reach it; the image of a
 * group split off is limited to the slots given up. Several writers may run on one keyspace at
 * once (Keyspace.attach), so a split's image and the store's own snapshot never cancel each other.
 */
import { Buffer } from 'node:buffer';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { ByteWriter, uvarintSize } from './bytes.ts';
import { SnapshotAbortedError } from './errors.ts';
import type { Item } from './item.ts';
import { ItemMap } from './item-map.ts';
import { type ItemImage, type Keyspace, type SnapshotHook, VERSION_BUCKETS } from './keyspace.ts';
import { ALL_SLOTS, type SlotRange, type SlotSet } from './owned.ts';
import type { SessionRecord } from './sessions.ts';
import { type ClusterSettings, settingPairs } from './settings.ts';
import { binarySlot } from './slot.ts';
import {
  FORMAT_1,
  FORMAT_2,
  FORMAT_3,
  FORMAT_4,
  FORMAT_5,
  FORMAT_6,
  FORMAT_7,
  MAGIC,
  recordSize,
  SNAPSHOT_CHUNK_BYTES,
  type SplitRecord,
  sessionSize,
  shardingSize,
  writeSession,
  writeSharding,
} from './snapshot-format.ts';
import { type CollectionImage, imageCount } from './structs/image.ts';
import { TYPE } from './types.ts';
import { COLLECTION_CODECS, collectionHeadSize, writeCollectionHead } from './value-codec.ts';

/** What a snapshot covers besides the keyspace: replicated state of the store, as of its index. */
export interface SnapshotState {
  settings?: Readonly<ClusterSettings>;
  highTs?: number;
  sessions?: readonly SessionRecord[];
  /**
   * The slots the image holds, and owns once restored: only keys of these slots are written.
   * null (the default) = every key held, and the image owns every slot.
   */
  slots?: SlotSet | null;
  /** The splits the store made (FORMAT 6). */
  splits?: readonly SplitRecord[];
  /** The cleanup walk after a split, [dropAfter, dropEnd] (FORMAT 6; Keyspace). */
  cleanup?: readonly [after: number, end: number];
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
  /** Whether records carry their seq (FORMAT 4 and later). */
  private readonly withSeqs: boolean;
  /** Whether records carry a type tag (FORMAT 7: some key held a collection at the start). */
  private readonly typed: boolean;
  private readonly originals = new ItemMap<ItemImage>();
  private readonly slots: SlotSet | null;
  private readonly splits: readonly SplitRecord[];
  private readonly cleanup: readonly [number, number];
  private readonly hook: SnapshotHook;
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
  /** CRC32 of every byte handed out so far; the last chunk ends with it. */
  private crc = 0;

  constructor(
    private readonly ks: Keyspace,
    index: number,
    private readonly chunkBytes = SNAPSHOT_CHUNK_BYTES,
    private readonly reuseChunks = false,
    state: SnapshotState = {},
  ) {
    this.index = index;
    this.settings = settingPairs(state.settings ?? {});
    this.highTs = state.highTs ?? 0;
    this.sessions = state.sessions ?? [];
    this.slots = state.slots ?? null;
    this.splits = state.splits ?? [];
    this.cleanup = state.cleanup ?? [0, 0];
    // O(slots owned) at most: the keyspace counts keys per slot.
    this.keyCount = this.slots === null ? ks.size : ks.keysIn(this.slots.ranges);
    this.items = ks.order;
    this.end = ks.order.length;
    this.nextSeq = ks.nextSeq;
    this.fmt = this.pickFormat(ks.collections > 0);
    this.withSeqs = this.fmt >= FORMAT_4;
    this.typed = this.fmt >= FORMAT_7;
    this.buckets = ks.deletedAt.slice();
    this.hook = { end: ks.nextSeq, done: 0, preserve: this.preserve };
    ks.attach(this.hook);
  }

  private readonly preserve = (item: Item): void => {
    if (this.originals.has(item)) return;
    // A key outside the image's slots is skipped: nothing to keep for it.
    if (this.slots !== null && !this.slots.has(binarySlot(item.key))) return;
    const v = item.value;
    // A collection changes in place: the snapshot keeps a copy of its arrays (O(size), once).
    this.originals.set(item, { value: typeof v === 'string' ? v : v.image(true), expiresAt: item.expiresAt, version: item.version });
  };

  /** Whether the image holds `item`'s slot (computed only for a filtered image). */
  private wanted(item: Item): boolean {
    return this.slots === null || this.slots.has(binarySlot(item.key));
  }

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
      this.crc = 0;
      let written = 0;
      let prevSeq = 0;
      let w = this.chunk(this.headerSize());
      this.writeHeader(w);
      for (let i = 0; i < this.end; i++) {
        const item = this.items[i];
        let img = this.imageOf(item);
        if (img === undefined || !this.wanted(item)) {
          this.ks.advance(this.hook, item.seq);
          continue;
        }
        const seqDelta = item.seq - prevSeq;
        const seqBytes = this.withSeqs ? uvarintSize(seqDelta) : 0;
        let size = this.headSize(seqBytes, item.key, img);
        if (w.pos + size > w.buf.length) {
          yield* this.emit(w);
          // Still pending while we were suspended, so a write meanwhile was preserved: re-read.
          img = this.imageOf(item)!;
          size = this.headSize(seqBytes, item.key, img);
          w = this.chunk(size);
        }
        if (this.withSeqs) w.uvarint(seqDelta);
        prevSeq = item.seq;
        w.binary(item.key);
        if (!this.typed) {
          // Marked done only once written: until then a write to it must preserve the old fields.
          this.ks.advance(this.hook, item.seq);
          w.binary(img.value as string);
          w.uvarint(img.expiresAt);
          w.uvarint(img.version);
        } else {
          const value = img.value;
          w.u8(TYPE[typeof value === 'string' ? 'string' : value.type]);
          w.uvarint(img.expiresAt);
          w.uvarint(img.version);
          if (typeof value === 'string') w.binary(value);
          else {
            // A collection is written in pieces, one chunk at a time; it stays pending (a write
            // to it copies it first) until its last element is out.
            writeCollectionHead(w, value);
            const codec = COLLECTION_CODECS[value.type];
            let view = value;
            for (let e = 0, n = imageCount(view); e < n; e++) {
              const esize = codec.elementSize(view, e);
              if (w.pos + esize > w.buf.length) {
                yield* this.emit(w);
                // Preserved by a write meanwhile: go on from the copy. Otherwise the view taken
                // still shows it (and a list's keeps its place in the chunks).
                view = (this.originals.get(item)?.value as CollectionImage | undefined) ?? view;
                w = this.chunk(codec.elementSize(view, e));
              }
              codec.writeElement(w, view, e);
            }
          }
          this.ks.advance(this.hook, item.seq);
        }
        this.originals.delete(item);
        written++;
      }
      // Every key live at the start is either still live or preserved: anything else is a bug.
      if (written !== this.keyCount) throw new Error(`snapshot wrote ${written} of ${this.keyCount} keys`);
      if (this.format() >= FORMAT_5) {
        const sessions = this.sessions;
        for (let i = -1; i < sessions.length; i++) {
          const size = i < 0 ? uvarintSize(sessions.length) : sessionSize(sessions[i]);
          if (w.pos + size > w.buf.length) {
            yield* this.emit(w);
            w = this.chunk(size);
          }
          if (i < 0) w.uvarint(sessions.length);
          else writeSession(w, sessions[i]);
        }
      }
      if (w.pos + 4 > w.buf.length) {
        yield* this.emit(w);
        w = this.chunk(4);
      }
      const crc = crc32(w.buf.subarray(0, w.pos), this.crc);
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

  /** Hands out what `w` holds (adding it to the checksum), lets the loop turn, and checks that
   * the snapshot is still wanted. */
  private async *emit(w: ByteWriter): AsyncGenerator<Uint8Array, void, undefined> {
    const out = w.buf.subarray(0, w.pos);
    this.crc = crc32(out, this.crc);
    yield out;
    await yieldToEventLoop();
    if (this.state !== 'running') throw new SnapshotAbortedError();
    if (this.reuseChunks) this.spare = w.buf;
  }

  /**
   * The fields to write for `item` as of the snapshot start; undefined if it did not exist. A
   * live collection is seen through its arrays, valid until the next change (which preserves).
   */
  private imageOf(item: Item): ItemImage | undefined {
    const saved = this.originals.get(item);
    if (saved !== undefined) return saved;
    if (!item.live) return undefined;
    const v = item.value;
    // A string item is its own image (no allocation per key); a collection shows its arrays.
    if (typeof v === 'string') return item as ItemImage;
    return { value: v.image(false), expiresAt: item.expiresAt, version: item.version };
  }

  /** A record's bytes up to its value (FORMAT 7: a collection's elements come after, in pieces). */
  private headSize(seqBytes: number, key: string, img: ItemImage): number {
    const v = img.value;
    if (!this.typed) return recordSize(seqBytes, key, v as string, img.expiresAt, img.version);
    const head = seqBytes + uvarintSize(key.length) + key.length + 1 + uvarintSize(img.expiresAt) + uvarintSize(img.version);
    return head + (typeof v === 'string' ? uvarintSize(v.length) + v.length : collectionHeadSize(v));
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
    if (this.format() >= FORMAT_6) size += shardingSize(this.ownedRanges(), this.splits, this.cleanup);
    return size;
  }

  /** Fixed at the start: detach() drops the session list the choice depends on. */
  private format(): number {
    return this.fmt;
  }

  /** The ranges the image owns, as FORMAT 6 writes them. */
  private ownedRanges(): readonly SlotRange[] {
    return this.slots?.ranges ?? ALL_SLOTS;
  }

  /** The oldest format that holds what this snapshot carries (the header comment says why). */
  private pickFormat(collections: boolean): number {
    if (collections) return FORMAT_7;
    if ((this.slots !== null && !this.slots.full) || this.splits.length > 0) return FORMAT_6;
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
    if (format >= FORMAT_6) writeSharding(w, this.ownedRanges(), this.splits, this.cleanup);
  }

  private detach(): void {
    this.ks.detach(this.hook);
    this.items = [];
    this.sessions = [];
    this.originals.clear();
  }
}
