/**
 * The keyspace's data structures and the only code that mutates them: a KeyMap from key to Item,
 * the LRU lists, the expiry heap, the creation-order array behind SCAN and RANDOMKEY, memory
 * accounting, WATCH versions, and (issue 13) the slots owned with a key count per slot. Every
 * write goes through create / setValue / beginEdit / setExpiry / remove / drop / clear, which
 * is where snapshots get their copy-on-write hook.
 */
import { ExpiryHeap } from './expiry-heap.ts';
import { Item, itemBytes } from './item.ts';
import { hashKey, KeyMap } from './key-map.ts';
import { LruLists } from './lru.ts';
import { ALL_SLOTS, type SlotRange, SlotSet } from './owned.ts';
import { binarySlot, SLOT_COUNT } from './slot.ts';
import type { CollectionImage } from './structs/image.ts';
import type { Value } from './types.ts';

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
  /** A string, or a collection's copy (a live collection changes in place). */
  value: string | CollectionImage;
  expiresAt: number;
  version: number;
}

/**
 * A running snapshot as the keyspace sees it (snapshot.ts). It covers the keys with
 * seq < end and has written those with seq <= done; `preserve` saves a pending item's fields
 * before they first change or the item is removed. Several may run at once: the store's own
 * image and the images of groups split off it.
 */
export interface SnapshotHook {
  readonly end: number;
  done: number;
  preserve(item: Item): void;
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
  /** Keys holding a collection (issue 14): a snapshot of none writes a format older nodes read. */
  collections = 0;
  /** The next key's creation seq (its SCAN cursor); replicated, carried by snapshots. */
  nextSeq = 1;
  /** Per bucket, the last log index at which a live key of that bucket was deleted. */
  deletedAt = new Float64Array(VERSION_BUCKETS);
  /**
   * The slots owned; null means all 16384 (a group never split, today's single group), for
   * which nothing below computes a slot on the apply path. Replicated, carried by snapshots.
   * Set it through `own`.
   */
  owned: SlotSet | null = null;
  /**
   * Keys held per slot, given-up ones included until dropped; null until first needed
   * (`countSlots`), because keeping it costs a slot hash (~40 ns for a 16-byte key) on every
   * key created or deleted. Derived data, never replicated: counted now or later, it is the same.
   * Always kept while `owned` is set.
   */
  private slotKeys: Uint32Array | null = null;
  /** Keys held in slots not owned: given up by a split and not yet dropped. */
  unowned = 0;
  /**
   * The cleanup walk (dropUnowned), replicated and carried by snapshots (FORMAT 6): every
   * given-up key not yet dropped has a seq in (dropAfter, dropEnd), dropEnd being nextSeq at the
   * last split (later keys are owned ones). Both 0 when no cleanup is pending. Seqs, not
   * positions: the walk advances alike on a replica that holds given-up keys and on one restored
   * from a snapshot, which never held them, so every replica finishes it.
   */
  dropAfter = 0;
  dropEnd = 0;
  /**
   * Bounds over the running snapshots (SnapshotHook): an item is pending in some snapshot only
   * if snapDone < seq < snapEnd, the one test a write pays. snapEnd = 0 when none runs.
   */
  snapEnd = 0;
  snapDone = 0;
  private hooks: SnapshotHook[] = [];
  private deadInOrder = 0;
  /**
   * Keys clients are blocked on (issue 14: BLPOP and its kin), set by the leader's registry
   * (KvStore.watchBlocked); null while none is. Not state: only `readied` depends on it, which
   * collects the blocked-on keys written since the leader last took them, so that it can
   * serve their waiters. Costs a write one null test while nobody is blocked.
   */
  blockedOn: ReadonlySet<string> | null = null;
  readied: string[] = [];

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

  /** Creates a key; apply and restore only create keys of owned slots. */
  create(key: string, value: Value, expiresAt: number, version: number): Item {
    const item = new Item(key, value, expiresAt, version, this.nextSeq++);
    if (typeof value !== 'string') this.collections++;
    this.map.add(item);
    this.lru.add(item);
    if (expiresAt !== 0) this.heap.insert(item);
    this.order.push(item);
    this.usedBytes += item.bytes;
    if (this.slotKeys !== null) this.slotKeys[binarySlot(key)]++;
    if (this.blockedOn !== null) this.touched(key);
    return item;
  }

  /** A write to `key`: a key clients are blocked on may now hold what they wait for. */
  private touched(key: string): void {
    if (this.blockedOn?.has(key)) this.readied.push(key);
  }

  /** Makes the store own `owned` (null = every slot); the keys it holds must be of those slots. */
  own(owned: SlotSet | null): void {
    if (owned !== null) this.countSlots();
    this.owned = owned;
  }

  /**
   * Starts keeping the per-slot key counts if not yet kept: one walk over the keys (O(keys),
   * ~50 ms for 1M; a group of a sharded node starts counting when it is made, so it never pays
   * this inside an apply).
   */
  countSlots(): void {
    if (this.slotKeys !== null) return;
    const counts = new Uint32Array(SLOT_COUNT);
    for (const item of this.map.values()) counts[binarySlot(item.key)]++;
    this.slotKeys = counts;
  }

  /** Keys held in `slot` (counting from now on if not yet). */
  keysInSlot(slot: number): number {
    this.countSlots();
    return this.slotKeys![slot] ?? 0;
  }

  /** Registers a running snapshot; it must `advance` as it writes and `detach` when done. */
  attach(hook: SnapshotHook): void {
    this.hooks.push(hook);
    this.bound();
  }

  detach(hook: SnapshotHook): void {
    const i = this.hooks.indexOf(hook);
    if (i < 0) return;
    this.hooks.splice(i, 1);
    this.bound();
  }

  /** The snapshot has written (or skipped) every key up to `seq`. */
  advance(hook: SnapshotHook, seq: number): void {
    hook.done = seq;
    if (this.hooks.length === 1) this.snapDone = seq;
    else this.bound();
  }

  private bound(): void {
    let end = 0;
    let done = Number.MAX_SAFE_INTEGER;
    for (const h of this.hooks) {
      end = Math.max(end, h.end);
      done = Math.min(done, h.done);
    }
    this.snapEnd = end;
    this.snapDone = this.hooks.length === 0 ? 0 : done;
  }

  private pendingInSnapshot(item: Item): boolean {
    return item.seq < this.snapEnd && item.seq > this.snapDone;
  }

  /** Saves the item's fields for each snapshot it is pending in. */
  private preserve(item: Item): void {
    for (const h of this.hooks) if (item.seq < h.end && item.seq > h.done) h.preserve(item);
  }

  setValue(item: Item, value: Value, version: number): void {
    if (this.pendingInSnapshot(item)) this.preserve(item);
    this.usedBytes += itemBytes(item.key, value) - item.bytes;
    this.collections += (typeof value === 'string' ? 0 : 1) - (typeof item.value === 'string' ? 0 : 1);
    item.value = value;
    item.version = version;
    if (this.blockedOn !== null) this.touched(item.key);
  }

  /**
   * Before a collection value changes in place: a pending snapshot copies it first, and the key
   * takes the new version. Returns the key's accounted bytes, to hand to `endEdit`.
   */
  beginEdit(item: Item, version: number): number {
    if (this.pendingInSnapshot(item)) this.preserve(item);
    item.version = version;
    if (this.blockedOn !== null) this.touched(item.key);
    return item.bytes;
  }

  /** After the change: usedMemory moves by what the collection's own count moved (no recount). */
  endEdit(item: Item, before: number): void {
    this.usedBytes += item.bytes - before;
  }

  /** Sets (at > 0) or clears (at = 0) a key's expiry. */
  setExpiry(item: Item, at: number, version: number): void {
    if (this.pendingInSnapshot(item)) this.preserve(item);
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
    this.unlink(item);
    if (index > 0) this.markDeleted(item.key, index);
    else this.markDeleted(item.key, Math.max(this.deletedAt[bucketOf(item.key)], item.version));
  }

  /**
   * Deletes a given-up key (cleanup after a split). Not a logical change: no client of this
   * group can see the key, so its WATCH bucket is left alone, as on a replica restored from a
   * snapshot, which never held it.
   */
  drop(item: Item): void {
    this.unlink(item);
  }

  private unlink(item: Item): void {
    if (this.pendingInSnapshot(item)) this.preserve(item);
    this.map.delete(item.key);
    this.lru.remove(item);
    if (item.heapIdx >= 0) this.heap.remove(item);
    item.markRemoved();
    this.usedBytes -= item.bytes;
    if (typeof item.value !== 'string') this.collections--;
    if (this.slotKeys !== null) {
      const slot = binarySlot(item.key);
      this.slotKeys[slot]--;
      if (this.owned !== null && !this.owned.has(slot)) this.unowned--;
    }
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
    this.collections = 0;
    this.slotKeys?.fill(0);
    this.unowned = 0;
    this.dropAfter = 0;
    this.dropEnd = 0;
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

  /** Keys held in the slots of `ranges`. */
  keysIn(ranges: readonly SlotRange[]): number {
    this.countSlots();
    const counts = this.slotKeys!;
    let n = 0;
    for (const [start, end] of ranges) for (let s = start; s <= end; s++) n += counts[s];
    return n;
  }

  /** Gives up `range` (a split): its keys become invisible here and wait for dropUnowned. */
  giveUp(range: SlotRange): void {
    this.own((this.owned ?? new SlotSet(ALL_SLOTS)).without(range));
    this.unowned += this.keysIn([range]);
    // Walk again from the first key: given-up keys of an earlier split may be left.
    this.dropAfter = 0;
    this.dropEnd = this.nextSeq > 1 ? this.nextSeq : 0;
  }

  /** Seqs the cleanup walk has still to pass (0 once done): the leader proposes steps meanwhile. */
  get dropPending(): number {
    return this.dropEnd === 0 ? 0 : this.dropEnd - 1 - this.dropAfter;
  }

  /**
   * The cleanup step: drops the given-up keys whose seq lies in the next `limit` seqs of the
   * walk, so it touches at most `limit` keys whatever it holds, and advances the walk by the
   * same seqs on every replica. Returns how many it dropped (0 on a replica that holds none).
   */
  dropUnowned(limit: number): number {
    const owned = this.owned;
    if (this.dropEnd === 0 || owned === null) return 0;
    const last = Math.min(this.dropAfter + limit, this.dropEnd - 1);
    // A local reference: a drop may compact this.order into a new array, which holds the same
    // live items, so walking on through the old one drops the same keys.
    const order = this.order;
    let dropped = 0;
    for (let i = this.orderIndexAfter(this.dropAfter); i < order.length && order[i].seq <= last; i++) {
      const item = order[i];
      if (item.live && !owned.hasKey(item.key)) {
        this.drop(item);
        dropped++;
      }
    }
    this.dropAfter = last;
    if (last >= this.dropEnd - 1) this.dropAfter = this.dropEnd = 0;
    return dropped;
  }
}
