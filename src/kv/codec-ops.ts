/**
 * The entry codec for every op but the collection ones (codec-types.ts): strings, keys and
 * expiry, eviction, sessions, the shard ops, pub/sub and the keyspace reads. codec.ts frames an
 * entry and calls these once per op: `opSize` (exact, so the entry's buffer is sized once, and
 * the place that refuses what cannot be encoded, with KvEncodeError), `writeOp`, `readOp`.
 *
 *   op    := code(u8) fields...            (an op's optional and boolean fields: bits of one
 *                                           flags byte after the code)
 *   bytes := len(uvarint) raw
 *
 * Ops are only ever added (new codes), never changed, so every entry ever logged still decodes
 * and applies the same way: EVICT_IF (17) carries `n {key(bytes) version(uvarint)}*`, and the
 * unconditional EVICT (15) it replaced is still read. SESSION (18) carries
 * `key(bytes) fingerprint(bytes) ttlMs(uvarint)`. SPLIT (19) carries `atSlot(uvarint)
 * group(uvarint)` and DROP_UNOWNED (20) `limit(uvarint)`: any varint decodes, and apply refuses
 * what it cannot use (split.ts), so a hostile entry is a no-op, never a crash.
 */
import { type ByteReader, type ByteWriter, uvarintSize, zigzag } from './bytes.ts';
import { isTypedOp, readTypedOp, typedOpSize, writeTypedOp } from './codec-types.ts';
import { KvDecodeError, KvEncodeError } from './errors.ts';
import { type KvOp, MAX_TIME_MS, OP, type OpName, type Victim } from './ops.ts';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const NAME_BY_CODE: (OpName | undefined)[] = [];
for (const name of Object.keys(OP) as OpName[]) NAME_BY_CODE[OP[name].code] = name;

// Flag bits.
const SET_NX = 1;
const SET_XX = 2;
const SET_GET = 4;
const SET_KEEPTTL = 8;
const SET_PXAT = 16;
const EXP_NX = 1;
const EXP_XX = 2;
const EXP_GT = 4;
const EXP_LT = 8;
const GETEX_PXAT = 1;
const GETEX_PERSIST = 2;
const SCAN_MATCH = 1;

export function bytesSize(b: Uint8Array): number {
  return uvarintSize(b.length) + b.length;
}

function listSize(list: Uint8Array[]): number {
  let size = uvarintSize(list.length);
  for (const b of list) size += bytesSize(b);
  return size;
}

function pairsSize(pairs: [Uint8Array, Uint8Array][]): number {
  let size = uvarintSize(pairs.length);
  for (const [k, v] of pairs) size += bytesSize(k) + bytesSize(v);
  return size;
}

function victimsSize(victims: Victim[]): number {
  let size = uvarintSize(victims.length);
  for (const v of victims) {
    checkCount(v.version, 'evict version');
    size += bytesSize(v.key) + uvarintSize(v.version);
  }
  return size;
}

function timeSize(t: number, what: string): number {
  checkTime(t, what);
  return uvarintSize(zigzag(t));
}

export function opSize(op: KvOp): number {
  switch (op.type) {
    case 'set':
      return 2 + bytesSize(op.key) + bytesSize(op.value) + (op.pxat === undefined ? 0 : timeSize(op.pxat, 'pxat'));
    case 'del':
    case 'evict':
    case 'mget':
    case 'exists':
      return 1 + listSize(op.keys);
    case 'pexpireat':
      return 2 + bytesSize(op.key) + timeSize(op.at, 'at');
    case 'expireIf':
      return 1 + bytesSize(op.key) + timeSize(op.at, 'at');
    case 'persist':
    case 'getdel':
    case 'get':
    case 'strlen':
    case 'type':
      return 1 + bytesSize(op.key);
    case 'incrby':
      if (op.delta < INT64_MIN || op.delta > INT64_MAX) throw new KvEncodeError('incrby delta is not a 64-bit integer');
      return 9 + bytesSize(op.key);
    case 'incrbyfloat':
      for (let i = 0; i < op.incr.length; i++) {
        if (op.incr.charCodeAt(i) > 0xff) throw new KvEncodeError('incrbyfloat increment is not a binary string');
      }
      return 1 + bytesSize(op.key) + uvarintSize(op.incr.length) + op.incr.length;
    case 'append':
      return 1 + bytesSize(op.key) + bytesSize(op.value);
    case 'mset':
    case 'msetnx':
    case 'config':
      return 1 + pairsSize(op.pairs);
    case 'evictIf':
      return 1 + victimsSize(op.victims);
    case 'session':
      checkCount(op.ttlMs, 'session ttl');
      return 1 + bytesSize(op.key) + bytesSize(op.fingerprint) + uvarintSize(op.ttlMs);
    case 'split':
      checkCount(op.atSlot, 'split slot');
      checkCount(op.group, 'split group');
      return 1 + uvarintSize(op.atSlot) + uvarintSize(op.group);
    case 'dropUnowned':
      checkCount(op.limit, 'drop limit');
      return 1 + uvarintSize(op.limit);
    case 'getex':
      return 2 + bytesSize(op.key) + (op.pxat === undefined ? 0 : timeSize(op.pxat, 'pxat'));
    case 'flushall':
    case 'dbsize':
    case 'randomkey':
      return 1;
    case 'publish':
    case 'spublish':
      return 1 + bytesSize(op.channel) + bytesSize(op.message);
    case 'ttl':
    case 'expiretime':
      return 2 + bytesSize(op.key);
    case 'keys':
      return 1 + bytesSize(op.pattern);
    case 'scan':
      checkCount(op.cursor, 'scan cursor');
      checkCount(op.count, 'scan count');
      return 2 + uvarintSize(op.cursor) + uvarintSize(op.count) + (op.match ? bytesSize(op.match) : 0);
    default:
      return 1 + typedOpSize(op);
  }
}

function writeList(w: ByteWriter, list: Uint8Array[]): void {
  w.uvarint(list.length);
  for (const b of list) w.bytes(b);
}

function writePairs(w: ByteWriter, pairs: [Uint8Array, Uint8Array][]): void {
  w.uvarint(pairs.length);
  for (const [k, v] of pairs) {
    w.bytes(k);
    w.bytes(v);
  }
}

export function writeOp(w: ByteWriter, op: KvOp): void {
  w.u8(OP[op.type].code);
  switch (op.type) {
    case 'set': {
      const flags =
        (op.cond === 'nx' ? SET_NX : 0) |
        (op.cond === 'xx' ? SET_XX : 0) |
        (op.get ? SET_GET : 0) |
        (op.keepTtl ? SET_KEEPTTL : 0) |
        (op.pxat === undefined ? 0 : SET_PXAT);
      w.u8(flags);
      w.bytes(op.key);
      w.bytes(op.value);
      if (op.pxat !== undefined) w.svarint(op.pxat);
      return;
    }
    case 'del':
    case 'evict':
    case 'mget':
    case 'exists':
      writeList(w, op.keys);
      return;
    case 'pexpireat':
      w.u8((op.nx ? EXP_NX : 0) | (op.xx ? EXP_XX : 0) | (op.gt ? EXP_GT : 0) | (op.lt ? EXP_LT : 0));
      w.bytes(op.key);
      w.svarint(op.at);
      return;
    case 'expireIf':
      w.bytes(op.key);
      w.svarint(op.at);
      return;
    case 'persist':
    case 'getdel':
    case 'get':
    case 'strlen':
    case 'type':
      w.bytes(op.key);
      return;
    case 'incrby':
      w.bytes(op.key);
      w.i64(op.delta);
      return;
    case 'incrbyfloat':
      w.bytes(op.key);
      w.binary(op.incr);
      return;
    case 'append':
      w.bytes(op.key);
      w.bytes(op.value);
      return;
    case 'mset':
    case 'msetnx':
    case 'config':
      writePairs(w, op.pairs);
      return;
    case 'evictIf':
      w.uvarint(op.victims.length);
      for (const v of op.victims) {
        w.bytes(v.key);
        w.uvarint(v.version);
      }
      return;
    case 'session':
      w.bytes(op.key);
      w.bytes(op.fingerprint);
      w.uvarint(op.ttlMs);
      return;
    case 'split':
      w.uvarint(op.atSlot);
      w.uvarint(op.group);
      return;
    case 'dropUnowned':
      w.uvarint(op.limit);
      return;
    case 'getex':
      w.u8((op.pxat === undefined ? 0 : GETEX_PXAT) | (op.persist ? GETEX_PERSIST : 0));
      w.bytes(op.key);
      if (op.pxat !== undefined) w.svarint(op.pxat);
      return;
    case 'flushall':
    case 'dbsize':
    case 'randomkey':
      return;
    case 'publish':
    case 'spublish':
      w.bytes(op.channel);
      w.bytes(op.message);
      return;
    case 'ttl':
    case 'expiretime':
      w.u8(op.unit === 's' ? 1 : 0);
      w.bytes(op.key);
      return;
    case 'keys':
      w.bytes(op.pattern);
      return;
    case 'scan':
      w.u8(op.match ? SCAN_MATCH : 0);
      w.uvarint(op.cursor);
      w.uvarint(op.count);
      if (op.match) w.bytes(op.match);
      return;
    default:
      writeTypedOp(w, op);
  }
}

function readList(r: ByteReader): Uint8Array[] {
  const n = r.uvarint();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes());
  return out;
}

function readPairs(r: ByteReader): [Uint8Array, Uint8Array][] {
  const n = r.uvarint();
  const out: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < n; i++) out.push([r.bytes(), r.bytes()]);
  return out;
}

export function readOp(r: ByteReader): KvOp {
  const code = r.u8();
  const type = NAME_BY_CODE[code];
  if (type === undefined) throw new KvDecodeError(`unknown op code ${code}`);
  if (isTypedOp(type)) return readTypedOp(r, type);
  switch (type) {
    case 'set': {
      const flags = r.u8();
      if ((flags & SET_NX) !== 0 && (flags & SET_XX) !== 0) throw new KvDecodeError('set with both NX and XX');
      const op: KvOp = { type, key: r.bytes(), value: r.bytes() };
      if (flags & SET_NX) op.cond = 'nx';
      if (flags & SET_XX) op.cond = 'xx';
      if (flags & SET_GET) op.get = true;
      if (flags & SET_KEEPTTL) op.keepTtl = true;
      if (flags & SET_PXAT) op.pxat = r.svarint();
      return op;
    }
    case 'del':
    case 'evict':
    case 'mget':
    case 'exists':
      return { type, keys: readList(r) };
    case 'pexpireat': {
      const flags = r.u8();
      const op: KvOp = { type, key: r.bytes(), at: r.svarint() };
      if (flags & EXP_NX) op.nx = true;
      if (flags & EXP_XX) op.xx = true;
      if (flags & EXP_GT) op.gt = true;
      if (flags & EXP_LT) op.lt = true;
      return op;
    }
    case 'expireIf':
      return { type, key: r.bytes(), at: r.svarint() };
    case 'persist':
    case 'getdel':
    case 'get':
    case 'strlen':
    case 'type':
      return { type, key: r.bytes() };
    case 'incrby':
      return { type, key: r.bytes(), delta: r.i64() };
    case 'incrbyfloat':
      return { type, key: r.bytes(), incr: r.binary() };
    case 'append':
      return { type, key: r.bytes(), value: r.bytes() };
    case 'mset':
    case 'msetnx':
    case 'config':
      return { type, pairs: readPairs(r) };
    case 'evictIf': {
      const n = r.uvarint();
      const victims: Victim[] = [];
      for (let i = 0; i < n; i++) victims.push({ key: r.bytes(), version: r.uvarint() });
      return { type, victims };
    }
    case 'session':
      return { type, key: r.bytes(), fingerprint: r.bytes(), ttlMs: r.uvarint() };
    case 'split':
      return { type, atSlot: r.uvarint(), group: r.uvarint() };
    case 'dropUnowned':
      return { type, limit: r.uvarint() };
    case 'getex': {
      const flags = r.u8();
      const op: KvOp = { type, key: r.bytes() };
      if (flags & GETEX_PXAT) op.pxat = r.svarint();
      if (flags & GETEX_PERSIST) op.persist = true;
      return op;
    }
    case 'flushall':
    case 'dbsize':
    case 'randomkey':
      return { type };
    case 'publish':
    case 'spublish':
      return { type, channel: r.bytes(), message: r.bytes() };
    case 'ttl':
    case 'expiretime': {
      const unit = r.u8() === 1 ? 's' : 'ms';
      return { type, key: r.bytes(), unit };
    }
    case 'keys':
      return { type, pattern: r.bytes() };
    case 'scan': {
      const flags = r.u8();
      const op: KvOp = { type, cursor: r.uvarint(), count: r.uvarint() };
      if (flags & SCAN_MATCH) op.match = r.bytes();
      return op;
    }
  }
}

export function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new KvEncodeError(`${what} must be a non-negative safe integer, got ${n}`);
}

export function checkTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || Math.abs(t) > MAX_TIME_MS) {
    throw new KvEncodeError(`${what} must be an integer within +-${MAX_TIME_MS}, got ${t}`);
  }
}
