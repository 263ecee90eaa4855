/**
 * The key -> Item index: SHARDS open-addressing hash tables (linear probing) of Item
 * references, sharded by key hash.
 *
 * Why not a JS Map: a Map entry costs 28 bytes per slot of capacity (key, value, chain and half
 * a bucket) and a Map is 50-100% full, so 29-56 bytes per key; a slot here is one 8-byte
 * reference at 38-75% load, 11-21 bytes per key. The Item already holds the key, so the table
 * needs nothing else. Why shards: growing a table rehashes all its entries, which for one
 * table of 2^20 keys blocks for 50-80 ms; with 256 shards a rehash moves 1/256 of the keys.
 */
import type { Item } from './item.ts';

const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
const MIN_CAPACITY = 8;

/** FNV-1a over the key's bytes: cheap, and stable across processes and versions. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A key's first-choice slot in a table of `mask + 1` slots (bits above the shard's). */
function home(hash: number, mask: number): number {
  return (hash >>> SHARD_BITS) & mask;
}

/** One linear-probing table; `null` marks an empty slot (there are no tombstones). */
class Shard {
  slots: (Item | null)[] = new Array<Item | null>(MIN_CAPACITY).fill(null);
  size = 0;

  /** The slot holding `key`, or -1. */
  find(key: string, hash: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = home(hash, mask); ; i = (i + 1) & mask) {
      const item = slots[i];
      if (item === null) return -1;
      if (item.key === key) return i;
    }
  }

  add(item: Item, hash: number): void {
    // Grow at 3/4 full: probe sequences stay short (2.5 slots on average for a miss).
    if ((this.size + 1) * 4 > this.slots.length * 3) this.resize(this.slots.length * 2);
    this.place(item, hash);
    this.size++;
  }

  /**
   * Empties slot `i` by backward-shift deletion: later entries of the same probe run move back
   * into the hole unless that would put them before their home slot. No tombstones, so lookups
   * never slow down with deletes.
   */
  removeAt(i: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const item = slots[j];
      if (item === null) break;
      const h = home(hashKey(item.key), mask);
      // Stays if its home lies cyclically in (hole, j]: moving it would skip past its home.
      const stays = hole <= j ? hole < h && h <= j : hole < h || h <= j;
      if (!stays) {
        slots[hole] = item;
        hole = j;
      }
    }
    slots[hole] = null;
    this.size--;
    // Shrink at 1/8 full (to 1/4 after): a table emptied by deletes gives its memory back.
    if (this.size * 8 < slots.length && slots.length > MIN_CAPACITY) this.resize(slots.length / 2);
  }

  private place(item: Item, hash: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = home(hash, mask);
    while (slots[i] !== null) i = (i + 1) & mask;
    slots[i] = item;
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.slots = new Array<Item | null>(capacity).fill(null);
    for (const item of old) if (item !== null) this.place(item, hashKey(item.key));
  }
}

export class KeyMap {
  private readonly shards: Shard[] = Array.from({ length: SHARDS }, () => new Shard());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): Item | undefined {
    const hash = hashKey(key);
    const shard = this.shards[hash & (SHARDS - 1)];
    const i = shard.find(key, hash);
    return i < 0 ? undefined : shard.slots[i]!;
  }

  has(key: string): boolean {
    const hash = hashKey(key);
    return this.shards[hash & (SHARDS - 1)].find(key, hash) >= 0;
  }

  /** Adds a key that is not present (the keyspace always checks first). */
  add(item: Item): void {
    const hash = hashKey(item.key);
    this.shards[hash & (SHARDS - 1)].add(item, hash);
    this.count++;
  }

  delete(key: string): void {
    const hash = hashKey(key);
    const shard = this.shards[hash & (SHARDS - 1)];
    const i = shard.find(key, hash);
    if (i < 0) return;
    shard.removeAt(i);
    this.count--;
  }

  /** Every item, in no particular order (KEYS). Must not be interleaved with changes. */
  *values(): IterableIterator<Item> {
    for (const shard of this.shards) {
      for (const item of shard.slots) if (item !== null) yield item;
    }
  }
}
