/**
 * KvStore's reads: what a client's read sees at `nowMs` on any replica, after ReadIndex or
 * under a lease on the leader, or stale with READONLY on a follower; WATCH's version too. They change no replicated state: a key expired at `nowMs` is absent to them but
 * stays until its logged delete applies, and a key of a slot the store gave up in a split is
 * not seen (reads.ts). The one thing a read may change is leader-local: `{ touch: true }` marks
 * a key recently used, for the LRU order (lru.ts). KvStore (store.ts) extends this class.
 */
import type { Buffer } from 'node:buffer';
import { fromBinary, toBinary } from './bytes.ts';
import { WrongTypeError } from './errors.ts';
import { Keyspace } from './keyspace.ts';
import type { KvOp, Rng, TimeUnit } from './ops.ts';
import { expireTimeOf, findLive, liveCount, matchingKeys, randomKeyOf, scanKeys, ttlOf } from './reads.ts';
import type { KvResult } from './results.ts';
import { readCollectionOp } from './type-reads.ts';
import { type TypeName, typeOf, WRONG_TYPE } from './types.ts';

export interface ReadOptions {
  /** Mark the key most recently used (what Redis does for GET, not for TTL or EXISTS). */
  touch?: boolean;
}

export interface ScanOptions {
  /** Redis glob (see KEYS). */
  match?: Uint8Array;
  /** Keys to examine, default 10 as in Redis. */
  count?: number;
}

export abstract class StoreReads {
  /** The keyspace KvStore applies to; a restore swaps in a whole new one. */
  protected ks = new Keyspace();

  /** WATCH: the key's version at `nowMs`, to put in the EXEC entry's `watch` list. */
  version(key: Uint8Array, nowMs: number): number {
    return this.ks.version(toBinary(key), nowMs);
  }

  /** The key's string value; WrongTypeError for a collection (getBinary answers WRONG_TYPE). */
  get(key: Uint8Array, nowMs: number, opts?: ReadOptions): Buffer | null {
    const value = this.getBinary(key, nowMs, opts);
    if (value === WRONG_TYPE) throw new WrongTypeError();
    return value === null ? null : fromBinary(value);
  }

  /**
   * GET without the copy: the binary string the store holds (immutable, so a reply may keep it
   * until written), or WRONG_TYPE for a collection.
   */
  getBinary(key: Uint8Array, nowMs: number, opts?: ReadOptions): string | null | typeof WRONG_TYPE {
    const item = findLive(this.ks, toBinary(key), nowMs);
    if (item === undefined) return null;
    if (opts?.touch) this.ks.lru.touch(item);
    return typeof item.value === 'string' ? item.value : WRONG_TYPE;
  }

  exists(key: Uint8Array, nowMs: number): boolean {
    return findLive(this.ks, toBinary(key), nowMs) !== undefined;
  }

  type(key: Uint8Array, nowMs: number): TypeName | 'none' {
    const item = findLive(this.ks, toBinary(key), nowMs);
    return item ? typeOf(item.value) : 'none';
  }

  /** A collection read op (HGET, SMEMBERS, ...) at `nowMs` as apply answers it, deleting nothing. */
  readCollection(op: KvOp, nowMs: number, rng: Rng): KvResult | undefined {
    return readCollectionOp(this.ks, op, nowMs, rng);
  }

  /** PTTL (unit 'ms', the default) or TTL ('s', rounded like Redis): -2 missing, -1 no expiry. */
  ttl(key: Uint8Array, nowMs: number, unit: TimeUnit = 'ms'): number {
    return ttlOf(findLive(this.ks, toBinary(key), nowMs), nowMs, unit);
  }

  /** PEXPIRETIME ('ms', the default) or EXPIRETIME ('s'): -2 missing, -1 no expiry. */
  expireTime(key: Uint8Array, nowMs: number, unit: TimeUnit = 'ms'): number {
    return expireTimeOf(findLive(this.ks, toBinary(key), nowMs), unit);
  }

  keys(pattern: Uint8Array, nowMs: number): Buffer[] {
    return matchingKeys(this.ks, toBinary(pattern), nowMs).map(fromBinary);
  }

  /** One SCAN step; pass the returned cursor back, 0 means done. See reads.ts for guarantees. */
  scan(cursor: number, opts: ScanOptions, nowMs: number): { cursor: number; keys: Buffer[] } {
    const match = opts.match && toBinary(opts.match);
    const page = scanKeys(this.ks, cursor, opts.count ?? 10, match, nowMs);
    return { cursor: page.cursor, keys: page.keys.map(fromBinary) };
  }

  randomKey(rng: Rng, nowMs: number): Buffer | null {
    const key = randomKeyOf(this.ks, rng, nowMs);
    return key === undefined ? null : fromBinary(key);
  }

  /** Keys held, logically expired ones included until their logged delete is applied. */
  get size(): number {
    return this.ks.size;
  }

  /** Keys that carry an expiry (INFO keyspace `expires=`), expired ones included until deleted. */
  get volatileCount(): number {
    return this.ks.heap.size;
  }

  /** Keys not expired at `nowMs`. */
  dbsize(nowMs: number): number {
    return liveCount(this.ks, nowMs);
  }
}
