/**
 * One key of the keyspace. An intrusive record: it is at once the Map value, a node of the LRU
 * lists and (through its Expiry) a slot of the expiry heap, so touch, expire and delete are
 * O(1) / O(log n) with no side tables.
 */
import { type Value, valueBytes } from './types.ts';

/**
 * Fixed per-key cost in the memory accounting, on top of key and value length: this record,
 * the two strings' headers, the key-map slot and the creation-order slot. Measured on Node 20
 * x86_64 with 1M keys of 16 bytes and values of 100 bytes (test/bench/memory-breakdown.ts,
 * heap used after a full GC, minus an empty node's): 261 heap bytes per key, against 316
 * accounted; a key with an expiry takes 72 more (its Expiry and the boxed time).
 * Deterministic on purpose: replicas must agree on it.
 */
export const ITEM_OVERHEAD = 200;

/**
 * usedMemory contribution of one key: key bytes + value bytes + ITEM_OVERHEAD. A collection's
 * value bytes are its own running count (structs/), adjusted on every add and remove.
 */
export function itemBytes(key: string, value: Value): number {
  return key.length + valueBytes(value) + ITEM_OVERHEAD;
}

/** heapIdx of a key without expiry. */
export const NOT_IN_HEAP = -1;

/**
 * What only a key with an expiry needs. Kept out of Item so that keys without one (most, often
 * all) do not pay for it: 32 bytes each, plus the box V8 gives every object's double field
 * once any expiry (a Unix ms time, not a small integer) has been stored in it.
 */
class Expiry {
  /** Position in the expiry heap. */
  heapIdx = NOT_IN_HEAP;
  // The volatile-keys LRU list.
  vprev: Item | null = null;
  vnext: Item | null = null;

  constructor(
    /** Absolute Unix ms, > 0. */
    public at: number,
  ) {}
}

/** Stands in for `exp` once the key is removed: a removed key is not live and has no expiry. */
const REMOVED = new Expiry(0);

/**
 * Seven fields, 80 heap bytes on 64-bit V8. What can be derived (accounted bytes, liveness) is
 * a getter, not a field.
 */
export class Item {
  readonly key: string;
  /**
   * A binary string (one char per byte), replaced, never mutated, so snapshots can share it; or
   * a collection, changed in place through Keyspace.beginEdit, which lets a snapshot copy it first.
   */
  value: Value;
  /** Log index of the last write to this key (WATCH compares it). */
  version: number;
  /** Creation order: SCAN's cursor, and what tells a snapshot which keys it covers. */
  seq: number;
  // All-keys LRU list (head = least recently used).
  prev: Item | null = null;
  next: Item | null = null;
  /** null when the key has no expiry; REMOVED once deleted. */
  private exp: Expiry | null;

  constructor(key: string, value: Value, expiresAt: number, version: number, seq: number) {
    this.key = key;
    this.value = value;
    this.version = version;
    this.seq = seq;
    this.exp = expiresAt === 0 ? null : new Expiry(expiresAt);
  }

  /** Absolute Unix ms; 0 means no expiry. */
  get expiresAt(): number {
    return this.exp === null ? 0 : this.exp.at;
  }

  /**
   * Changes the expiry. Only the Keyspace calls this, and it keeps the heap and the volatile
   * list in step: a key leaves both before its expiry is cleared and joins them after it is set.
   */
  set expiresAt(at: number) {
    if (at === 0) this.exp = null;
    else if (this.exp === null) this.exp = new Expiry(at);
    else this.exp.at = at;
  }

  /** Position in the expiry heap; NOT_IN_HEAP when the key has no expiry. */
  get heapIdx(): number {
    return this.exp === null ? NOT_IN_HEAP : this.exp.heapIdx;
  }

  /** Only keys with an expiry are in the heap. */
  set heapIdx(i: number) {
    this.exp!.heapIdx = i;
  }

  // The volatile-keys LRU list, which holds only keys with an expiry.
  get vprev(): Item | null {
    return this.exp === null ? null : this.exp.vprev;
  }

  set vprev(item: Item | null) {
    this.exp!.vprev = item;
  }

  get vnext(): Item | null {
    return this.exp === null ? null : this.exp.vnext;
  }

  set vnext(item: Item | null) {
    this.exp!.vnext = item;
  }

  /** usedMemory contribution: derived, so it cannot drift from the value. */
  get bytes(): number {
    return itemBytes(this.key, this.value);
  }

  /** False once removed from the keyspace (a snapshot may still hold it). */
  get live(): boolean {
    return this.exp !== REMOVED;
  }

  /** Marks the key removed; it must already be out of the expiry heap and the LRU lists. */
  markRemoved(): void {
    this.exp = REMOVED;
  }

  /** Logically expired at `now` (expiry == now counts as expired, as in Redis). */
  expiredAt(now: number): boolean {
    return this.exp !== null && this.exp.at !== 0 && this.exp.at <= now;
  }
}
