/**
 * DUMP and RESTORE (issue 14): a key's value as a payload in RaftKV's own format. Redis's
 * payload is an RDB object with a CRC64 trailer; RaftKV's is the value as its snapshot writes
 * it, so there is one codec of values (value-codec.ts), not a second one to keep in step:
 *
 *   version(u8 = DUMP_VERSION)  type(u8, types.ts TYPE)  value  crc32(u32 LE)
 *
 * `value` is what a FORMAT 7 snapshot record carries after its tag (a string's len and bytes; a
 * collection's encoding, count and elements by position), so a restored collection has the
 * encoding and the element positions of the one dumped. The trailer is zlib's CRC32 (the
 * snapshot's checksum) of every preceding byte. A Redis payload, or any payload changed in
 * transit, fails it and is refused with Redis's "DUMP payload version or checksum are wrong";
 * one whose checksum holds but whose bytes are not a value this store builds (a bug, or a
 * forged checksum) is "Bad data format", as Redis answers a payload its loader refuses.
 *
 * A payload is decoded in full twice: by the front end before proposing (a hostile one never
 * reaches the log), and by apply, which must build the value anyway and answers an error for
 * anything wrong with it, never a throw. The TTL arrives as an absolute time, as EXPIRE's does.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import type { ApplyContext } from './apply.ts';
import { ByteReader, ByteWriter, toBinary, uvarintSize } from './bytes.ts';
import { MAX_TIME_MS, type OpOf } from './ops.ts';
import { bulk, error, invalidExpireTime, type KvResult, NIL, OK } from './results.ts';
import { imageCount } from './structs/image.ts';
import type { ReadHost } from './type-reads.ts';
import { TYPE, typeOf, type Value } from './types.ts';
import {
  COLLECTION_CODECS,
  collectionCodec,
  collectionHeadProblem,
  collectionHeadSize,
  type Part,
  readCollectionHead,
  writeCollectionHead,
} from './value-codec.ts';

/** The payload format's version: the first byte. A new version only ever adds to what loads. */
export const DUMP_VERSION = 1;

/** Redis 7.0's texts. */
export const DUMP_ERR = {
  busyKey: 'BUSYKEY Target key name already exists.',
  checksum: 'ERR DUMP payload version or checksum are wrong',
  badFormat: 'ERR Bad data format',
  invalidTtl: 'ERR Invalid TTL value, must be >= 0',
  invalidIdle: 'ERR Invalid IDLETIME value, must be >= 0',
  invalidFreq: 'ERR Invalid FREQ value, must be >= 0 and <= 255',
} as const;

/** version, tag and trailer. */
const FRAME_BYTES = 2 + 4;

/** DUMP's payload of `value`. O(size): a collection is walked once to size it, once to write it. */
export function dumpPayload(value: Value): Buffer {
  const tag = TYPE[typeOf(value)];
  const img = typeof value === 'string' ? null : value.image(false);
  const codec = img === null ? null : COLLECTION_CODECS[img.type];
  let size = FRAME_BYTES;
  if (typeof value === 'string') size += uvarintSize(value.length) + value.length;
  else {
    size += collectionHeadSize(img!);
    for (let e = 0, n = imageCount(img!); e < n; e++) size += codec!.elementSize(img!, e);
  }
  const w = new ByteWriter(Buffer.allocUnsafe(size));
  w.u8(DUMP_VERSION);
  w.u8(tag);
  if (typeof value === 'string') w.binary(value);
  else {
    writeCollectionHead(w, img!);
    for (let e = 0, n = imageCount(img!); e < n; e++) codec!.writeElement(w, img!, e);
  }
  w.buf.writeUInt32LE(crc32(w.buf.subarray(0, w.pos)), w.pos);
  return w.buf;
}

/** Why a payload is refused: Redis's error text. */
export type PayloadRefusal = typeof DUMP_ERR.checksum | typeof DUMP_ERR.badFormat;

/** A refusal, not a value (a value is a string or an object, never one of these tags). */
export interface Refused {
  readonly refused: PayloadRefusal;
}

const refuse = (refused: PayloadRefusal): Refused => ({ refused });

export function isRefused(v: Value | Refused): v is Refused {
  return typeof v !== 'string' && 'refused' in v;
}

/**
 * The value a payload holds, or why it is refused. Total: whatever the bytes, it returns. The
 * whole payload is one buffer, bounded by the argument's size, so the decode is one pass; a
 * collection's count is checked against the bytes left before anything is built.
 */
export function decodePayload(payload: Uint8Array): Value | Refused {
  if (payload.length < FRAME_BYTES || payload[0] !== DUMP_VERSION) return refuse(DUMP_ERR.checksum);
  const end = payload.length - 4;
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (crc32(bytes.subarray(0, end)) !== bytes.readUInt32LE(end)) return refuse(DUMP_ERR.checksum);
  try {
    const r = new ByteReader(bytes, 1, end);
    const tag = r.u8();
    let value: Value;
    if (tag === TYPE.string) value = r.binary();
    else {
      const head = readCollectionHead(r, tag);
      // Every element takes at least one byte: a larger count is a lie, refused before a loop.
      if (collectionHeadProblem(head) !== undefined || head.count > r.remaining) return refuse(DUMP_ERR.badFormat);
      const codec = collectionCodec(tag)!;
      const c = codec.create(head);
      const parts: Part[] = [];
      for (let i = 0; i < head.count; i++) codec.readElement(r, parts);
      if (codec.add(c, parts) !== undefined || codec.finish(c, head) !== undefined) return refuse(DUMP_ERR.badFormat);
      value = c;
    }
    return r.remaining === 0 ? value : refuse(DUMP_ERR.badFormat);
  } catch {
    // Short input or a varint past 2^53: the bytes are not a value.
    return refuse(DUMP_ERR.badFormat);
  }
}

/** DUMP key: the payload, or nil. A read: the key is touched, as Redis's lookupKeyRead does. */
export function dump(host: ReadHost, op: OpOf<'dump'>): KvResult {
  const item = host.find(toBinary(op.key));
  if (item === undefined) return NIL;
  host.touch(item);
  return bulk(dumpPayload(item.value));
}

/**
 * RESTORE in restoreCommand's order: BUSYKEY without REPLACE, then the payload, then the old
 * key goes; a time already past (ABSTTL) leaves no key and answers OK. `at` is absolute (the
 * front end added its clock to a relative TTL), so every replica decides alike. A key restored
 * with IDLETIME > 0 (`cold`) enters the LRU lists as least recently used: an exact LRU keeps an
 * order, not idle times, and a key idle for a while is older than one just written.
 */
export function restore(ctx: ApplyContext, host: ReadHost, op: OpOf<'restore'>): KvResult {
  if (op.at > MAX_TIME_MS) return error(invalidExpireTime('restore'));
  const key = toBinary(op.key);
  const cur = host.find(key);
  if (cur !== undefined && !op.replace) return error(DUMP_ERR.busyKey);
  const value = decodePayload(op.payload);
  if (isRefused(value)) return error(value.refused);
  if (cur !== undefined) ctx.ks.remove(cur, ctx.index);
  if (op.at !== 0 && op.at <= ctx.ts) return OK;
  const item = ctx.ks.create(key, value, op.at, ctx.index);
  if (op.cold) ctx.ks.lru.makeLeastRecent(item);
  return OK;
}
