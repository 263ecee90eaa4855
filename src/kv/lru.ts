/**
 * Exact LRU: two intrusive doubly-linked lists over Items, one with every key and one with only
 * the keys that have an expiry (for volatile-lru). Head = least recently used. All O(1).
 */
import type { Item } from './item.ts';

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
