/**
 * The write ops of the collection commands (issue 14): HSET, HDEL, HINCRBY, HINCRBYFLOAT.
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
import type { KvOp, OpOf } from './ops.ts';
import { bulk, ERR, error, int, type KvResult, WRONGTYPE } from './results.ts';
import { Hash } from './structs/hash.ts';
import type { ReadHost } from './type-reads.ts';

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
const MAX_ELEMENT_BYTES = 512 * 1024 * 1024;

/** The key's hash for a write: `create` makes an empty one (added once it holds a field). */
function writableHash(host: ReadHost, key: string): { item: Item | undefined; hash: Hash } | KvResult {
  const item = host.find(key);
  if (item === undefined) return { item, hash: new Hash() };
  if (!(item.value instanceof Hash)) return WRONGTYPE;
  return { item, hash: item.value };
}

/**
 * Runs `change` on the key's hash: inside beginEdit/endEdit for an existing key (touched, as a
 * write is), or on a new hash that becomes the key if it ends up holding anything.
 */
function editHash(ctx: ApplyContext, key: string, item: Item | undefined, hash: Hash, change: () => void): void {
  if (item === undefined) {
    change();
    if (hash.size > 0) ctx.ks.create(key, hash, 0, ctx.index);
    return;
  }
  const before = ctx.ks.beginEdit(item, ctx.index);
  change();
  ctx.ks.endEdit(item, before);
  ctx.ks.lru.touch(item);
  if (hash.size === 0) ctx.ks.remove(item, ctx.index);
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
    editHash(ctx, key, item, hash, () => hash.set(field, toBinary(op.pairs[0][1])));
    return int(1);
  }
  let added = 0;
  editHash(ctx, key, item, hash, () => {
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
  editHash(ctx, key, item, hash, () => {
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
  editHash(ctx, key, item, hash, () => hash.set(field, String(sum)));
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
  editHash(ctx, key, item, hash, () => hash.set(field, text));
  return bulk(fromBinary(text));
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
    default:
      return undefined;
  }
}
