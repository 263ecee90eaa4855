/**
 * Restoring a keyspace from a snapshot stream (format: snapshot-format.ts), in slices of
 * RESTORE_SLICE records with a turn of the event loop between them, so that a follower
 * installing a large snapshot keeps answering heartbeats.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ByteReader, ShortInputError } from './bytes.ts';
import { SnapshotFormatError } from './errors.ts';
import { Keyspace } from './keyspace.ts';
import type { SlotSet } from './owned.ts';
import {
  decodeResults,
  MAX_FINGERPRINT_BYTES,
  MAX_SESSION_BYTES,
  MAX_SESSION_KEY_BYTES,
  MAX_SESSION_RESULT_BYTES,
  SESSION_OVERHEAD,
  type SessionRecord,
  Sessions,
} from './sessions.ts';
import type { ClusterSettings } from './settings.ts';
import { binarySlot } from './slot.ts';
import { FORMAT_5, FORMAT_7, readHeader, type SplitRecord } from './snapshot-format.ts';
import { ChunkSource } from './snapshot-input.ts';
import { CHUNK, Deque } from './structs/deque.ts';
import { Hash } from './structs/hash.ts';
import { MemberSet } from './structs/set.ts';
import { SortedSet } from './structs/zset.ts';
import { type Collection, TYPE } from './types.ts';

/** A FORMAT 7 collection record up to its elements. */
interface CollectionHead {
  tag: number;
  /** 1 = hashtable, 0 = listpack or intset; a list's first chunk's length (1..32). */
  encoding: number;
  count: number;
}

/**
 * A collection's elements, RESTORE_SLICE at a time with a turn of the event loop between, so a
 * million-member one stalls nothing. Checked as apply would have built it: a known type and
 * encoding, at least one element, no repeated field or member, and a compact encoding
 * (listpack, intset) only within its limits. A list's encoding byte is its first chunk's length,
 * which with its count fixes its chunk shape (structs/deque.ts); its elements may repeat.
 */
async function readCollection(src: ChunkSource, head: CollectionHead): Promise<Collection> {
  const { tag, encoding, count } = head;
  const hashtable = tag === TYPE.list ? 0 : encoding;
  if (hashtable > 1) throw new SnapshotFormatError(`encoding ${hashtable}`);
  if (tag === TYPE.list && (encoding < 1 || encoding > Math.min(CHUNK, count))) throw new SnapshotFormatError(`list head of ${encoding}`);
  if (count === 0) throw new SnapshotFormatError('empty collection');
  let c: Collection;
  if (tag === TYPE.hash) c = hashtable ? Hash.hashtable() : new Hash();
  else if (tag === TYPE.set) c = hashtable ? MemberSet.hashtable() : new MemberSet();
  else if (tag === TYPE.list) {
    c = new Deque();
    c.restoring(head.encoding);
  } else if (tag === TYPE.zset) return readZset(src, hashtable === 1, count);
  else throw new SnapshotFormatError(`value type ${tag}`);
  for (let done = 0; done < count; ) {
    const n = Math.min(RESTORE_SLICE, count - done);
    const batch = await src.read((r) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        out.push(r.binary());
        if (tag === TYPE.hash) out.push(r.binary());
      }
      return out;
    });
    if (c instanceof Hash) {
      for (let i = 0; i < batch.length; i += 2) if (!c.set(batch[i], batch[i + 1])) throw new SnapshotFormatError('duplicate hash field');
    } else if (c instanceof Deque) {
      for (const e of batch) c.pushBack(e);
    } else {
      for (const m of batch) if (!c.add(m)) throw new SnapshotFormatError('duplicate set member');
    }
    done += n;
    if (done < count) await yieldToEventLoop();
  }
  if (c instanceof Deque) c.restoring(CHUNK);
  if (!hashtable && c.encoding === 'hashtable') throw new SnapshotFormatError(`${c instanceof Hash ? 'listpack' : 'intset'} beyond its limits`);
  return c;
}

/**
 * A sorted set's `member score` pairs, sliced as readCollection's. Checked as ZADD would have
 * left it: no NaN score, no repeated member, a listpack in order (it was written in order) and
 * within its limits, and its zeros stored as +0 (a listpack keeps no -0).
 */
async function readZset(src: ChunkSource, skiplist: boolean, count: number): Promise<SortedSet> {
  const z = skiplist ? SortedSet.skiplist() : new SortedSet();
  let prev: [string, number] | undefined;
  for (let done = 0; done < count; ) {
    const n = Math.min(RESTORE_SLICE, count - done);
    const batch = await src.read((r) => {
      const out: [string, number][] = [];
      for (let i = 0; i < n; i++) out.push([r.binary(), r.f64()]);
      return out;
    });
    for (const [m, s] of batch) {
      if (Number.isNaN(s)) throw new SnapshotFormatError('NaN score');
      if (!skiplist) {
        if (Object.is(s, -0)) throw new SnapshotFormatError('-0 in a listpack');
        if (prev !== undefined && !(prev[1] < s || (prev[1] === s && prev[0] < m))) throw new SnapshotFormatError('listpack out of order');
        prev = [m, s];
      }
      if (z.set(m, s) !== undefined) throw new SnapshotFormatError('duplicate sorted set member');
    }
    done += n;
    if (done < count) await yieldToEventLoop();
  }
  if (!skiplist && z.encoding === 'skiplist') throw new SnapshotFormatError('listpack beyond its limits');
  return z;
}

/** Records restored between two yields to the event loop. */
const RESTORE_SLICE = 1024;

/** What a snapshot restores. */
export interface Restored {
  ks: Keyspace;
  index: number;
  settings: ClusterSettings;
  highTs: number;
  sessions: Sessions;
  splits: SplitRecord[];
}

/**
 * Builds a new keyspace from a snapshot stream; the caller swaps it in when this resolves.
 * `countSlots`: keep per-slot key counts from the first key (Keyspace.countSlots), as an image
 * that does not own every slot always does.
 */
export async function readSnapshot(source: AsyncIterable<Uint8Array> | Uint8Array, countSlots = false): Promise<Restored> {
  const src = new ChunkSource(source);
  try {
    const header = await src.read(readHeader);
    const ks = new Keyspace();
    if (countSlots) ks.countSlots();
    const owned: SlotSet | null = header.owned;
    ks.own(owned);
    for (const [b, index] of header.buckets) ks.deletedAt[b] = index;
    let remaining = header.count;
    let sinceYield = 0;
    const withSeqs = header.nextSeq > 0;
    let seq = 0;
    const typed = header.format >= FORMAT_7;
    while (remaining > 0) {
      const r = new ByteReader(src.buf, src.pos);
      // A collection record's head, read here; its elements follow, read in slices below.
      let open: { key: string; head: CollectionHead; expiresAt: number; version: number } | undefined;
      try {
        while (remaining > 0 && sinceYield < RESTORE_SLICE) {
          const next = withSeqs ? seq + r.uvarint() : seq + 1;
          const key = r.binary();
          let value: string | undefined;
          let head: CollectionHead | undefined;
          let expiresAt: number;
          let version: number;
          if (typed) {
            const tag = r.u8();
            expiresAt = r.uvarint();
            version = r.uvarint();
            if (tag === TYPE.string) value = r.binary();
            else head = { tag, encoding: r.u8(), count: r.uvarint() };
          } else {
            value = r.binary();
            expiresAt = r.uvarint();
            version = r.uvarint();
          }
          src.pos = r.pos;
          if (ks.map.has(key)) throw new SnapshotFormatError('duplicate key');
          // An image holds only keys of the slots it owns (a writer filters by them).
          if (owned !== null && !owned.has(binarySlot(key))) throw new SnapshotFormatError('key outside the owned slots');
          // Seqs ascend (SCAN's binary search over `order` relies on it) and stay below nextSeq.
          if (next <= seq || (withSeqs && next >= header.nextSeq)) throw new SnapshotFormatError(`key seq ${next} after ${seq}`);
          seq = next;
          remaining--;
          sinceYield++;
          if (head !== undefined) {
            open = { key, head, expiresAt, version };
            break;
          }
          ks.nextSeq = seq; // create() takes it and moves on
          ks.create(key, value!, expiresAt, version);
        }
      } catch (err) {
        if (!(err instanceof ShortInputError)) throw err;
        if (!(await src.grow())) throw new SnapshotFormatError('truncated');
        continue;
      }
      if (open !== undefined) {
        const collection = await readCollection(src, open.head);
        ks.nextSeq = seq;
        ks.create(open.key, collection, open.expiresAt, open.version);
        sinceYield = RESTORE_SLICE;
      }
      if (sinceYield >= RESTORE_SLICE) {
        await yieldToEventLoop();
        sinceYield = 0;
      }
    }
    const sessions = header.format >= FORMAT_5 ? await readSessions(src) : new Sessions();
    const expected = src.consumedCrc();
    const crc = await src.read((r) => {
      if (r.remaining < 4) throw new ShortInputError('crc');
      r.pos += 4;
      return r.buf.readUInt32LE(r.pos - 4);
    });
    if (crc !== expected) throw new SnapshotFormatError('checksum mismatch');
    if (withSeqs) ks.nextSeq = header.nextSeq;
    [ks.dropAfter, ks.dropEnd] = header.cleanup;
    if (src.available > 0 || (await src.grow())) throw new SnapshotFormatError('trailing bytes');
    return { ks, index: header.index, settings: header.settings, highTs: header.highTs, sessions, splits: header.splits };
  } catch (err) {
    if (err instanceof SnapshotFormatError) throw err;
    throw new SnapshotFormatError((err as Error).message);
  }
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
