/**
 * The key -> Item index, split into SHARDS Maps by key hash. A single JS Map rehashes all its
 * entries when it grows past a power of two, which blocks for 50-80 ms at 2^19-2^20 keys; with
 * 256 shards each rehash moves 1/256 of the keys (~0.3 ms at 1M keys).
 */
import type { Item } from './item.ts';

const SHARDS = 256;

/** FNV-1a over the key's bytes: cheap, and stable across processes and versions. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class KeyMap {
  private readonly shards: Map<string, Item>[] = Array.from({ length: SHARDS }, () => new Map());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): Item | undefined {
    return this.shards[hashKey(key) & (SHARDS - 1)].get(key);
  }

  has(key: string): boolean {
    return this.shards[hashKey(key) & (SHARDS - 1)].has(key);
  }

  /** Adds a key that is not present (the keyspace always checks first). */
  add(item: Item): void {
    this.shards[hashKey(item.key) & (SHARDS - 1)].set(item.key, item);
    this.count++;
  }

  delete(key: string): void {
    if (this.shards[hashKey(key) & (SHARDS - 1)].delete(key)) this.count--;
  }

  *values(): IterableIterator<Item> {
    for (const shard of this.shards) yield* shard.values();
  }
}
