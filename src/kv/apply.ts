/**
 * The semantics of every op, evaluated at apply time against the entry's timestamp (never the
 * local clock). A key whose expiry is <= ts is treated as absent and reclaimed on the spot;
 * that is deterministic, since every replica applies the same entry with the same ts.
 */
import { constants } from 'node:buffer';
import { fromBinary, toBinary } from './bytes.ts';
import type { Item } from './item.ts';
import type { Keyspace } from './keyspace.ts';
import { writeList } from './list-writes.ts';
import { addLongDouble, formatLongDouble, parseLongDouble } from './long-double.ts';
import { addInt64, parseInt64 } from './numbers.ts';
import type { KvOp, OpOf, Rng, Victim } from './ops.ts';
import { expireTimeOf, liveCount, matchingKeys, randomKeyOf, scanKeys, ttlOf } from './reads.ts';
import { bulk, ERR, error, int, invalidExpireTime, type KvResult, NIL, OK, WRONGTYPE } from './results.ts';
import { SESSION_ERR } from './sessions.ts';
import { type ClusterSettings, mergeSettings } from './settings.ts';
import { MAX_DROP_EXAMINED, SPLIT_ERR } from './split.ts';
import { type ReadHost, readCollection, scanOfType } from './type-reads.ts';
import { writeCollection } from './type-writes.ts';
import { typeOf } from './types.ts';
import { writeZset } from './zset-writes.ts';

/**
 * Redis's proto-max-bulk-len default (512 MiB), capped by V8's longest string: the bound for a
 * value built at apply time (APPEND) and for any stored value.
 */
export const MAX_STRING_BYTES = Math.min(512 * 1024 * 1024, constants.MAX_STRING_LENGTH);

export interface ApplyContext {
  ks: Keyspace;
  ts: number;
  index: number;
  /** Deterministic per entry, for RANDOMKEY inside a MULTI. */
  rng: Rng;
  /** The store's cluster-wide settings, which a CONFIG op changes in place. */
  settings: ClusterSettings;
}

/** The key if it exists and is not expired at ts; an expired key is deleted first. */
function live(ctx: ApplyContext, key: string): Item | undefined {
  const item = ctx.ks.map.get(key);
  if (item === undefined) return undefined;
  if (item.expiredAt(ctx.ts)) {
    ctx.ks.remove(item, 0);
    return undefined;
  }
  return item;
}

/**
 * Deletes an item found by the leader's expiry/eviction; a logical change only if still live.
 * A key given up in a split (which the leader's sample may still name) is dropped as cleanup
 * drops it: no client of this group can see it.
 */
function reclaim(ctx: ApplyContext, item: Item): void {
  const owned = ctx.ks.owned;
  if (owned !== null && !owned.hasKey(item.key)) ctx.ks.drop(item);
  else ctx.ks.remove(item, item.expiredAt(ctx.ts) ? 0 : ctx.index);
}

/** Stores a plain value with the given expiry, creating the key if needed. */
function store(ctx: ApplyContext, key: string, cur: Item | undefined, value: string, expiresAt: number): void {
  if (cur === undefined) {
    ctx.ks.create(key, value, expiresAt, ctx.index);
    return;
  }
  ctx.ks.setValue(cur, value, ctx.index);
  ctx.ks.setExpiry(cur, expiresAt, ctx.index);
  ctx.ks.lru.touch(cur);
}

/** A string command's reply of the key's value: WRONGTYPE when it holds a collection. */
function valueReply(item: Item | undefined): KvResult {
  if (item === undefined) return NIL;
  return typeof item.value === 'string' ? bulk(fromBinary(item.value)) : WRONGTYPE;
}

/** MGET's reply for one key: nil for a key that holds no string, as Redis answers. */
function mgetReply(item: Item | undefined): KvResult {
  return notString(item) ? NIL : valueReply(item);
}

/** True when a string command must answer WRONGTYPE: the key holds a collection. */
function notString(item: Item | undefined): boolean {
  return item !== undefined && typeof item.value !== 'string';
}

function set(ctx: ApplyContext, op: OpOf<'set'>): KvResult {
  if (op.pxat !== undefined && op.pxat <= 0) return error(invalidExpireTime('set'));
  if (op.value.length > MAX_STRING_BYTES) return error(ERR.tooBig);
  const key = toBinary(op.key);
  const cur = live(ctx, key);
  // SET ... GET reads the old value first, and a collection cannot be read as one.
  if (op.get && notString(cur)) return WRONGTYPE;
  const blocked = (op.cond === 'nx' && cur !== undefined) || (op.cond === 'xx' && cur === undefined);
  const reply = op.get ? valueReply(cur) : blocked ? NIL : OK;
  if (blocked) {
    if (cur) ctx.ks.lru.touch(cur);
    return reply;
  }
  const expiresAt = op.pxat ?? (op.keepTtl && cur ? cur.expiresAt : 0);
  if (expiresAt !== 0 && expiresAt <= ctx.ts) {
    // Written already expired: the net effect is a deletion of whatever was there.
    if (cur) ctx.ks.remove(cur, ctx.index);
    else ctx.ks.markDeleted(key, ctx.index);
    return reply;
  }
  store(ctx, key, cur, toBinary(op.value), expiresAt);
  return reply;
}

function del(ctx: ApplyContext, keys: Uint8Array[]): KvResult {
  let n = 0;
  for (const k of keys) {
    const item = live(ctx, toBinary(k));
    if (item) {
      ctx.ks.remove(item, ctx.index);
      n++;
    }
  }
  return int(n);
}

function pexpireat(ctx: ApplyContext, op: OpOf<'pexpireat'>): KvResult {
  if (op.nx && (op.xx || op.gt || op.lt)) return error(ERR.nxAndOthers);
  if (op.gt && op.lt) return error(ERR.gtAndLt);
  const cur = live(ctx, toBinary(op.key));
  if (cur === undefined) return int(0);
  const current = cur.expiresAt;
  // A key without expiry counts as an infinite TTL for GT and LT.
  if (op.nx && current !== 0) return int(0);
  if (op.xx && current === 0) return int(0);
  if (op.gt && (current === 0 || op.at <= current)) return int(0);
  if (op.lt && current !== 0 && op.at >= current) return int(0);
  if (op.at <= ctx.ts) ctx.ks.remove(cur, ctx.index);
  else {
    ctx.ks.setExpiry(cur, op.at, ctx.index);
    ctx.ks.lru.touch(cur);
  }
  return int(1);
}

function persist(ctx: ApplyContext, key: Uint8Array): KvResult {
  const cur = live(ctx, toBinary(key));
  if (cur === undefined || cur.expiresAt === 0) return int(0);
  ctx.ks.setExpiry(cur, 0, ctx.index);
  ctx.ks.lru.touch(cur);
  return int(1);
}

function incrby(ctx: ApplyContext, op: OpOf<'incrby'>): KvResult {
  const key = toBinary(op.key);
  const cur = live(ctx, key);
  const value = cur?.value;
  if (value !== undefined && typeof value !== 'string') return WRONGTYPE;
  const base = value === undefined ? 0 : parseInt64(value);
  if (base === null) return error(ERR.notInteger);
  const sum = addInt64(base, op.delta);
  if (sum === null) return error(ERR.overflow);
  store(ctx, key, cur, String(sum), cur?.expiresAt ?? 0);
  return int(sum);
}

function incrbyfloat(ctx: ApplyContext, op: OpOf<'incrbyfloat'>): KvResult {
  const key = toBinary(op.key);
  const cur = live(ctx, key);
  const value = cur?.value;
  if (value !== undefined && typeof value !== 'string') return WRONGTYPE;
  const base = parseLongDouble(value ?? '0');
  const incr = parseLongDouble(op.incr);
  if (base === null || incr === null) return error(ERR.notFloat);
  const sum = addLongDouble(base, incr);
  if (sum === null || sum.inf) return error(ERR.nanOrInf);
  const text = formatLongDouble(sum);
  store(ctx, key, cur, text, cur?.expiresAt ?? 0);
  return bulk(fromBinary(text));
}

function append(ctx: ApplyContext, op: OpOf<'append'>): KvResult {
  const key = toBinary(op.key);
  const cur = live(ctx, key);
  const value = cur?.value;
  if (value !== undefined && typeof value !== 'string') return WRONGTYPE;
  const length = (value?.length ?? 0) + op.value.length;
  if (length > MAX_STRING_BYTES) return error(ERR.tooBig);
  const added = toBinary(op.value);
  store(ctx, key, cur, value === undefined ? added : value + added, cur?.expiresAt ?? 0);
  return int(length);
}

function mset(ctx: ApplyContext, pairs: [Uint8Array, Uint8Array][], onlyIfNoneExist: boolean): KvResult {
  for (const [, v] of pairs) if (v.length > MAX_STRING_BYTES) return error(ERR.tooBig);
  if (onlyIfNoneExist) {
    for (const [k] of pairs) if (live(ctx, toBinary(k))) return int(0);
  }
  for (const [k, v] of pairs) {
    const key = toBinary(k);
    store(ctx, key, live(ctx, key), toBinary(v), 0);
  }
  return onlyIfNoneExist ? int(1) : OK;
}

function getdel(ctx: ApplyContext, key: Uint8Array): KvResult {
  const cur = live(ctx, toBinary(key));
  if (cur === undefined) return NIL;
  const reply = valueReply(cur);
  if (reply !== WRONGTYPE) ctx.ks.remove(cur, ctx.index);
  return reply;
}

function getex(ctx: ApplyContext, op: OpOf<'getex'>): KvResult {
  if (op.pxat !== undefined && op.pxat <= 0) return error(invalidExpireTime('getex'));
  const cur = live(ctx, toBinary(op.key));
  if (cur === undefined) return NIL;
  const reply = valueReply(cur);
  if (reply === WRONGTYPE) return reply;
  if (op.pxat !== undefined) {
    if (op.pxat <= ctx.ts) {
      ctx.ks.remove(cur, ctx.index);
      return reply;
    }
    ctx.ks.setExpiry(cur, op.pxat, ctx.index);
  } else if (op.persist && cur.expiresAt !== 0) {
    ctx.ks.setExpiry(cur, 0, ctx.index);
  }
  ctx.ks.lru.touch(cur);
  return reply;
}

function expireIf(ctx: ApplyContext, op: OpOf<'expireIf'>): KvResult {
  const item = ctx.ks.map.get(toBinary(op.key));
  if (item === undefined || item.expiresAt === 0 || item.expiresAt > op.at) return int(0);
  reclaim(ctx, item);
  return int(1);
}

/** The pre-issue-11 EVICT, kept for old log entries: deletes whatever is there now. */
function evict(ctx: ApplyContext, keys: Uint8Array[]): KvResult {
  let n = 0;
  for (const k of keys) {
    const item = ctx.ks.map.get(toBinary(k));
    if (item) {
      reclaim(ctx, item);
      n++;
    }
  }
  return int(n);
}

/**
 * EVICT_IF: the leader picked each victim at some version and proposed it later. A key written
 * since (SET, PERSIST, a new TTL, deleted and re-created) has another version and is spared, as
 * expireIf spares a key re-set in the meantime; the next pick sees it as it is now.
 */
function evictIf(ctx: ApplyContext, victims: Victim[]): KvResult {
  let n = 0;
  for (const v of victims) {
    const item = ctx.ks.map.get(toBinary(v.key));
    if (item !== undefined && item.version === v.version) {
      reclaim(ctx, item);
      n++;
    }
  }
  return int(n);
}

/** A read that Redis does with "touch" (GET, STRLEN, ...) rather than NOTOUCH (TTL, TYPE, ...). */
function readTouch(ctx: ApplyContext, key: Uint8Array): Item | undefined {
  const item = live(ctx, toBinary(key));
  if (item) ctx.ks.lru.touch(item);
  return item;
}

function keyList(keys: string[]): KvResult {
  return { type: 'array', value: keys.map((k) => bulk(fromBinary(k))) };
}

export function applyOp(ctx: ApplyContext, op: KvOp): KvResult {
  switch (op.type) {
    case 'set':
      return set(ctx, op);
    case 'del':
      return del(ctx, op.keys);
    case 'pexpireat':
      return pexpireat(ctx, op);
    case 'persist':
      return persist(ctx, op.key);
    case 'incrby':
      return incrby(ctx, op);
    case 'incrbyfloat':
      return incrbyfloat(ctx, op);
    case 'append':
      return append(ctx, op);
    case 'mset':
      return mset(ctx, op.pairs, false);
    case 'msetnx':
      return mset(ctx, op.pairs, true);
    case 'getdel':
      return getdel(ctx, op.key);
    case 'getex':
      return getex(ctx, op);
    case 'flushall':
      ctx.ks.clear(ctx.index);
      return OK;
    case 'publish':
      return { type: 'publish', channel: op.channel, message: op.message, shard: false };
    case 'spublish':
      return { type: 'publish', channel: op.channel, message: op.message, shard: true };
    case 'expireIf':
      return expireIf(ctx, op);
    case 'evict':
      return evict(ctx, op.keys);
    case 'evictIf':
      return evictIf(ctx, op.victims);
    case 'config':
      return { type: 'settings', ignored: mergeSettings(ctx.settings, op.pairs) };
    case 'session':
      // Meaningful only as an entry's first op, which KvStore.apply handles (sessions.ts).
      return error(SESSION_ERR.malformed);
    case 'split':
      // Meaningful only alone in its entry, which KvStore.apply handles (split.ts).
      return error(SPLIT_ERR.notAlone);
    case 'dropUnowned':
      return int(ctx.ks.dropUnowned(Math.min(op.limit, MAX_DROP_EXAMINED)));
    case 'get':
      return valueReply(readTouch(ctx, op.key));
    case 'mget':
      // MGET answers nil for a key that holds no string, as Redis does.
      return { type: 'array', value: op.keys.map((k) => mgetReply(readTouch(ctx, k))) };
    case 'exists': {
      let n = 0;
      for (const k of op.keys) if (live(ctx, toBinary(k))) n++;
      return int(n);
    }
    case 'strlen': {
      const value = readTouch(ctx, op.key)?.value;
      if (value !== undefined && typeof value !== 'string') return WRONGTYPE;
      return int(value?.length ?? 0);
    }
    case 'type': {
      const item = live(ctx, toBinary(op.key));
      return { type: 'status', value: item === undefined ? 'none' : typeOf(item.value) };
    }
    case 'ttl':
      return int(ttlOf(live(ctx, toBinary(op.key)), ctx.ts, op.unit));
    case 'expiretime':
      return int(expireTimeOf(live(ctx, toBinary(op.key)), op.unit));
    case 'dbsize':
      return int(liveCount(ctx.ks, ctx.ts));
    case 'keys':
      return keyList(matchingKeys(ctx.ks, toBinary(op.pattern), ctx.ts));
    case 'scan': {
      const page = scanKeys(ctx.ks, op.cursor, op.count, op.match && toBinary(op.match), ctx.ts);
      return { type: 'array', value: [bulk(fromBinary(String(page.cursor))), keyList(page.keys)] };
    }
    case 'randomkey': {
      const key = randomKeyOf(ctx.ks, ctx.rng, ctx.ts);
      return key === undefined ? NIL : bulk(fromBinary(key));
    }
    case 'scanType':
      return scanOfType(ctx.ks, op, ctx.ts);
    default: {
      // The collection commands (issue 14): type-writes.ts, list-writes.ts, zset-writes.ts and type-reads.ts.
      const host: ReadHost = { find: (key) => live(ctx, key), touch: (item) => ctx.ks.lru.touch(item), rng: ctx.rng };
      return (
        writeCollection(ctx, host, op) ?? writeList(ctx, host, op) ?? writeZset(ctx, host, op) ?? readCollection(host, op) ?? error(`ERR unknown op ${op.type}`)
      );
    }
  }
}
