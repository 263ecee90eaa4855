/**
 * Exact LRU: two intrusive doubly-linked lists over Items, one with every key and one with only
 * the keys that have an expiry (for volatile-lru). Head = least recently used. All O(1).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Item } from './item.ts';
import type { Keyspace } from './keyspace.ts';

/** Keys walked between two yields to the event loop (lruOrder). */
const LRU_SLICE = 16 * 1024;

/**
 * Keys from least to most recently used (binary strings), keys of slots not owned left out:
 * the leader's LRU order, which a backup carries (node/backup.ts) so that a cluster restored
 * from it evicts what this one would have. Walked in slices with a turn of the event loop
 * between them: pointer chasing through 500k keys held the loop for 45-60 ms of CPU in one
 * piece, 6-7 ms per slice now (test/kv/lru-order.test.ts), and heartbeats must flow. Exact when
 * no key is read or deleted meanwhile; otherwise a key read during the walk may be listed twice
 * (its later place wins on restore), and if the key to resume at was deleted the walk ends
 * there (the rest stay least recent after a restore).
 */
export async function lruOrder(ks: Keyspace): Promise<string[]> {
  const out: string[] = [];
  // A bound: reads that keep moving keys to the tail could otherwise keep the walk going.
  const limit = 2 * ks.size;
  let walked = 0;
  let item = ks.lru.head;
  while (item !== null && walked < limit) {
    for (let n = 0; item !== null && n < LRU_SLICE && walked < limit; n++) {
      if (ks.owned === null || ks.owned.hasKey(item.key)) out.push(item.key);
      walked++;
      item = item.next;
    }
    if (item === null) break;
    await yieldToEventLoop();
    if (!item.live) break;
  }
  return out;
}

export class LruLists {
  head: Item | null = null;
  tail: Item | null = null;
  vhead: Item | null = null;
  vtail: Item | null = null;

  /** Appends a new key as most recently used. */
  add(item: Item): void {
    item.prev = this.tail;
    item.next = null;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    if (item.expiresAt !== 0) this.addVolatile(item);
  }

  remove(item: Item): void {
    if (item.prev) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = null;
    if (item.expiresAt !== 0) this.removeVolatile(item);
  }

  /** Marks a key most recently used. */
  touch(item: Item): void {
    if (this.tail !== item) {
      this.remove(item);
      this.add(item);
    } else if (item.expiresAt !== 0 && this.vtail !== item) {
      this.removeVolatile(item);
      this.addVolatile(item);
    }
  }

  /** Marks a key least recently used (RESTORE ... IDLETIME: a key that has been idle). */
  makeLeastRecent(item: Item): void {
    this.remove(item);
    item.prev = null;
    item.next = this.head;
    if (this.head) this.head.prev = item;
    else this.tail = item;
    this.head = item;
    if (item.expiresAt === 0) return;
    item.vprev = null;
    item.vnext = this.vhead;
    if (this.vhead) this.vhead.vprev = item;
    else this.vtail = item;
    this.vhead = item;
  }

  /** Call when a key's expiry goes from none to set (`true`) or from set to none (`false`). */
  volatilityChanged(item: Item, volatile: boolean): void {
    if (volatile) this.addVolatile(item);
    else this.removeVolatile(item);
  }

  private addVolatile(item: Item): void {
    item.vprev = this.vtail;
    item.vnext = null;
    if (this.vtail) this.vtail.vnext = item;
    else this.vhead = item;
    this.vtail = item;
  }

  private removeVolatile(item: Item): void {
    if (item.vprev) item.vprev.vnext = item.vnext;
    else this.vhead = item.vnext;
    if (item.vnext) item.vnext.vprev = item.vprev;
    else this.vtail = item.vprev;
    item.vprev = item.vnext = null;
  }
}
