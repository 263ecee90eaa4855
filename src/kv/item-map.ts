/**
 * Item -> V for a set of items that may grow to a large share of the keyspace: a snapshot's
 * preserved originals, which a split image gathers for every given-up key its parent drops
 * before the image has streamed it (half a million at 1M keys). A V8 Map grows by rebuilding
 * its whole table inside the one `set` that fills it: 7, 14 and 27 ms at about 2^17, 2^18 and
 * 2^19 items (measured on that split), one slice of the 50 ms a cleanup step may hold the loop
 * (issue 14), and twice that on a contended 2-core machine. So the items are spread over SHARDS
 * Maps by their seq, which never changes while an item lives, and each grows at 1/SHARDS of the
 * size. Nothing observable depends on which Map holds an item.
 */
import type { Item } from './item.ts';

const SHARDS = 64;

export class ItemMap<V> {
  private readonly shards: Map<Item, V>[] = Array.from({ length: SHARDS }, () => new Map());

  private of(item: Item): Map<Item, V> {
    return this.shards[item.seq & (SHARDS - 1)];
  }

  has(item: Item): boolean {
    return this.of(item).has(item);
  }

  get(item: Item): V | undefined {
    return this.of(item).get(item);
  }

  set(item: Item, value: V): void {
    this.of(item).set(item, value);
  }

  delete(item: Item): boolean {
    return this.of(item).delete(item);
  }

  clear(): void {
    for (const m of this.shards) m.clear();
  }
}
