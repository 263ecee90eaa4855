/**
 * One key of the keyspace. An intrusive record: it is at once the Map value, a node of the LRU
 * lists and a slot of the expiry heap, so touch, expire and delete are O(1) / O(log n) with no
 * side tables.
 */

/**
 * Fixed per-key cost in the memory accounting, on top of key and value length: this record,
 * the two strings' headers, the key-map slot and the creation-order slot. Measured on Node 20
 * x86_64 with 1M keys of 16 bytes and values of 100 bytes (test/bench/memory-breakdown.ts,
 * heap used after a full GC, minus an empty node's): 300 heap bytes per key, against 316
 * accounted. Deterministic on purpose: replicas must agree on it.
 */
export const ITEM_OVERHEAD = 200;

/** usedMemory contribution of one key: key bytes + value bytes + ITEM_OVERHEAD. */
export function itemBytes(key: string, value: string): number {
  return key.length + value.length + ITEM_OVERHEAD;
}

/** heapIdx of a live key without expiry; a removed key's is REMOVED. */
export const NOT_IN_HEAP = -1;
const REMOVED = -2;

/**
 * Ten fields, all inline (no side objects): 104 bytes per key on 64-bit V8. Whatever can be
 * derived (accounted bytes, liveness) is a getter, not a field.
 */
export class Item {
  readonly key: string;
  /** Binary string (one char per byte). Replaced, never mutated, so snapshots can share it. */
  value: string;
  /** Absolute Unix ms; 0 means no expiry. */
  expiresAt: number;
  /** Log index of the last write to this key (WATCH compares it). */
  version: number;
  /** Creation order: SCAN's cursor, and what tells a snapshot which keys it covers. */
  seq: number;
  /** Position in the expiry heap; NOT_IN_HEAP when the key has no expiry, REMOVED once deleted. */
  heapIdx = NOT_IN_HEAP;
  // All-keys LRU list (head = least recently used) and the volatile-keys LRU list.
  prev: Item | null = null;
  next: Item | null = null;
  vprev: Item | null = null;
  vnext: Item | null = null;

  constructor(key: string, value: string, expiresAt: number, version: number, seq: number) {
    this.key = key;
    this.value = value;
    this.expiresAt = expiresAt;
    this.version = version;
    this.seq = seq;
  }

  /** usedMemory contribution: derived, so it cannot drift from the value. */
  get bytes(): number {
    return itemBytes(this.key, this.value);
  }

  /** False once removed from the keyspace (a snapshot may still hold it). */
  get live(): boolean {
    return this.heapIdx !== REMOVED;
  }

  /** Marks the key removed; it must already be out of the expiry heap. */
  markRemoved(): void {
    this.heapIdx = REMOVED;
  }

  /** Logically expired at `now` (expiry == now counts as expired, as in Redis). */
  expiredAt(now: number): boolean {
    return this.expiresAt !== 0 && this.expiresAt <= now;
  }
}
