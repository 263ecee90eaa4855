/**
 * The keyspace's data structures and the only code that mutates them: a KeyMap from key to Item,
 * the LRU lists, the expiry heap, the creation-order array behind SCAN and RANDOMKEY, memory
 * accounting and WATCH versions. Every write goes through create / setValue / setExpiry /
 * remove / clear, which is where snapshots get their copy-on-write hook.
 */
import { ExpiryHeap } from './expiry-heap.ts';
import { Item, itemBytes } from './item.ts';
import { hashKey, KeyMap } from './key-map.ts';
import { LruLists } from './lru.ts';

/**
 * Versions of absent keys are tracked per hash bucket rather than per key (a tombstone per
 * deleted key would grow without bound): deleting a live key stamps its bucket with the log
 * index, and an absent key's version is derived from its bucket. A WATCH on an absent key can
 * thus abort because another key of the same bucket was deleted; never the other way round.
 */
const BUCKET_BITS = 14;
export const VERSION_BUCKETS = 1 << BUCKET_BITS;

/** Values captured before a key's first write during a snapshot. */
export interface ItemImage {
  value: string;
  expiresAt: number;
  version: number;
}

export function bucketOf(key: string): number {
  // The high bits: the low ones pick the KeyMap shard.
  return hashKey(key) >>> (32 - BUCKET_BITS);
}

export class Keyspace {
  map = new KeyMap();
  lru = new LruLists();
  heap = new ExpiryHeap();
  /**
   * Items in creation (seq) order; removed ones stay until compaction (see remove). Only ever
   * appended to, or replaced by a new array (compaction, clear): a snapshot relies on that.
   */
  order: Item[] = [];
  usedBytes = 0;
  /** The next key's creation seq (its SCAN cursor); replicated, carried by snapshots. */
  nextSeq = 1;
  /** Per bucket, the last log index at which a live key of that bucket was deleted. */
  deletedAt = new Float64Array(VERSION_BUCKETS);
  /**
   * The running snapshot covers items with seq < snapEnd and has written those with
   * seq <= snapDone; `preserve` saves a pending item's fields before they first change or the
   * item is removed. snapEnd = 0 when no snapshot runs.
   */
  snapEnd = 0;
  snapDone = 0;
  preserve: ((item: Item) => void) | null = null;
  private deadInOrder = 0;

  get size(): number {
    return this.map.size;
  }

  /**
   * WATCH version at `now`: the log index of the last write for a live key, and for an absent
   * key a negative number derived from its bucket's last deletion. A logically expired key reads
   * as deleted at its last write (its version), which is what reclaiming it records (remove
   * with index 0): so the version does not move when the key is reclaimed (Redis: no change),
   * yet a key written after a WATCH of it as absent and expired before EXEC still aborts it
   * (Redis touches the watch on the write).
   */
  version(key: string, now: number): number {
    const item = this.map.get(key);
    const deleted = this.deletedAt[bucketOf(key)];
    if (item === undefined) return -(deleted + 1);
    if (!item.expiredAt(now)) return item.version;
    return -(Math.max(deleted, item.version) + 1);
  }

  create(key: string, value: string, expiresAt: number, version: number): Item {
    const item = new Item(key, value, expiresAt, version, this.nextSeq++);
    this.map.add(item);
    this.lru.add(item);
    if (expiresAt !== 0) this.heap.insert(item);
    this.order.push(item);
    this.usedBytes += item.bytes;
    return item;
  }

  private pendingInSnapshot(item: Item): boolean {
    return item.seq < this.snapEnd && item.seq > this.snapDone;
  }

  setValue(item: Item, value: string, version: number): void {
    if (this.pendingInSnapshot(item)) this.preserve!(item);
    this.usedBytes += itemBytes(item.key, value) - item.bytes;
    item.value = value;
    item.version = version;
  }

  /** Sets (at > 0) or clears (at = 0) a key's expiry. */
  setExpiry(item: Item, at: number, version: number): void {
    if (this.pendingInSnapshot(item)) this.preserve!(item);
    item.version = version;
    const was = item.expiresAt;
    if (was === at) return;
    // The heap slot and volatile links live with the expiry: set it before joining, clear it
    // after leaving.
    if (was === 0) {
      item.expiresAt = at;
      this.heap.insert(item);
      this.lru.volatilityChanged(item, true);
    } else if (at === 0) {
      this.heap.remove(item);
      this.lru.volatilityChanged(item, false);
      item.expiresAt = 0;
    } else {
      item.expiresAt = at;
      this.heap.update(item);
    }
  }

  /**
   * Deletes a key. `index` > 0 records a logical deletion at that index for WATCH. Pass 0 when
   * the key was already logically expired: Redis treats reclaiming an expired key as no change,
   * so the bucket only records the key's last write, as `version` already reported it.
   */
  remove(item: Item, index: number): void {
    if (this.pendingInSnapshot(item)) this.preserve!(item);
    this.map.delete(item.key);
    this.lru.remove(item);
    if (item.heapIdx >= 0) this.heap.remove(item);
    item.markRemoved();
    this.usedBytes -= item.bytes;
    if (index > 0) this.markDeleted(item.key, index);
    else this.markDeleted(item.key, Math.max(this.deletedAt[bucketOf(item.key)], item.version));
    // Compact the scan order once most of it is dead: amortized O(1) per delete.
    this.deadInOrder++;
    if (this.deadInOrder > 1024 && this.deadInOrder * 2 > this.order.length) {
      this.order = this.order.filter((i) => i.live);
      this.deadInOrder = 0;
    }
  }

  /** Records a logical change of an absent key (its WATCH version moves). */
  markDeleted(key: string, index: number): void {
    this.deletedAt[bucketOf(key)] = index;
  }

  /**
   * FLUSHALL. Items are dropped, not mutated or marked removed, so a running snapshot still
   * reads them intact from its own reference to the old `order` array.
   */
  clear(index: number): void {
    this.map = new KeyMap();
    this.lru = new LruLists();
    this.heap = new ExpiryHeap();
    this.order = [];
    this.deadInOrder = 0;
    this.usedBytes = 0;
    // Every watched key may have existed; being conservative only costs a retried EXEC.
    this.deletedAt.fill(index);
  }

  /** First position in `order` whose seq is greater than `seq` (binary search). */
  orderIndexAfter(seq: number): number {
    const order = this.order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
