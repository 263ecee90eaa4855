/**
 * Timer index for the leader's active expiry and for volatile-ttl eviction: an indexed binary
 * min-heap of the keys that have an expiry, ordered by (expiresAt, seq). Each Item stores its
 * slot, so insert, remove and re-key are O(log n).
 */
import { type Item, NOT_IN_HEAP } from './item.ts';

function before(a: Item, b: Item): boolean {
  return a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.seq < b.seq);
}

export class ExpiryHeap {
  private readonly items: Item[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Item | undefined {
    return this.items[0];
  }

  insert(item: Item): void {
    item.heapIdx = this.items.length;
    this.items.push(item);
    this.up(item.heapIdx);
  }

  remove(item: Item): void {
    const i = item.heapIdx;
    const last = this.items.pop()!;
    item.heapIdx = NOT_IN_HEAP;
    if (last === item) return;
    this.items[i] = last;
    last.heapIdx = i;
    this.fix(i);
  }

  /** Restores order after `item.expiresAt` changed. */
  update(item: Item): void {
    this.fix(item.heapIdx);
  }

  /**
   * Up to `limit` items with expiresAt <= `now`: a depth-first walk that prunes every subtree
   * whose root is later than `now`, so the cost is O(result), not O(heap).
   */
  expired(now: number, limit: number): Item[] {
    const out: Item[] = [];
    const stack: number[] = [0];
    const items = this.items;
    while (stack.length > 0 && out.length < limit) {
      const i = stack.pop()!;
      if (i >= items.length || items[i].expiresAt > now) continue;
      out.push(items[i]);
      stack.push(2 * i + 2, 2 * i + 1);
    }
    return out;
  }

  /**
   * How many items have expiresAt <= `now` (and pass `only`, when given), with the same
   * pruning as `expired`.
   */
  countExpired(now: number, only?: (item: Item) => boolean): number {
    let count = 0;
    const stack: number[] = [0];
    const items = this.items;
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (i >= items.length || items[i].expiresAt > now) continue;
      if (only === undefined || only(items[i])) count++;
      stack.push(2 * i + 2, 2 * i + 1);
    }
    return count;
  }

  /**
   * Visits items in ascending (expiresAt, seq) order until `visit` returns false, without
   * modifying the heap: a frontier heap of candidate slots, O(k log k) for k visited.
   */
  ascending(visit: (item: Item) => boolean): void {
    const items = this.items;
    if (items.length === 0) return;
    const frontier: number[] = [0];
    const less = (a: number, b: number) => before(items[a], items[b]);
    while (frontier.length > 0) {
      const i = popMin(frontier, less);
      if (!visit(items[i])) return;
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < items.length) pushMin(frontier, c, less);
    }
  }

  private fix(i: number): void {
    if (i > 0 && before(this.items[i], this.items[(i - 1) >> 1])) this.up(i);
    else this.down(i);
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent])) break;
      items[i] = items[parent];
      items[i].heapIdx = i;
      i = parent;
    }
    items[i] = item;
    item.heapIdx = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(items[child + 1], items[child])) child++;
      if (!before(items[child], item)) break;
      items[i] = items[child];
      items[i].heapIdx = i;
      i = child;
    }
    items[i] = item;
    item.heapIdx = i;
  }
}

/** Plain binary-heap push over slot numbers, for the frontier in `ascending`. */
function pushMin(h: number[], v: number, less: (a: number, b: number) => boolean): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(h[i], h[p])) break;
    [h[i], h[p]] = [h[p], h[i]];
    i = p;
  }
}

function popMin(h: number[], less: (a: number, b: number) => boolean): number {
  const top = h[0];
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= h.length) break;
      if (c + 1 < h.length && less(h[c + 1], h[c])) c++;
      if (!less(h[c], h[i])) break;
      [h[i], h[c]] = [h[c], h[i]];
      i = c;
    }
  }
  return top;
}
