/**
 * The entry codec for the collection ops of issue 14 (codec-ops.ts does the others, codec.ts
 * frames the entry). Each op is written from a shape table rather than by hand: its fields in
 * order, each of a few kinds, and one flags byte when it has optional or boolean fields (bit i =
 * the i-th such field present or true). So an op costs its code, its fields' bytes and at most
 * one byte more: HSET of one 16-byte field and 64-byte value under a 16-byte key takes 102 bytes
 * with the entry's header.
 *
 *   bytes  len(uvarint) raw        list   n(uvarint) bytes*      pairs  n(uvarint) {bytes bytes}*
 *   i64    8 bytes LE              uint   uvarint                int    zigzag varint (-2^52 <= n < 2^52)
 *   flag   a bit of the flags byte, no bytes of its own; `?` marks an optional field (a bit too)
 *
 * Like every op, these only ever gain new codes; a decoded op is checked by apply, not here.
 */
import { type ByteReader, type ByteWriter, uvarintSize, zigzag } from './bytes.ts';
import { KvDecodeError, KvEncodeError } from './errors.ts';
import type { KvOp, OpName } from './ops.ts';

type Kind = 'bytes' | 'list' | 'pairs' | 'i64' | 'uint' | 'int' | 'flag' | 'bytes?' | 'int?';
type Shape = readonly (readonly [field: string, kind: Kind])[];

const KEY = ['key', 'bytes'] as const;
const FIELD = ['field', 'bytes'] as const;
const KEY_ONLY: Shape = [KEY];
const KEY_FIELD: Shape = [KEY, FIELD];

/** The ops this file encodes, and their fields in wire order. */
export const TYPED_SHAPES = {
  hset: [KEY, ['pairs', 'pairs'], ['nx', 'flag']],
  hdel: [KEY, ['fields', 'list']],
  hincrby: [KEY, FIELD, ['delta', 'i64']],
  hincrbyfloat: [KEY, FIELD, ['incr', 'bytes']],
  hget: KEY_FIELD,
  hmget: [KEY, ['fields', 'list']],
  hgetall: KEY_ONLY,
  hexists: KEY_FIELD,
  hlen: KEY_ONLY,
  hkeys: KEY_ONLY,
  hvals: KEY_ONLY,
  hstrlen: KEY_FIELD,
  hrandfield: [KEY, ['count', 'int?'], ['withValues', 'flag']],
  hscan: [KEY, ['cursor', 'uint'], ['count', 'uint'], ['match', 'bytes?']],
  encoding: KEY_ONLY,
  scanType: [
    ['cursor', 'uint'],
    ['count', 'uint'],
    ['match', 'bytes?'],
    ['kind', 'bytes'],
  ],
  sadd: [KEY, ['members', 'list']],
  srem: [KEY, ['members', 'list']],
  spop: [KEY, ['count', 'int?']],
  smove: [KEY, ['dest', 'bytes'], ['member', 'bytes']],
  sstore: [KEY, ['keys', 'list'], ['mode', 'uint']],
  smembers: KEY_ONLY,
  sismember: [KEY, ['member', 'bytes']],
  smismember: [KEY, ['members', 'list']],
  scard: KEY_ONLY,
  srandmember: [KEY, ['count', 'int?']],
  scombine: [
    ['keys', 'list'],
    ['mode', 'uint'],
  ],
  sintercard: [
    ['keys', 'list'],
    ['limit', 'uint'],
  ],
  sscan: [KEY, ['cursor', 'uint'], ['count', 'uint'], ['match', 'bytes?']],
  rename: [KEY, ['dest', 'bytes'], ['nx', 'flag']],
  copy: [KEY, ['dest', 'bytes'], ['replace', 'flag']],
  // Lists.
  lpush: [KEY, ['elements', 'list'], ['left', 'flag'], ['xx', 'flag']],
  lpop: [KEY, ['left', 'flag'], ['count', 'int?']],
  lmove: [KEY, ['dest', 'bytes'], ['fromLeft', 'flag'], ['toLeft', 'flag']],
  lmpop: [
    ['keys', 'list'],
    ['left', 'flag'],
    ['count', 'uint'],
  ],
  lset: [KEY, ['index', 'int'], ['element', 'bytes']],
  lrem: [KEY, ['count', 'int'], ['element', 'bytes']],
  ltrim: [KEY, ['start', 'int'], ['stop', 'int']],
  linsert: [KEY, ['pivot', 'bytes'], ['element', 'bytes'], ['before', 'flag']],
  llen: KEY_ONLY,
  lrange: [KEY, ['start', 'int'], ['stop', 'int']],
  lindex: [KEY, ['index', 'int']],
  lpos: [KEY, ['element', 'bytes'], ['rank', 'int'], ['count', 'int?'], ['maxlen', 'uint']],
  restore: [KEY, ['payload', 'bytes'], ['at', 'uint'], ['replace', 'flag'], ['cold', 'flag']],
  dump: KEY_ONLY,
  // Sorted sets: scores and bounds travel as the client's text (shorter than 8-byte doubles for
  // most scores, and read at apply exactly as the front end read them).
  zadd: [KEY, ['pairs', 'pairs'], ['nx', 'flag'], ['xx', 'flag'], ['gt', 'flag'], ['lt', 'flag'], ['ch', 'flag'], ['incr', 'flag']],
  zrem: [KEY, ['members', 'list']],
  zpop: [KEY, ['count', 'int?'], ['max', 'flag']],
  zmpop: [
    ['keys', 'list'],
    ['count', 'uint'],
    ['max', 'flag'],
  ],
  zscore: [KEY, ['member', 'bytes']],
  zmscore: [KEY, ['members', 'list']],
  zcard: KEY_ONLY,
  zcount: [KEY, ['min', 'bytes'], ['max', 'bytes']],
  zrank: [KEY, ['member', 'bytes'], ['rev', 'flag']],
  zrange: [KEY, ['min', 'bytes'], ['max', 'bytes'], ['by', 'uint'], ['rev', 'flag'], ['withScores', 'flag'], ['offset', 'int?'], ['count', 'int?']],
  zrangestore: [KEY, ['dest', 'bytes'], ['min', 'bytes'], ['max', 'bytes'], ['by', 'uint'], ['rev', 'flag'], ['offset', 'int?'], ['count', 'int?']],
  zremrange: [KEY, ['min', 'bytes'], ['max', 'bytes'], ['by', 'uint']],
  zlexcount: [KEY, ['min', 'bytes'], ['max', 'bytes']],
  zstore: [KEY, ['keys', 'list'], ['mode', 'uint'], ['weights', 'list'], ['aggregate', 'uint']],
  zcombine: [
    ['keys', 'list'],
    ['mode', 'uint'],
    ['weights', 'list'],
    ['aggregate', 'uint'],
    ['withScores', 'flag'],
  ],
  zrandmember: [KEY, ['count', 'int?'], ['withScores', 'flag']],
  zscan: [KEY, ['cursor', 'uint'], ['count', 'uint'], ['match', 'bytes?']],
} as const satisfies Partial<Record<OpName, Shape>>;

export type TypedOpName = keyof typeof TYPED_SHAPES;

export function isTypedOp(name: OpName): name is TypedOpName {
  return Object.hasOwn(TYPED_SHAPES, name);
}

/** The largest magnitude an op's int field carries; front ends clamp longs to it (no collection is that big). */
export const OP_INT_MAX = 2 ** 52 - 1;
const MAX_INT = OP_INT_MAX + 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// Kinds as small integers, each field with its flag bit: the shapes compiled once, so coding an
// op is a loop over an array and a switch on an int (a string kind per field cost ~3x).
const BYTES = 0;
const LIST = 1;
const PAIRS = 2;
const I64 = 3;
const UINT = 4;
const INT = 5;
const FLAG = 6;
const KIND_CODES: Record<Kind, number> = { bytes: BYTES, 'bytes?': BYTES, list: LIST, pairs: PAIRS, i64: I64, uint: UINT, int: INT, 'int?': INT, flag: FLAG };

interface Field {
  readonly name: string;
  readonly kind: number;
  /** Its bit in the flags byte (optional or boolean fields), else 0. */
  readonly bit: number;
}

interface Compiled {
  readonly fields: readonly Field[];
  /** The flags byte is written (some field is optional or boolean). */
  readonly flagged: boolean;
  /** One past the highest bit used: a decoded flags byte must stay below it. */
  readonly bitLimit: number;
}

const COMPILED = {} as Record<TypedOpName, Compiled>;
for (const [name, shape] of Object.entries(TYPED_SHAPES) as [TypedOpName, Shape][]) {
  let bit = 1;
  const fields = shape.map(([field, kind]): Field => {
    const optional = kind === 'flag' || kind.endsWith('?');
    const f = { name: field, kind: KIND_CODES[kind], bit: optional ? bit : 0 };
    if (optional) bit <<= 1;
    return f;
  });
  COMPILED[name] = { fields, flagged: bit > 1, bitLimit: bit };
}

type Fields = Record<string, unknown>;

/** Bytes the op takes after its code; KvEncodeError for a value the format cannot carry. */
export function typedOpSize(op: KvOp & { type: TypedOpName }): number {
  const c = COMPILED[op.type];
  const o = op as unknown as Fields;
  let size = c.flagged ? 1 : 0;
  for (const { name, kind } of c.fields) {
    const v = o[name];
    if (v === undefined) continue;
    switch (kind) {
      case BYTES:
        size += bytesSize(v as Uint8Array);
        break;
      case LIST:
        size += uvarintSize((v as Uint8Array[]).length);
        for (const b of v as Uint8Array[]) size += bytesSize(b);
        break;
      case PAIRS:
        size += uvarintSize((v as Uint8Array[][]).length);
        for (const [a, b] of v as Uint8Array[][]) size += bytesSize(a) + bytesSize(b);
        break;
      case I64:
        if ((v as bigint) < INT64_MIN || (v as bigint) > INT64_MAX) throw new KvEncodeError(`${op.type} ${name} is not a 64-bit integer`);
        size += 8;
        break;
      case UINT:
        if (!Number.isSafeInteger(v) || (v as number) < 0) throw new KvEncodeError(`${op.type} ${name} must be a non-negative safe integer`);
        size += uvarintSize(v as number);
        break;
      case INT:
        // -2^52 .. 2^52 - 1: zigzag maps them below 2^53, what a varint decodes (+2^52 would not).
        if (!Number.isInteger(v) || (v as number) < -MAX_INT || (v as number) >= MAX_INT)
          throw new KvEncodeError(`${op.type} ${name} must be an integer in [-2^52, 2^52)`);
        size += uvarintSize(zigzag(v as number));
        break;
    }
  }
  return size;
}

export function writeTypedOp(w: ByteWriter, op: KvOp & { type: TypedOpName }): void {
  const c = COMPILED[op.type];
  const o = op as unknown as Fields;
  if (c.flagged) {
    let flags = 0;
    for (const { name, kind, bit } of c.fields) {
      if (bit === 0) continue;
      const v = o[name];
      if (kind === FLAG ? v === true : v !== undefined) flags |= bit;
    }
    w.u8(flags);
  }
  for (const { name, kind } of c.fields) {
    const v = o[name];
    if (v === undefined) continue;
    switch (kind) {
      case BYTES:
        w.bytes(v as Uint8Array);
        break;
      case LIST:
        w.uvarint((v as Uint8Array[]).length);
        for (const b of v as Uint8Array[]) w.bytes(b);
        break;
      case PAIRS:
        w.uvarint((v as Uint8Array[][]).length);
        for (const [a, b] of v as Uint8Array[][]) {
          w.bytes(a);
          w.bytes(b);
        }
        break;
      case I64:
        w.i64(v as bigint);
        break;
      case UINT:
        w.uvarint(v as number);
        break;
      case INT:
        w.svarint(v as number);
        break;
    }
  }
}

export function readTypedOp(r: ByteReader, type: TypedOpName): KvOp {
  const c = COMPILED[type];
  const op: Fields = { type };
  const flags = c.flagged ? r.u8() : 0;
  if (flags >= c.bitLimit) throw new KvDecodeError(`${type} with unknown flags ${flags}`);
  for (const { name, kind, bit } of c.fields) {
    if (bit !== 0 && (flags & bit) === 0) continue;
    switch (kind) {
      case BYTES:
        op[name] = r.bytes();
        break;
      case LIST: {
        const n = r.uvarint();
        const list: Uint8Array[] = [];
        for (let i = 0; i < n; i++) list.push(r.bytes());
        op[name] = list;
        break;
      }
      case PAIRS: {
        const n = r.uvarint();
        const pairs: [Uint8Array, Uint8Array][] = [];
        for (let i = 0; i < n; i++) pairs.push([r.bytes(), r.bytes()]);
        op[name] = pairs;
        break;
      }
      case I64:
        op[name] = r.i64();
        break;
      case UINT:
        op[name] = r.uvarint();
        break;
      case INT:
        op[name] = r.svarint();
        break;
      case FLAG:
        op[name] = true;
        break;
    }
  }
  return op as unknown as KvOp;
}

function bytesSize(b: Uint8Array): number {
  return uvarintSize(b.length) + b.length;
}
