/**
 * The read ops of the collection commands (issue 14): HGET, HGETALL, HRANDFIELD, HSCAN,
 * SMEMBERS, SINTER, SRANDMEMBER, SSCAN ... (the sorted sets' in zset-reads.ts) and OBJECT ENCODING, evaluated the same way by apply (inside a MULTI: `live` lookups that reclaim
 * an expired key, the entry's seeded generator) and by KvStore for a read served alone (lookups
 * that delete nothing, any generator). A key of another kind answers WRONGTYPE, a missing one
 * what Redis answers for an empty collection.
 */
import { fromBinary, toBinary } from './bytes.ts';
import { globMatch } from './glob.ts';
import type { Item } from './item.ts';
import type { Keyspace } from './keyspace.ts';
import { readList } from './list-reads.ts';
import { type KvOp, type OpOf, type Rng, SET_MODE } from './ops.ts';
import { findLive, scanKeys } from './reads.ts';
import { bulk, error, int, type KvResult, NIL, WRONGTYPE } from './results.ts';
import { Hash } from './structs/hash.ts';
import { ERR_RANDOM_COUNT, MAX_RANDOM_COUNT } from './structs/random.ts';
import { MemberSet } from './structs/set.ts';
import { encodingOf } from './types.ts';
import { readZset } from './zset-reads.ts';

/** How a read finds a key and what else it may touch. */
export interface ReadHost {
  /** The key's item if live (apply reclaims an expired one; a local read just skips it). */
  find(key: string): Item | undefined;
  /** Marks the key most recently used (reads other than OBJECT do, as Redis's lookupKeyRead). */
  touch(item: Item): void;
  rng: Rng;
}

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });

function bulks(values: readonly string[]): KvResult {
  return { type: 'array', value: values.map((v) => bulk(fromBinary(v))) };
}

/** The key's hash, undefined when missing, WRONGTYPE when it holds another kind. */
export function findHash(host: ReadHost, key: Uint8Array): Hash | undefined | KvResult {
  const item = host.find(toBinary(key));
  if (item === undefined) return undefined;
  if (!(item.value instanceof Hash)) return WRONGTYPE;
  host.touch(item);
  return item.value;
}

function hrandfield(h: Hash | undefined, op: OpOf<'hrandfield'>, rng: Rng): KvResult {
  if (op.count === undefined) {
    if (h === undefined) return NIL;
    return bulk(fromBinary(h.random(rng, -1)[0][0]));
  }
  if (op.count < -MAX_RANDOM_COUNT) return error(ERR_RANDOM_COUNT);
  if (h === undefined) return EMPTY;
  const out: string[] = [];
  for (const [f, v] of h.random(rng, op.count)) {
    out.push(f);
    if (op.withValues) out.push(v);
  }
  return bulks(out);
}

function hscan(h: Hash | undefined, op: OpOf<'hscan'>): KvResult {
  if (h === undefined) return { type: 'array', value: [bulk(fromBinary('0')), EMPTY] };
  const page = h.scan(op.cursor, op.count);
  const match = op.match === undefined ? undefined : toBinary(op.match);
  const out: string[] = [];
  for (const [f, v] of page.entries) {
    if (match !== undefined && match !== '*' && !globMatch(match, f)) continue;
    out.push(f, v);
  }
  return { type: 'array', value: [bulk(fromBinary(String(page.cursor))), bulks(out)] };
}

/** The hash read ops; undefined for any other op. */
function hashRead(host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'hget':
    case 'hmget':
    case 'hgetall':
    case 'hexists':
    case 'hlen':
    case 'hkeys':
    case 'hvals':
    case 'hstrlen':
    case 'hrandfield':
    case 'hscan':
      break;
    default:
      return undefined;
  }
  const h = findHash(host, op.key);
  if (h !== undefined && !(h instanceof Hash)) return h;
  switch (op.type) {
    case 'hget': {
      const v = h?.get(toBinary(op.field));
      return v === undefined ? NIL : bulk(fromBinary(v));
    }
    case 'hmget':
      return {
        type: 'array',
        value: op.fields.map((f) => {
          const v = h?.get(toBinary(f));
          return v === undefined ? NIL : bulk(fromBinary(v));
        }),
      };
    case 'hgetall': {
      const out: string[] = [];
      if (h) for (const [f, v] of h.entries()) out.push(f, v);
      return bulks(out);
    }
    case 'hexists':
      return int(h?.has(toBinary(op.field)) ? 1 : 0);
    case 'hlen':
      return int(h?.size ?? 0);
    case 'hkeys':
    case 'hvals': {
      const out: string[] = [];
      const which = op.type === 'hkeys' ? 0 : 1;
      if (h) for (const e of h.entries()) out.push(e[which]);
      return bulks(out);
    }
    case 'hstrlen':
      return int(h?.get(toBinary(op.field))?.length ?? 0);
    case 'hrandfield':
      return hrandfield(h, op, host.rng);
    case 'hscan':
      return hscan(h, op);
  }
}

/** The key's set, undefined when missing, WRONGTYPE when it holds another kind. */
export function findSet(host: ReadHost, key: Uint8Array): MemberSet | undefined | KvResult {
  const item = host.find(toBinary(key));
  if (item === undefined) return undefined;
  if (!(item.value instanceof MemberSet)) return WRONGTYPE;
  host.touch(item);
  return item.value;
}

/**
 * The sets named by `keys` (undefined for a missing one), or WRONGTYPE if any key holds another
 * kind: Redis looks every key up before it combines anything.
 */
export function findSets(host: ReadHost, keys: readonly Uint8Array[]): (MemberSet | undefined)[] | KvResult {
  const sets: (MemberSet | undefined)[] = [];
  for (const k of keys) {
    const s = findSet(host, k);
    if (s !== undefined && !(s instanceof MemberSet)) return s;
    sets.push(s);
  }
  return sets;
}

/**
 * SINTER / SUNION / SDIFF of `sets` as a new set, built by adds as Redis builds its result
 * (an intset while it can be one): an intersection walks the smallest set, a missing key is an
 * empty set. `limit` stops an intersection early (SINTERCARD).
 */
export function combineSets(sets: readonly (MemberSet | undefined)[], mode: number, limit = 0): MemberSet {
  const out = new MemberSet();
  if (mode === SET_MODE.union) {
    for (const s of sets) if (s) for (const m of s) out.add(m);
  } else if (mode === SET_MODE.diff) {
    const [first, ...rest] = sets;
    if (first) for (const m of first) if (!rest.some((s) => s?.has(m))) out.add(m);
  } else {
    if (sets.some((s) => s === undefined || s.size === 0)) return out;
    const bySize = [...(sets as MemberSet[])].sort((a, b) => a.size - b.size);
    for (const m of bySize[0]) {
      if (bySize.every((s, i) => i === 0 || s.has(m))) out.add(m);
      if (limit > 0 && out.size >= limit) break;
    }
  }
  return out;
}

function sscan(s: MemberSet | undefined, op: OpOf<'sscan'>): KvResult {
  if (s === undefined) return { type: 'array', value: [bulk(fromBinary('0')), EMPTY] };
  const page = s.scan(op.cursor, op.count);
  const match = op.match === undefined ? undefined : toBinary(op.match);
  const out = match === undefined || match === '*' ? page.members : page.members.filter((m) => globMatch(match, m));
  return { type: 'array', value: [bulk(fromBinary(String(page.cursor))), bulks(out)] };
}

function srandmember(s: MemberSet | undefined, op: OpOf<'srandmember'>, rng: Rng): KvResult {
  if (op.count === undefined) return s === undefined ? NIL : bulk(fromBinary(s.random(rng, -1)[0]));
  if (op.count < -MAX_RANDOM_COUNT) return error(ERR_RANDOM_COUNT);
  return s === undefined ? EMPTY : bulks(s.random(rng, op.count));
}

/** The set read ops; undefined for any other op. */
function setRead(host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'scombine': {
      const sets = findSets(host, op.keys);
      return Array.isArray(sets) ? bulks([...combineSets(sets, op.mode)]) : sets;
    }
    case 'sintercard': {
      const sets = findSets(host, op.keys);
      return Array.isArray(sets) ? int(combineSets(sets, SET_MODE.inter, op.limit).size) : sets;
    }
    case 'smembers':
    case 'sismember':
    case 'smismember':
    case 'scard':
    case 'srandmember':
    case 'sscan':
      break;
    default:
      return undefined;
  }
  const s = findSet(host, op.key);
  if (s !== undefined && !(s instanceof MemberSet)) return s;
  switch (op.type) {
    case 'smembers':
      return s === undefined ? EMPTY : bulks([...s]);
    case 'sismember':
      return int(s?.has(toBinary(op.member)) ? 1 : 0);
    case 'smismember':
      return { type: 'array', value: op.members.map((m) => int(s?.has(toBinary(m)) ? 1 : 0)) };
    case 'scard':
      return int(s?.size ?? 0);
    case 'srandmember':
      return srandmember(s, op, host.rng);
    case 'sscan':
      return sscan(s, op);
  }
}

/** A collection read op (or OBJECT ENCODING) against `host`; undefined for any other op. */
export function readCollection(host: ReadHost, op: KvOp): KvResult | undefined {
  if (op.type === 'encoding') {
    const item = host.find(toBinary(op.key));
    return item === undefined ? NIL : bulk(fromBinary(encodingOf(item.value)));
  }
  return hashRead(host, op) ?? setRead(host, op) ?? readList(host, op) ?? readZset(host, op);
}

/** SCAN ... TYPE: the scan page of keys of that type. */
export function scanOfType(ks: Keyspace, op: OpOf<'scanType'>, now: number): KvResult {
  const page = scanKeys(ks, op.cursor, op.count, op.match && toBinary(op.match), now, toBinary(op.kind));
  return { type: 'array', value: [bulk(fromBinary(String(page.cursor))), bulks(page.keys)] };
}

/** For a read served alone: nothing is deleted, an expired key is absent. */
export function readCollectionOp(ks: Keyspace, op: KvOp, now: number, rng: Rng): KvResult | undefined {
  const host: ReadHost = {
    find: (key) => findLive(ks, key, now),
    touch: (item) => ks.lru.touch(item),
    rng,
  };
  if (op.type === 'scanType') return scanOfType(ks, op, now);
  return readCollection(host, op);
}
