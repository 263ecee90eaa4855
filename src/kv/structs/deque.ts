/**
 * A list's elements (LPUSH, RPOP, LINDEX, LRANGE, LINSERT, LREM, LTRIM...), as Redis's
 * quicklist: a ring of chunks of up to CHUNK elements. Every chunk but the first and the last
 * is full, so element i is found in O(1) (its chunk by division, then at most CHUNK steps in
 * it). Chunks away from the ends (all but two at each end) are packed into one string, each
 * element prefixed by its length as a varint: a 15-byte element then costs ~19 bytes instead of
 * a V8 string of 32 plus an 8-byte slot, which is what keeps a list near Redis's size. The
 * chunks at the ends stay open (arrays of strings), so pushes and pops there are O(1) amortised
 * (a chunk is packed or unpacked, O(CHUNK), once per CHUNK pushes or pops in one direction; a
 * push/pop pair alternating across a chunk boundary pays O(CHUNK) each, a bounded constant).
 * Set is O(CHUNK); insert is O(distance to the nearer end); remove in the middle, LREM and a
 * full LTRIM are O(n); range is O(m + CHUNK).
 *
 * Elements read from a packed chunk are slices of its string (V8 keeps the chunk alive while a
 * slice lives); lists hand them to replies, and a chunk that takes one in is packed anew.
 * Redis 7.0 calls every list `quicklist` in OBJECT ENCODING, and so does `encoding` here.
 *
 * Bytes: `bytes` is kept up to date on every change: DEQUE_BASE plus, per element, its length
 * plus OPEN_ENTRY (an array slot and a string header) or PACKED_ENTRY (the varint and its share
 * of the chunk), re-priced when a chunk is packed or unpacked (measured: node --expose-gc,
 * test/kv/structs/structs.bench.ts). Indexes are 0-based from the head; callers resolve
 * Redis's negative indexes first.
 */

import { Chunk, pack, unpack } from './deque-chunk.ts';
import type { CollectionImage } from './image.ts';

export const CHUNK = 32;
export const DEQUE_BASE = 150;
export const OPEN_ENTRY = 32;
export const PACKED_ENTRY = 4;
const MIN_RING = 4;

export class Deque {
  /** Accounted heap bytes, kept up to date on every change. */
  bytes = DEQUE_BASE;
  /** The elements' lengths summed, kept with every change (rebuild re-prices from it). */
  private lengthSum = 0;
  private ring: (Chunk | undefined)[] = new Array(MIN_RING);
  private head = 0;
  private count = 0; // chunks
  private len = 0; // elements

  readonly encoding = 'quicklist';
  /** How many elements pushBack puts in the first chunk: CHUNK, except while a restore rebuilds its shape. */
  private firstCap = CHUNK;

  get length(): number {
    return this.len;
  }

  /** The element count, as every collection names it (Keyspace and the write helpers use it). */
  get size(): number {
    return this.len;
  }

  /** COPY: an independent list with the same elements, chunk shape and bytes. O(n). */
  clone(): Deque {
    const d = new Deque();
    d.lengthSum = this.lengthSum;
    d.rebuild(this.range(0, this.len - 1));
    return d;
  }

  /**
   * The elements head to tail, for a snapshot, read through its chunks: the live ones (valid
   * until the next change, which preserves a copy first) or, with `copy`, chunks as they are
   * now: a packed chunk's string is shared (strings do not change), only the open ones (at most
   * four) are copied. O(n / CHUNK) either way, not O(n); `at` unpacks one chunk at a time.
   */
  image(copy: boolean): CollectionImage {
    const chunks: Chunk[] = [];
    for (let ci = 0; ci < this.count; ci++) {
      const c = this.chunk(ci);
      if (!copy) chunks.push(c);
      else if (c.items) chunks.push(new Chunk(c.items.slice()));
      else chunks.push(Object.assign(new Chunk([]), { items: null, data: c.data, n: c.n }));
    }
    const first = chunks.length ? chunks[0].n : 0;
    // The chunk last read: its index, its first element's position and its elements.
    let at = -1;
    let start = 0;
    let items: string[] = [];
    const element = (e: number): string => {
      if (at < 0 || e < start || e >= start + items.length) {
        at = e < first ? 0 : 1 + Math.floor((e - first) / CHUNK);
        start = at === 0 ? 0 : first + (at - 1) * CHUNK;
        const c = chunks[at];
        items = c.items ?? unpack(c.data);
      }
      return items[e - start];
    };
    return { type: 'list', hashtable: false, members: [], values: null, head: first, count: this.len, at: element };
  }

  /**
   * A restore rebuilding a list of `head` elements in its first chunk (its image's `head`): the
   * pushBacks that follow fill that chunk to `head` and every later one to CHUNK, which is the
   * shape, the packed chunks and so the bytes the list had. `restoring(CHUNK)` ends it.
   */
  restoring(head: number): void {
    this.firstCap = Math.max(1, Math.min(CHUNK, head));
  }

  /** Element i (0 <= i < length), or undefined. */
  get(i: number): string | undefined {
    if (i < 0 || i >= this.len) return undefined;
    const [c, k] = this.locate(i);
    return c.items ? c.items[k] : unpack(c.data, k, k + 1)[0];
  }

  /** LSET: replaces element i; false when i is out of range. */
  set(i: number, v: string): boolean {
    if (i < 0 || i >= this.len) return false;
    const [c, k] = this.locate(i);
    const items = c.items ?? unpack(c.data);
    this.bytes += v.length - items[k].length;
    this.lengthSum += v.length - items[k].length;
    items[k] = v;
    if (c.items) return true;
    c.data = pack(items);
    return true;
  }

  pushBack(v: string): void {
    let tail = this.count ? this.chunk(this.count - 1) : undefined;
    if (!tail || tail.n === (this.count === 1 ? this.firstCap : CHUNK)) {
      tail = new Chunk([]);
      this.ringPush(tail, false);
      this.settleAfterGrowth(false);
    }
    tail.items!.push(v);
    tail.n++;
    this.len++;
    this.lengthSum += v.length;
    this.bytes += v.length + OPEN_ENTRY;
  }

  pushFront(v: string): void {
    let head = this.count ? this.chunk(0) : undefined;
    if (!head || head.n === CHUNK) {
      head = new Chunk([]);
      this.ringPush(head, true);
      this.settleAfterGrowth(true);
    }
    head.items!.unshift(v);
    head.n++;
    this.len++;
    this.lengthSum += v.length;
    this.bytes += v.length + OPEN_ENTRY;
  }

  popFront(): string | undefined {
    if (this.len === 0) return undefined;
    const head = this.chunk(0);
    const v = head.items!.shift()!;
    this.afterPop(head, v, true);
    return v;
  }

  popBack(): string | undefined {
    if (this.len === 0) return undefined;
    const tail = this.chunk(this.count - 1);
    const v = tail.items!.pop()!;
    this.afterPop(tail, v, false);
    return v;
  }

  /** Elements start..stop inclusive, clamped to the list (LRANGE after index resolution). */
  range(start: number, stop: number): string[] {
    start = Math.max(0, start);
    stop = Math.min(stop, this.len - 1);
    const out: string[] = [];
    if (start > stop) return out;
    let [c, k] = this.locate(start);
    let ci = c === this.chunk(0) ? 0 : 1 + Math.floor((start - this.chunk(0).n) / CHUNK);
    let left = stop - start + 1;
    while (left > 0) {
      const items = c.items ?? unpack(c.data, k, k + left);
      const from = c.items ? k : 0;
      for (let j = from; j < items.length && left > 0; j++, left--) out.push(items[j]);
      ci++;
      k = 0;
      if (ci < this.count) c = this.chunk(ci);
    }
    return out;
  }

  /**
   * Inserts v so that it becomes element i (0 <= i <= length): the elements between i and the
   * nearer end are popped and pushed back around it, O(min(i, length - i)), so LINSERT near
   * either end of a long list costs what Redis's does, not a rebuild.
   */
  insert(i: number, v: string): void {
    if (i <= this.len / 2) {
      const moved: string[] = [];
      for (let k = 0; k < i; k++) moved.push(this.popFront() as string);
      this.pushFront(v);
      for (let k = moved.length - 1; k >= 0; k--) this.pushFront(moved[k]);
      return;
    }
    const moved: string[] = [];
    for (let k = Math.min(this.len, this.len - i); k > 0; k--) moved.push(this.popBack() as string);
    this.pushBack(v);
    for (let k = moved.length - 1; k >= 0; k--) this.pushBack(moved[k]);
  }

  /** Removes and returns element i. O(n). */
  removeAt(i: number): string | undefined {
    if (i < 0 || i >= this.len) return undefined;
    if (i === 0) return this.popFront();
    if (i === this.len - 1) return this.popBack();
    const all = this.range(0, this.len - 1);
    const [v] = all.splice(i, 1);
    this.lengthSum -= v.length;
    this.rebuild(all);
    return v;
  }

  /**
   * LREM: removes up to |count| elements equal to v, from the head when count > 0, from the tail
   * when count < 0, all when count is 0. One compacting pass, O(n). Returns how many went.
   */
  removeValue(v: string, count: number): number {
    const limit = count === 0 ? Number.POSITIVE_INFINITY : Math.abs(count);
    const items = this.range(0, this.len - 1);
    const keep = new Array<boolean>(items.length).fill(true);
    let removed = 0;
    for (let k = 0; k < items.length && removed < limit; k++) {
      const i = count < 0 ? items.length - 1 - k : k;
      if (items[i] === v) {
        keep[i] = false;
        removed++;
      }
    }
    if (removed > 0) {
      this.lengthSum -= removed * v.length;
      this.rebuild(items.filter((_, i) => keep[i]));
    }
    return removed;
  }

  /** LTRIM: keeps elements start..stop inclusive (resolved, may be empty). O(removed + kept). */
  trim(start: number, stop: number): void {
    start = Math.max(0, start);
    stop = Math.min(stop, this.len - 1);
    if (start > stop) {
      this.ring = new Array(MIN_RING);
      this.head = this.count = this.len = this.lengthSum = 0;
      this.bytes = DEQUE_BASE;
      return;
    }
    const tail = this.len - 1 - stop;
    for (let k = 0; k < tail; k++) this.popBack();
    for (let k = 0; k < start; k++) this.popFront();
  }

  /** The first position holding v, or -1: a scan chunk by chunk, O(position + CHUNK). */
  indexOf(v: string): number {
    let base = 0;
    for (let ci = 0; ci < this.count; ci++) {
      const c = this.chunk(ci);
      const k = (c.items ?? unpack(c.data)).indexOf(v);
      if (k >= 0) return base + k;
      base += c.n;
    }
    return -1;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (let ci = 0; ci < this.count; ci++) {
      const c = this.chunk(ci);
      yield* c.items ?? unpack(c.data);
    }
  }

  /** For tests: elements held in packed chunks, and the chunk shape invariants. */
  check(): number {
    let packed = 0;
    let total = 0;
    for (let ci = 0; ci < this.count; ci++) {
      const c = this.chunk(ci);
      const open = ci <= 1 || ci >= this.count - 2;
      if (open !== (c.items !== null)) throw new Error(`chunk ${ci} of ${this.count} open=${c.items !== null}`);
      if (ci > 0 && ci < this.count - 1 && c.n !== CHUNK) throw new Error(`middle chunk ${ci} has ${c.n}`);
      if (c.n < 1 || c.n > CHUNK) throw new Error(`chunk ${ci} has ${c.n}`);
      if ((c.items ? c.items.length : unpack(c.data).length) !== c.n) throw new Error('chunk count');
      if (!c.items) packed += c.n;
      total += c.n;
    }
    if (total !== this.len) throw new Error('length');
    return packed;
  }

  private chunk(ci: number): Chunk {
    return this.ring[(this.head + ci) & (this.ring.length - 1)]!;
  }

  /** The chunk holding element i and i's place in it. */
  private locate(i: number): [Chunk, number] {
    const first = this.chunk(0);
    if (i < first.n) return [first, i];
    const j = i - first.n;
    return [this.chunk(1 + Math.floor(j / CHUNK)), j % CHUNK];
  }

  private ringPush(c: Chunk, front: boolean): void {
    if (this.count === this.ring.length) this.resize(this.ring.length * 2);
    if (front) {
      this.head = (this.head - 1) & (this.ring.length - 1);
      this.ring[this.head] = c;
    } else {
      this.ring[(this.head + this.count) & (this.ring.length - 1)] = c;
    }
    this.count++;
  }

  /** A chunk was added at one end: the one that is now third from that end gets packed. */
  private settleAfterGrowth(front: boolean): void {
    const ci = front ? 2 : this.count - 3;
    if (this.count >= 5) this.packChunk(this.chunk(ci));
  }

  private afterPop(c: Chunk, v: string, front: boolean): void {
    c.n--;
    this.len--;
    this.lengthSum -= v.length;
    this.bytes -= v.length + OPEN_ENTRY;
    if (c.n > 0) return;
    // The end chunk emptied: drop it; the chunk now second from that end must be open.
    const mask = this.ring.length - 1;
    if (front) {
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) & mask;
    } else {
      this.ring[(this.head + this.count - 1) & mask] = undefined;
    }
    this.count--;
    if (this.count >= 2) this.openChunk(this.chunk(front ? 1 : this.count - 2));
    if (this.ring.length > MIN_RING && this.count * 4 <= this.ring.length) this.resize(this.ring.length / 2);
  }

  private packChunk(c: Chunk): void {
    if (!c.items) return;
    c.data = pack(c.items);
    c.items = null;
    this.bytes -= c.n * (OPEN_ENTRY - PACKED_ENTRY);
  }

  private openChunk(c: Chunk): void {
    if (c.items) return;
    c.items = unpack(c.data);
    c.data = '';
    this.bytes += c.n * (OPEN_ENTRY - PACKED_ENTRY);
  }

  /**
   * Replaces the contents (the caller has updated lengthSum): full chunks from the head, the last
   * one partial, packed away from the ends, priced from the counters.
   */
  private rebuild(items: string[]): void {
    this.ring = new Array(MIN_RING);
    this.head = this.count = 0;
    this.len = items.length;
    for (let i = 0; i < items.length; i += CHUNK) this.ringPush(new Chunk(items.slice(i, i + CHUNK)), false);
    this.bytes = DEQUE_BASE + this.lengthSum + this.len * OPEN_ENTRY;
    for (let ci = 2; ci < this.count - 2; ci++) this.packChunk(this.chunk(ci));
  }

  private resize(cap: number): void {
    const next = new Array<Chunk | undefined>(cap);
    const mask = this.ring.length - 1;
    for (let i = 0; i < this.count; i++) next[i] = this.ring[(this.head + i) & mask];
    this.ring = next;
    this.head = 0;
  }
}
