/**
 * A list's elements (LPUSH, RPOP, LINDEX, LRANGE, LINSERT, LREM, LTRIM...): a ring buffer of
 * binary strings whose capacity is a power of two. Pushes and pops at either end are O(1)
 * amortised (the ring doubles when full and halves when a quarter full, copying once per
 * growth, never per push); index and set are O(1); insert and remove in the middle are O(n),
 * shifting the shorter side; range is O(m).
 *
 * Compact when small: a new deque holds 4 slots, so a short list costs a few words beyond its
 * elements; a separate small encoding would save nothing measurable (docs/performance.md,
 * "Collections"). Redis 7.0 calls every list `quicklist` in OBJECT ENCODING (listpack lists came
 * in 7.2), and so does `encoding` here.
 *
 * Bytes: `bytes` is kept up to date on every change: DEQUE_BASE plus, per element, its length
 * plus DEQUE_ENTRY (a slot of the ring at its average fill and the string's header).
 * Indexes are 0-based from the head; callers resolve Redis's negative indexes first.
 */

/**
 * Estimates beside each element's length (measured: node --expose-gc, test/kv/structs/structs.bench.ts; a flat member string costs its length plus ~20 bytes of header and padding): the object and its 4-slot ring (~150 B
 * measured with one element); per element a ring slot at average fill (8-11 B) and the header.
 */
export const DEQUE_BASE = 150;
export const DEQUE_ENTRY = 32;
const MIN_CAPACITY = 4;

export class Deque {
  /** Accounted heap bytes, kept up to date on every change. */
  bytes = DEQUE_BASE;
  private buf: (string | undefined)[] = new Array(MIN_CAPACITY);
  private head = 0;
  private len = 0;

  readonly encoding = 'quicklist';

  get length(): number {
    return this.len;
  }

  /** Element i (0 <= i < length), or undefined. */
  get(i: number): string | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.buf[(this.head + i) & (this.buf.length - 1)];
  }

  /** LSET: replaces element i; false when i is out of range. */
  set(i: number, v: string): boolean {
    if (i < 0 || i >= this.len) return false;
    const slot = (this.head + i) & (this.buf.length - 1);
    this.bytes += v.length - this.buf[slot]!.length;
    this.buf[slot] = v;
    return true;
  }

  pushBack(v: string): void {
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    this.buf[(this.head + this.len) & (this.buf.length - 1)] = v;
    this.len++;
    this.bytes += v.length + DEQUE_ENTRY;
  }

  pushFront(v: string): void {
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = v;
    this.len++;
    this.bytes += v.length + DEQUE_ENTRY;
  }

  popFront(): string | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head]!;
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.len--;
    this.popped(v);
    return v;
  }

  popBack(): string | undefined {
    if (this.len === 0) return undefined;
    const slot = (this.head + this.len - 1) & (this.buf.length - 1);
    const v = this.buf[slot]!;
    this.buf[slot] = undefined;
    this.len--;
    this.popped(v);
    return v;
  }

  /** Elements start..stop inclusive, clamped to the list (LRANGE after index resolution). */
  range(start: number, stop: number): string[] {
    start = Math.max(0, start);
    stop = Math.min(stop, this.len - 1);
    const out: string[] = [];
    const mask = this.buf.length - 1;
    for (let i = start; i <= stop; i++) out.push(this.buf[(this.head + i) & mask]!);
    return out;
  }

  /** Inserts v so that it becomes element i (0 <= i <= length); shifts the shorter side. O(n). */
  insert(i: number, v: string): void {
    if (i <= 0) {
      this.pushFront(v);
      return;
    }
    if (i >= this.len) {
      this.pushBack(v);
      return;
    }
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    const mask = this.buf.length - 1;
    if (i < this.len - i) {
      this.head = (this.head - 1) & mask;
      for (let k = 0; k < i; k++) this.buf[(this.head + k) & mask] = this.buf[(this.head + k + 1) & mask];
    } else {
      for (let k = this.len; k > i; k--) this.buf[(this.head + k) & mask] = this.buf[(this.head + k - 1) & mask];
    }
    this.buf[(this.head + i) & mask] = v;
    this.len++;
    this.bytes += v.length + DEQUE_ENTRY;
  }

  /** Removes and returns element i; shifts the shorter side. O(n). */
  removeAt(i: number): string | undefined {
    if (i < 0 || i >= this.len) return undefined;
    if (i === 0) return this.popFront();
    if (i === this.len - 1) return this.popBack();
    const mask = this.buf.length - 1;
    const v = this.buf[(this.head + i) & mask]!;
    if (i < this.len - 1 - i) {
      for (let k = i; k > 0; k--) this.buf[(this.head + k) & mask] = this.buf[(this.head + k - 1) & mask];
      this.buf[this.head] = undefined;
      this.head = (this.head + 1) & mask;
    } else {
      for (let k = i; k < this.len - 1; k++) this.buf[(this.head + k) & mask] = this.buf[(this.head + k + 1) & mask];
      this.buf[(this.head + this.len - 1) & mask] = undefined;
    }
    this.len--;
    this.popped(v);
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
      this.rebuild(items.filter((_, i) => keep[i]));
      this.bytes -= removed * (v.length + DEQUE_ENTRY);
    }
    return removed;
  }

  /** LTRIM: keeps elements start..stop inclusive (resolved, may be empty). O(removed + kept). */
  trim(start: number, stop: number): void {
    start = Math.max(0, start);
    stop = Math.min(stop, this.len - 1);
    if (start > stop) {
      this.rebuild([]);
      this.bytes = DEQUE_BASE;
      return;
    }
    const tail = this.len - 1 - stop;
    for (let k = 0; k < tail; k++) this.popBack();
    for (let k = 0; k < start; k++) this.popFront();
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (let i = 0; i < this.len; i++) yield this.get(i)!;
  }

  /** Accounting and shrinking after an element left. */
  private popped(v: string): void {
    this.bytes -= v.length + DEQUE_ENTRY;
    if (this.buf.length > MIN_CAPACITY && this.len * 4 <= this.buf.length) this.resize(this.buf.length / 2);
  }

  /** Replaces the contents (the caller fixes `bytes`). */
  private rebuild(items: string[]): void {
    let cap = MIN_CAPACITY;
    while (cap < items.length) cap *= 2;
    this.buf = new Array(cap);
    for (let i = 0; i < items.length; i++) this.buf[i] = items[i];
    this.head = 0;
    this.len = items.length;
  }

  private resize(cap: number): void {
    const next = new Array<string | undefined>(cap);
    const mask = this.buf.length - 1;
    for (let i = 0; i < this.len; i++) next[i] = this.buf[(this.head + i) & mask];
    this.buf = next;
    this.head = 0;
  }
}
