/**
 * The read ops of the collection commands (issue 14): HGET, HGETALL, HRANDFIELD, HSCAN ... and
 * OBJECT ENCODING, evaluated the same way by apply (inside a MULTI: `live` lookups that reclaim
 * an expired key, the entry's seeded generator) and by KvStore for a read served alone (lookups
 * that delete nothing, any generator). A key of another kind answers WRONGTYPE, a missing one
 * what Redis answers for an empty collection.
 */
import { fromBinary, toBinary } from './bytes.ts';
import { globMatch } from './glob.ts';
import type { Item } from './item.ts';
import type { Keyspace } from './keyspace.ts';
import type { KvOp, OpOf, Rng } from './ops.ts';
import { findLive, scanKeys } from './reads.ts';
import { bulk, error, int, type KvResult, NIL, WRONGTYPE } from './results.ts';
import { Hash } from './structs/hash.ts';
import { ERR_RANDOM_COUNT, MAX_RANDOM_COUNT } from './structs/random.ts';
import { encodingOf } from './types.ts';

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

/** A collection read op (or OBJECT ENCODING) against `host`; undefined for any other op. */
export function readCollection(host: ReadHost, op: KvOp): KvResult | undefined {
  if (op.type === 'encoding') {
    const item = host.find(toBinary(op.key));
    return item === undefined ? NIL : bulk(fromBinary(encodingOf(item.value)));
  }
  return hashRead(host, op);
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
