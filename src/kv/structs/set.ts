/**
 * A set's members (SADD, SREM, SISMEMBER, SMEMBERS, SPOP, SRANDMEMBER, SSCAN...): binary
 * strings. Two encodings, as Redis 7.0 (no listpack sets before 7.2):
 *
 * - `intset`: while every member is an integer in Redis's canonical form (string2ll accepts
 *   it: no '+', no leading zeros, no "-0", within int64) and there are at most
 *   set-max-intset-entries (512): a sorted exact-size array (tight.ts) of the members and their values (numbers, or
 *   bigints beyond 2^53; JS compares the two kinds exactly). SMEMBERS then lists them in Redis's
 *   own order, ascending.
 * - `hashtable`: a member array plus an index member -> position (position-index.ts); deleting moves the last member
 *   into the hole, so random picks (SPOP, SRANDMEMBER, from the seeded generator) and SSCAN's
 *   cursor are O(1) by position, and the order is a deterministic function of the operations.
 * Conversion happens on the add that breaks a rule, and never back (as Redis).
 *
 * Bytes: `bytes` is kept up to date on every change: SET_BASE plus, per member, its length plus
 * INTSET_MEMBER or HASHTABLE_MEMBER (estimates from heap measurements, docs/performance.md).
 */
import { parseInt64 } from '../numbers.ts';
import type { Rng } from '../ops.ts';
import type { CollectionImage } from './image.ts';
import { PositionIndex } from './position-index.ts';
import { pickIndices } from './random.ts';
import { withInserted, withRemoved } from './tight.ts';

export const SET_MAX_INTSET_ENTRIES = 512;
/**
 * Per-member estimates beside the member's length (measured: node --expose-gc, test/kv/structs/structs.bench.ts; a flat member string costs its length plus ~20 bytes of header and padding): the object with its first arrays
 * (~200 B measured with one member); intset, the member's and value's slots (17 B) and the
 * header; hashtable, a slot and the position index's share (together 26-28 B at 1M-100k) and
 * the header.
 */
export const SET_BASE = 180;
export const INTSET_MEMBER = 40;
export const HASHTABLE_MEMBER = 50;

export class MemberSet {
  /** Restores a snapshot's hashtable as one (even of integers): later edits then act as they did. */
  static hashtable(): MemberSet {
    const s = new MemberSet();
    s.convert();
    return s;
  }

  /** Accounted heap bytes, kept up to date on every change. */
  bytes = SET_BASE;
  private members: string[] = [];
  /** Intset only: the members' values, same order. */
  private values: Array<number | bigint> | null = [];
  private index: PositionIndex | null = null;

  constructor(private readonly maxIntsetEntries = SET_MAX_INTSET_ENTRIES) {}

  get encoding(): 'intset' | 'hashtable' {
    return this.index ? 'hashtable' : 'intset';
  }

  get size(): number {
    return this.members.length;
  }

  has(member: string): boolean {
    return this.position(member) >= 0;
  }

  /** Adds member; false when it was already there. */
  add(member: string): boolean {
    if (!this.index) {
      const value = parseInt64(member);
      if (value !== null && this.members.length + 1 <= this.maxIntsetEntries) {
        const i = this.lowerBound(value);
        if (i < this.values!.length && this.values![i] === value) return false;
        this.members = withInserted(this.members, i, member);
        this.values = withInserted(this.values!, i, value);
        this.bytes += member.length + INTSET_MEMBER;
        return true;
      }
      // Not an integer, or one too many: only convert when it is really an addition.
      if (value !== null && this.has(member)) return false;
      this.convert();
    }
    if (this.index!.find(this.members, member) >= 0) return false;
    this.members.push(member);
    this.index!.add(this.members, this.members.length - 1);
    this.bytes += member.length + HASHTABLE_MEMBER;
    return true;
  }

  /** Removes member; false when it was not there. */
  delete(member: string): boolean {
    const i = this.position(member);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** The member at position i (0 <= i < size): SSCAN's cursor and random picks. */
  at(i: number): string {
    return this.members[i];
  }

  /**
   * One SSCAN step: up to `count` members walking positions downwards from the cursor (0 starts
   * at the top); the next cursor is the lowest position visited, 0 when done. Walking down keeps
   * SCAN's guarantee under deletes: a delete only ever moves a member from a higher position
   * (visited) to a lower one (maybe visited again: SCAN allows repeats), so a member present for
   * the whole scan is returned at least once; new members append at the top and may be missed.
   * An intset is returned whole in one step (cursor 0), as Redis does: its inserts shift positions.
   */
  scan(cursor: number, count: number): { cursor: number; members: string[] } {
    if (!this.index) return { cursor: 0, members: [...this.members] };
    const top = cursor <= 0 ? this.members.length : Math.min(cursor, this.members.length);
    const low = Math.max(0, top - Math.max(1, count));
    const members: string[] = [];
    for (let i = top - 1; i >= low; i--) members.push(this.members[i]);
    return { cursor: low, members };
  }

  /** SRANDMEMBER: Redis's count rule (random.ts), members in pick order. */
  random(rng: Rng, count: number): string[] {
    return pickIndices(rng, this.size, count).map((i) => this.members[i]);
  }

  /** SPOP count (count >= 0): removes and returns min(count, size) distinct random members. */
  pop(rng: Rng, count: number): string[] {
    const picked = this.random(rng, Math.max(0, count));
    for (const m of picked) this.delete(m);
    return picked;
  }

  /** COPY: an independent set with the same members, order, encoding and bytes. */
  clone(): MemberSet {
    const s = new MemberSet(this.maxIntsetEntries);
    s.members = this.members.slice();
    s.values = this.values === null ? null : this.values.slice();
    s.index = this.index === null ? null : this.index.clone();
    s.bytes = this.bytes;
    return s;
  }

  /** The members by position, for a snapshot: live (valid until the next change) or a copy. */
  image(copy: boolean): CollectionImage {
    return { type: 'set', hashtable: this.index !== null, members: copy ? this.members.slice() : this.members, values: null };
  }

  *[Symbol.iterator](): IterableIterator<string> {
    yield* this.members;
  }

  private removeAt(i: number): void {
    const member = this.members[i];
    if (!this.index) {
      this.members = withRemoved(this.members, i);
      this.values = withRemoved(this.values!, i);
      this.bytes -= member.length + INTSET_MEMBER;
      return;
    }
    const last = this.members.length - 1;
    this.index.remove(this.members, i, last);
    this.members[i] = this.members[last];
    this.members.pop();
    this.bytes -= member.length + HASHTABLE_MEMBER;
  }

  private position(member: string): number {
    if (this.index) return this.index.find(this.members, member);
    const value = parseInt64(member);
    if (value === null) return -1;
    const i = this.lowerBound(value);
    return i < this.values!.length && this.values![i] === value ? i : -1;
  }

  /** First intset position whose value is >= v. */
  private lowerBound(v: number | bigint): number {
    const values = this.values!;
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private convert(): void {
    this.index = new PositionIndex(this.members);
    this.values = null;
    this.bytes += this.members.length * (HASHTABLE_MEMBER - INTSET_MEMBER);
  }
}
