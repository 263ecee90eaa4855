/**
 * The write ops of the collection commands (issue 14): HSET, HDEL, HINCRBY, HINCRBYFLOAT, SADD,
 * SREM, SPOP, SMOVE and the SINTER/SUNION/SDIFF stores; and RENAME and COPY, which move or
 * clone a value of any type.
 * Like every op they are total: whatever a decoded entry holds, the result is a value or an
 * error with Redis's text, never a throw. A collection changes in place between
 * Keyspace.beginEdit and endEdit (copy-on-write for a running snapshot, the new version, the
 * accounted bytes moved by what the collection's own count moved), and a collection left empty
 * is deleted, as Redis deletes it.
 */
import type { ApplyContext } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import type { Item } from './item.ts';
import { addLongDouble, formatLongDouble, parseLongDouble } from './long-double.ts';
import { addInt64, parseInt64 } from './numbers.ts';
import { type KvOp, type OpOf, SET_MODE } from './ops.ts';
import { bulk, ERR, error, int, type KvResult, NIL, OK, WRONGTYPE } from './results.ts';
import { Hash } from './structs/hash.ts';
import { MemberSet } from './structs/set.ts';
import { combineSets, findSets, type ReadHost } from './type-reads.ts';
import type { Collection } from './types.ts';

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });

/** Redis's texts for SPOP's count. */
export const SET_ERR = {
  notPositive: 'ERR value is out of range, must be positive',
} as const;

/** Redis's texts for the hash counters. */
export const HASH_ERR = {
  notInteger: 'ERR hash value is not an integer',
  notFloat: 'ERR hash value is not a float',
  nanOrInf: 'ERR value is NaN or Infinity',
} as const;

/**
 * Redis's proto-max-bulk-len, the bound on one field or value. Apply checks it too (a decoded
 * entry is not trusted): the front end's entry-size limit is far below it.
 */
export const MAX_ELEMENT_BYTES = 512 * 1024 * 1024;

/** The key's hash for a write: `create` makes an empty one (added once it holds a field). */
function writableHash(host: ReadHost, key: string): { item: Item | undefined; hash: Hash } | KvResult {
  const item = host.find(key);
  if (item === undefined) return { item, hash: new Hash() };
  if (!(item.value instanceof Hash)) return WRONGTYPE;
  return { item, hash: item.value };
}

/**
 * Runs `change` on the key's collection: inside beginEdit/endEdit for an existing key (touched,
 * as a write is), or on a new one that becomes the key if it ends up holding anything.
 */
export function edit(ctx: ApplyContext, key: string, item: Item | undefined, c: Collection, change: () => void): void {
  if (item === undefined) {
    change();
    if (c.size > 0) ctx.ks.create(key, c, 0, ctx.index);
    return;
  }
  const before = ctx.ks.beginEdit(item, ctx.index);
  change();
  ctx.ks.endEdit(item, before);
  ctx.ks.lru.touch(item);
  if (c.size === 0) ctx.ks.remove(item, ctx.index);
}

function hset(ctx: ApplyContext, host: ReadHost, op: OpOf<'hset'>): KvResult {
  for (const [f, v] of op.pairs) if (f.length > MAX_ELEMENT_BYTES || v.length > MAX_ELEMENT_BYTES) return error(ERR.tooBig);
  if (op.pairs.length === 0) return error(ERR.syntax);
  const key = toBinary(op.key);
  const found = writableHash(host, key);
  if (!('hash' in found)) return found;
  const { item, hash } = found;
  if (op.nx) {
    const field = toBinary(op.pairs[0][0]);
    // HSETNX on a field already set changes nothing, not even the key's version.
    if (hash.has(field)) return int(0);
    edit(ctx, key, item, hash, () => hash.set(field, toBinary(op.pairs[0][1])));
    return int(1);
  }
  let added = 0;
  edit(ctx, key, item, hash, () => {
    for (const [f, v] of op.pairs) if (hash.set(toBinary(f), toBinary(v))) added++;
  });
  return int(added);
}

function hdel(ctx: ApplyContext, host: ReadHost, op: OpOf<'hdel'>): KvResult {
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item === undefined) return int(0);
  const hash = item.value;
  if (!(hash instanceof Hash)) return WRONGTYPE;
  const fields = op.fields.map(toBinary);
  // Nothing to delete is no change: the version stays (Redis signals no modification).
  if (!fields.some((f) => hash.has(f))) return int(0);
  let removed = 0;
  edit(ctx, key, item, hash, () => {
    for (const f of fields) if (hash.delete(f)) removed++;
  });
  return int(removed);
}

function hincrby(ctx: ApplyContext, host: ReadHost, op: OpOf<'hincrby'>): KvResult {
  const key = toBinary(op.key);
  const found = writableHash(host, key);
  if (!('hash' in found)) return found;
  const { item, hash } = found;
  const field = toBinary(op.field);
  const cur = hash.get(field);
  const base = cur === undefined ? 0 : parseInt64(cur);
  if (base === null) return error(HASH_ERR.notInteger);
  const sum = addInt64(base, op.delta);
  if (sum === null) return error(ERR.overflow);
  edit(ctx, key, item, hash, () => hash.set(field, String(sum)));
  return int(sum);
}

function hincrbyfloat(ctx: ApplyContext, host: ReadHost, op: OpOf<'hincrbyfloat'>): KvResult {
  const incr = parseLongDouble(toBinary(op.incr));
  if (incr === null) return error(ERR.notFloat);
  if (incr.inf) return error(HASH_ERR.nanOrInf);
  const key = toBinary(op.key);
  const found = writableHash(host, key);
  if (!('hash' in found)) return found;
  const { item, hash } = found;
  const field = toBinary(op.field);
  const cur = hash.get(field);
  const base = parseLongDouble(cur ?? '0');
  if (base === null) return error(HASH_ERR.notFloat);
  const sum = addLongDouble(base, incr);
  if (sum === null || sum.inf) return error(ERR.nanOrInf);
  const text = formatLongDouble(sum);
  edit(ctx, key, item, hash, () => hash.set(field, text));
  return bulk(fromBinary(text));
}

/** The key's set for a write (a new empty one when missing), or WRONGTYPE. */
function writableSet(host: ReadHost, key: string): { item: Item | undefined; set: MemberSet } | KvResult {
  const item = host.find(key);
  if (item === undefined) return { item, set: new MemberSet() };
  if (!(item.value instanceof MemberSet)) return WRONGTYPE;
  return { item, set: item.value };
}

function sadd(ctx: ApplyContext, host: ReadHost, op: OpOf<'sadd'>): KvResult {
  for (const m of op.members) if (m.length > MAX_ELEMENT_BYTES) return error(ERR.tooBig);
  const key = toBinary(op.key);
  const found = writableSet(host, key);
  if (!('set' in found)) return found;
  const { item, set } = found;
  const members = op.members.map(toBinary);
  // Adding only members already there is no change: the version stays (as Redis signals none).
  if (members.every((m) => set.has(m))) return int(0);
  let added = 0;
  edit(ctx, key, item, set, () => {
    for (const m of members) if (set.add(m)) added++;
  });
  return int(added);
}

function srem(ctx: ApplyContext, host: ReadHost, op: OpOf<'srem'>): KvResult {
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item === undefined) return int(0);
  const set = item.value;
  if (!(set instanceof MemberSet)) return WRONGTYPE;
  const members = op.members.map(toBinary);
  if (!members.some((m) => set.has(m))) return int(0);
  let removed = 0;
  edit(ctx, key, item, set, () => {
    for (const m of members) if (set.delete(m)) removed++;
  });
  return int(removed);
}

function spop(ctx: ApplyContext, host: ReadHost, op: OpOf<'spop'>): KvResult {
  if (op.count !== undefined && op.count < 0) return error(SET_ERR.notPositive);
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item === undefined) return op.count === undefined ? NIL : EMPTY;
  const set = item.value;
  if (!(set instanceof MemberSet)) return WRONGTYPE;
  if (op.count === 0) return EMPTY;
  let popped: string[] = [];
  edit(ctx, key, item, set, () => {
    popped = set.pop(ctx.rng, op.count ?? 1);
  });
  if (op.count === undefined) return bulk(fromBinary(popped[0]));
  return { type: 'array', value: popped.map((m) => bulk(fromBinary(m))) };
}

/** SMOVE, in smoveCommand's order: a missing source is 0 before any type is checked. */
function smove(ctx: ApplyContext, host: ReadHost, op: OpOf<'smove'>): KvResult {
  const srcKey = toBinary(op.key);
  const dstKey = toBinary(op.dest);
  const src = host.find(srcKey);
  const dst = host.find(dstKey);
  if (src === undefined) return int(0);
  const from = src.value;
  if (!(from instanceof MemberSet) || (dst !== undefined && !(dst.value instanceof MemberSet))) return WRONGTYPE;
  const member = toBinary(op.member);
  if (src === dst) return int(from.has(member) ? 1 : 0);
  if (!from.has(member)) return int(0);
  edit(ctx, srcKey, src, from, () => from.delete(member));
  const to = dst === undefined ? new MemberSet() : (dst.value as MemberSet);
  if (!to.has(member)) edit(ctx, dstKey, dst, to, () => to.add(member));
  return int(1);
}

/**
 * SINTERSTORE / SUNIONSTORE / SDIFFSTORE: the result replaces the destination (whatever it
 * held, its TTL dropped), or deletes it when empty.
 */
function sstore(ctx: ApplyContext, host: ReadHost, op: OpOf<'sstore'>): KvResult {
  if (op.mode > SET_MODE.diff) return error(ERR.syntax);
  const sets = findSets(host, op.keys);
  if (!Array.isArray(sets)) return sets;
  const result = combineSets(sets, op.mode);
  const key = toBinary(op.key);
  const dest = host.find(key);
  if (result.size === 0) {
    if (dest !== undefined) ctx.ks.remove(dest, ctx.index);
    return int(0);
  }
  if (dest === undefined) ctx.ks.create(key, result, 0, ctx.index);
  else {
    ctx.ks.setValue(dest, result, ctx.index);
    ctx.ks.setExpiry(dest, 0, ctx.index);
    ctx.ks.lru.touch(dest);
  }
  return int(result.size);
}

/** Redis's texts for RENAME and COPY. */
export const KEY_ERR = {
  noSuchKey: 'ERR no such key',
  sameObject: 'ERR source and destination objects are the same',
} as const;

/**
 * RENAME / RENAMENX (renameGenericCommand): the value moves with its TTL to `dest`, replacing
 * whatever it held; the same name is OK (RENAMENX: 0) once the key exists.
 */
function rename(ctx: ApplyContext, host: ReadHost, op: OpOf<'rename'>): KvResult {
  const srcKey = toBinary(op.key);
  const dstKey = toBinary(op.dest);
  const src = host.find(srcKey);
  if (src === undefined) return error(KEY_ERR.noSuchKey);
  if (srcKey === dstKey) return op.nx ? int(0) : OK;
  const dst = host.find(dstKey);
  if (dst !== undefined) {
    if (op.nx) return int(0);
    ctx.ks.remove(dst, ctx.index);
  }
  const { value, expiresAt } = src;
  ctx.ks.remove(src, ctx.index);
  ctx.ks.create(dstKey, value, expiresAt, ctx.index);
  return op.nx ? int(1) : OK;
}

/** COPY key dest [REPLACE]: a collection is cloned (O(size), as Redis's dup). */
function copy(ctx: ApplyContext, host: ReadHost, op: OpOf<'copy'>): KvResult {
  const srcKey = toBinary(op.key);
  const dstKey = toBinary(op.dest);
  if (srcKey === dstKey) return error(KEY_ERR.sameObject);
  const src = host.find(srcKey);
  if (src === undefined) return int(0);
  const dst = host.find(dstKey);
  if (dst !== undefined) {
    if (!op.replace) return int(0);
    ctx.ks.remove(dst, ctx.index);
  }
  const v = src.value;
  ctx.ks.create(dstKey, typeof v === 'string' ? v : v.clone(), src.expiresAt, ctx.index);
  return int(1);
}

/** A collection write op; undefined for any other op. */
export function writeCollection(ctx: ApplyContext, host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'hset':
      return hset(ctx, host, op);
    case 'hdel':
      return hdel(ctx, host, op);
    case 'hincrby':
      return hincrby(ctx, host, op);
    case 'hincrbyfloat':
      return hincrbyfloat(ctx, host, op);
    case 'sadd':
      return sadd(ctx, host, op);
    case 'srem':
      return srem(ctx, host, op);
    case 'spop':
      return spop(ctx, host, op);
    case 'smove':
      return smove(ctx, host, op);
    case 'sstore':
      return sstore(ctx, host, op);
    case 'rename':
      return rename(ctx, host, op);
    case 'copy':
      return copy(ctx, host, op);
    default:
      return undefined;
  }
}
