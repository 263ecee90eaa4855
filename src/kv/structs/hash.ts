/**
 * A hash's fields (HSET, HGET, HDEL, HGETALL, HRANDFIELD, HSCAN...): field -> value, both binary
 * strings. A plain JS Map would do for lookups; what it lacks is O(1) access by position, which
 * HRANDFIELD needs for random picks from a seeded generator and HSCAN for a cursor. So:
 *
 * - `listpack` (Redis 7.0's name; up to hash-max-listpack-entries 512 fields, none and no value
 *   longer than hash-max-listpack-value 64): two exact-size parallel arrays (tight.ts) in insertion order, lookups
 *   scan. HGETALL then lists fields in Redis's own order, and a small hash has no Map.
 * - `hashtable`: the same arrays plus an index field -> position (position-index.ts: a table
 *   of positions, ~18 B a field against a Map's ~37 at 100k). Deleting moves the last field
 *   into the hole (O(1)), so the order is a deterministic function of the operations, though not
 *   Redis's (its hashtable order is unspecified anyway).
 * Conversion happens on the add that crosses a limit, and never back (as Redis).
 *
 * Bytes: `bytes` is kept up to date on every change: HASH_BASE plus, per field, the field's and
 * the value's length plus LISTPACK_FIELD or HASHTABLE_FIELD (estimates from heap measurements,
 * docs/performance.md "Collections").
 */
import type { Rng } from '../ops.ts';
import type { CollectionImage } from './image.ts';
import { PositionIndex } from './position-index.ts';
import { pickIndices } from './random.ts';
import { withInserted, withRemoved } from './tight.ts';

/** Redis 7.0's default (config.c, and the redis.conf it ships), which redis-server 7.0.15 reports. */
export const HASH_MAX_LISTPACK_ENTRIES = 512;
export const HASH_MAX_LISTPACK_VALUE = 64;
/**
 * Per-field estimates beside the field's and value's lengths (measured: node --expose-gc, test/kv/structs/structs.bench.ts; a flat member string costs its length plus ~20 bytes of header and padding): the object with its
 * first arrays (~240 B measured with one field); listpack, two array slots (17 B) and two string
 * headers; hashtable, two slots and the position index's share (together 34-36 B at 1M-100k)
 * and two headers.
 */
export const HASH_BASE = 220;
export const LISTPACK_FIELD = 56;
export const HASHTABLE_FIELD = 80;

export interface HashLimits {
  maxListpackEntries: number;
  maxListpackValue: number;
}

const DEFAULT_LIMITS: HashLimits = {
  maxListpackEntries: HASH_MAX_LISTPACK_ENTRIES,
  maxListpackValue: HASH_MAX_LISTPACK_VALUE,
};

export class Hash {
  /** Restores a snapshot's hashtable as one: later edits then move fields as they did. */
  static hashtable(): Hash {
    const h = new Hash();
    h.convert();
    return h;
  }

  /** Accounted heap bytes, kept up to date on every change. */
  bytes = HASH_BASE;
  private fields: string[] = [];
  private values: string[] = [];
  private index: PositionIndex | null = null;

  constructor(private readonly limits: HashLimits = DEFAULT_LIMITS) {}

  get encoding(): 'listpack' | 'hashtable' {
    return this.index ? 'hashtable' : 'listpack';
  }

  get size(): number {
    return this.fields.length;
  }

  get(field: string): string | undefined {
    const i = this.position(field);
    return i < 0 ? undefined : this.values[i];
  }

  has(field: string): boolean {
    return this.position(field) >= 0;
  }

  /** Sets field to value; returns true when the field is new (HSET's count). */
  set(field: string, value: string): boolean {
    const i = this.position(field);
    if (i >= 0) {
      if (!this.index && value.length > this.limits.maxListpackValue) this.convert();
      this.bytes += value.length - this.values[i].length;
      this.values[i] = value;
      return false;
    }
    if (
      !this.index &&
      (this.fields.length + 1 > this.limits.maxListpackEntries || field.length > this.limits.maxListpackValue || value.length > this.limits.maxListpackValue)
    ) {
      this.convert();
    }
    if (this.index) {
      this.fields.push(field);
      this.values.push(value);
      this.index.add(this.fields, this.fields.length - 1);
    } else {
      this.fields = withInserted(this.fields, this.fields.length, field);
      this.values = withInserted(this.values, this.values.length, value);
    }
    this.bytes += field.length + value.length + this.perField();
    return true;
  }

  /** Removes field; false when it was not there. */
  delete(field: string): boolean {
    const i = this.position(field);
    if (i < 0) return false;
    this.bytes -= field.length + this.values[i].length + this.perField();
    if (!this.index) {
      this.fields = withRemoved(this.fields, i);
      this.values = withRemoved(this.values, i);
      return true;
    }
    const last = this.fields.length - 1;
    this.index.remove(this.fields, i, last);
    if (i !== last) {
      this.fields[i] = this.fields[last];
      this.values[i] = this.values[last];
    }
    this.fields.pop();
    this.values.pop();
    return true;
  }

  /** The field and value at position i (0 <= i < size): HSCAN's cursor and random picks. */
  at(i: number): [field: string, value: string] {
    return [this.fields[i], this.values[i]];
  }

  /**
   * One HSCAN step: up to `count` entries walking positions downwards from the cursor (0 starts
   * at the top); the next cursor is the lowest position visited, 0 when done. Walking down keeps
   * SCAN's guarantee under deletes: a delete only ever moves an entry from a higher position
   * (visited) to a lower one (maybe visited again: SCAN allows repeats), so an entry present for
   * the whole scan is returned at least once; new entries append at the top and may be missed.
   * A listpack is returned whole in one step (cursor 0), as Redis does: its inserts shift positions.
   */
  scan(cursor: number, count: number): { cursor: number; entries: Array<[string, string]> } {
    if (!this.index) return { cursor: 0, entries: [...this.entries()] };
    const top = cursor <= 0 ? this.fields.length : Math.min(cursor, this.fields.length);
    const low = Math.max(0, top - Math.max(1, count));
    const entries: Array<[string, string]> = [];
    for (let i = top - 1; i >= low; i--) entries.push(this.at(i));
    return { cursor: low, entries };
  }

  /** HRANDFIELD: Redis's count rule (random.ts), pairs in pick order. */
  random(rng: Rng, count: number): Array<[string, string]> {
    return pickIndices(rng, this.size, count).map((i) => this.at(i));
  }

  /** COPY: an independent hash with the same fields, order, encoding and bytes. */
  clone(): Hash {
    const h = new Hash(this.limits);
    h.fields = this.fields.slice();
    h.values = this.values.slice();
    h.index = this.index === null ? null : this.index.clone();
    h.bytes = this.bytes;
    return h;
  }

  /**
   * The fields and values by position, for a snapshot: the live arrays (valid until the next
   * change) or, with `copy`, copies that stay as they are now.
   */
  image(copy: boolean): CollectionImage {
    const fields = copy ? this.fields.slice() : this.fields;
    const values = copy ? this.values.slice() : this.values;
    return { type: 'hash', hashtable: this.index !== null, members: fields, values };
  }

  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.fields.length; i++) yield [this.fields[i], this.values[i]];
  }

  private perField(): number {
    return this.index ? HASHTABLE_FIELD : LISTPACK_FIELD;
  }

  private position(field: string): number {
    if (this.index) return this.index.find(this.fields, field);
    return this.fields.indexOf(field);
  }

  private convert(): void {
    this.index = new PositionIndex(this.fields);
    this.bytes += this.fields.length * (HASHTABLE_FIELD - LISTPACK_FIELD);
  }
}
