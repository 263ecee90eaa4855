/**
 * Read-side computations shared by KvStore's local reads and the read ops inside a MULTI.
 * None of them deletes anything: a key whose expiry is <= now is simply skipped, and so is a
 * key of a slot the store does not own (given up in a split, not yet dropped).
 */
import { globMatch, isLiteralPattern } from './glob.ts';
import type { Item } from './item.ts';
import type { Keyspace } from './keyspace.ts';
import type { Rng, TimeUnit } from './ops.ts';
import { typeOf } from './types.ts';

/** The item for `key` if it exists, is not expired at `now` and is of an owned slot. */
export function findLive(ks: Keyspace, key: string, now: number): Item | undefined {
  const item = ks.map.get(key);
  if (item === undefined || item.expiredAt(now)) return undefined;
  return ks.owned === null || ks.owned.hasKey(key) ? item : undefined;
}

/** Whether a held item is visible to reads at `now`: not expired, and of an owned slot. */
function visible(ks: Keyspace, item: Item, now: number): boolean {
  return !item.expiredAt(now) && (ks.owned === null || ks.owned.hasKey(item.key));
}

/** TTL/PTTL: -2 missing, -1 no expiry, else the remaining time (seconds rounded, as Redis). */
export function ttlOf(item: Item | undefined, now: number, unit: TimeUnit): number {
  if (item === undefined) return -2;
  if (item.expiresAt === 0) return -1;
  const ms = Math.max(item.expiresAt - now, 0);
  return unit === 'ms' ? ms : Math.floor((ms + 500) / 1000);
}

/** EXPIRETIME/PEXPIRETIME: -2 missing, -1 no expiry, else the absolute time (seconds truncated). */
export function expireTimeOf(item: Item | undefined, unit: TimeUnit): number {
  if (item === undefined) return -2;
  if (item.expiresAt === 0) return -1;
  return unit === 'ms' ? item.expiresAt : Math.floor(item.expiresAt / 1000);
}

/** KEYS: the keys not expired at `now` that match a Redis glob. */
export function matchingKeys(ks: Keyspace, pattern: string, now: number): string[] {
  if (isLiteralPattern(pattern)) return findLive(ks, pattern, now) ? [pattern] : [];
  const all = pattern === '*';
  const out: string[] = [];
  for (const item of ks.map.values()) {
    if (visible(ks, item, now) && (all || globMatch(pattern, item.key))) out.push(item.key);
  }
  return out;
}

export interface ScanPage {
  /** 0 when the iteration is complete. */
  cursor: number;
  keys: string[];
}

/**
 * One SCAN step. The cursor is the creation sequence of the last key examined, and keys are
 * kept in creation order, so a key present for the whole iteration is returned exactly once
 * whatever is added or deleted meanwhile (Redis only promises "at least once"). Like Redis,
 * COUNT is the amount of work (keys examined), so a page may hold fewer keys, even none.
 * Seqs are replicated state and snapshots carry them (snapshot.ts FORMAT 4), so a cursor from
 * one replica continues on any other, restored from a snapshot or not.
 */
export function scanKeys(ks: Keyspace, cursor: number, count: number, match: string | undefined, now: number, kind?: string): ScanPage {
  const order = ks.order;
  let i = ks.orderIndexAfter(cursor);
  const keys: string[] = [];
  // Redis skips matching for a bare "*" (which, as a glob, would not match the empty key).
  const filter = match === '*' ? undefined : match;
  let examined = 0;
  const budget = Math.max(1, count);
  let last = cursor;
  while (i < order.length && examined < budget) {
    const item = order[i++];
    if (!item.live) continue;
    examined++;
    last = item.seq;
    if (!visible(ks, item, now)) continue;
    // SCAN ... TYPE t (issue 14): a name no type has matches nothing, as in Redis 7.0.
    if (kind !== undefined && typeOf(item.value) !== kind) continue;
    if (filter === undefined || globMatch(filter, item.key)) keys.push(item.key);
  }
  // Skip trailing removed slots so the final page reports completion.
  while (i < order.length && !order[i].live) i++;
  return { cursor: i >= order.length ? 0 : last, keys };
}

/** RANDOMKEY: uniform over live keys (rejection sampling over the creation-order array). */
export function randomKeyOf(ks: Keyspace, rng: Rng, now: number): string | undefined {
  const order = ks.order;
  if (ks.size === ks.unowned) return undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    const item = order[Math.floor(rng() * order.length)];
    if (item.live && visible(ks, item, now)) return item.key;
  }
  // Nearly everything is removed, expired or given up: walk once from a random start.
  const start = Math.floor(rng() * order.length);
  for (let n = 0; n < order.length; n++) {
    const item = order[(start + n) % order.length];
    if (item.live && visible(ks, item, now)) return item.key;
  }
  return undefined;
}

/** Keys of owned slots not expired at `now`. */
export function liveCount(ks: Keyspace, now: number): number {
  const owned = ks.owned;
  if (owned === null) return ks.size - ks.heap.countExpired(now);
  return ks.size - ks.unowned - ks.heap.countExpired(now, (item) => owned.hasKey(item.key));
}
