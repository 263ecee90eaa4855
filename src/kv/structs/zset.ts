/**
 * A sorted set (ZADD and friends): members are binary strings (latin1, one char per byte, as
 * the keyspace stores keys), scores are float64, never NaN (the command refuses it before
 * proposing). Order: score, then member bytewise; -0 and +0 are the same score (C's ==). Which
 * zero ZSCORE prints follows Redis 7.0 (checked against redis-server in
 * test/kv/structs/float-redis.test.ts): a listpack stores integral scores as integers, so -0
 * becomes 0 there (and stays 0 on conversion), while the skiplist keeps the double's sign.
 *
 * Two encodings, as Redis 7.0 (OBJECT ENCODING names them):
 * - `listpack`: two sorted parallel arrays of exact size (tight.ts), no index; lookups scan (at most 128 entries by
 *   default, zset-max-listpack-entries / zset-max-listpack-value);
 * - `skiplist`: a ScoreTree for the order (an order-statistic B+tree, not a skiplist: see
 *   score-tree.ts for why; the name is Redis's), and for ZSCORE in O(1) a map member -> position
 *   (member-index.ts: Maps that never rehash a million entries in one slice)
 *   in two dense arrays (members, scores) with swap-remove: a Map of small integers stores no
 *   boxed double per entry, and positions give ZRANDMEMBER O(1) picks and ZSCAN a cursor.
 * A listpack set converts when an add would take it past maxEntries or a member is longer than
 * maxValue; it never converts back (Redis does not either).
 *
 * Complexity: add/remove O(log n), score O(1), rank O(log n), ranges O(log n + m), counts
 * O(log n), pops O(log n) each.
 *
 * Bytes: `bytes` is kept up to date on every change: ZSET_BASE plus, per member, its length
 * plus LISTPACK_ENTRY or SKIPLIST_ENTRY (heap estimates measured with --expose-gc, see
 * docs/performance.md "Collections"). Conversion re-prices the members from the running sum of
 * their lengths, never by walking them.
 */
import type { Rng } from '../ops.ts';
import type { CollectionImage } from './image.ts';
import { MemberIndex } from './member-index.ts';
import { pickIndices } from './random.ts';
import { type Before, pairLess, ScoreTree } from './score-tree.ts';
import { withInserted, withInsertedScore, withRemoved, withRemovedScore } from './tight.ts';
import { type LexBound, type Limit, lexBefore, type ScoreBound, scoreBefore } from './zset-bounds.ts';

/** Redis 7.0 defaults: zset-max-listpack-entries, zset-max-listpack-value. */
export const ZSET_MAX_LISTPACK_ENTRIES = 128;
export const ZSET_MAX_LISTPACK_VALUE = 64;
/**
 * Per-element estimates beside the member's length (measured: node --expose-gc, test/kv/structs/structs.bench.ts; a flat member string costs its length plus ~20 bytes of header and padding): the object with its first arrays
 * (~280 B measured with one member); a listpack entry, two array slots (15 B) and the string's
 * header; a skiplist entry, Map entry, position slots and tree slots (79-84 B at 1M-100k) and the
 * header.
 */
export const ZSET_BASE = 260;
export const LISTPACK_ENTRY = 36;
export const SKIPLIST_ENTRY = 100;

export type ZEntry = [member: string, score: number];

export interface ZSetLimits {
  maxListpackEntries: number;
  maxListpackValue: number;
  /** The tree's node width (score-tree.ts NODE_MAX); tests shrink it to get deep trees. */
  treeNodeMax?: number;
}

const DEFAULT_LIMITS: ZSetLimits = {
  maxListpackEntries: ZSET_MAX_LISTPACK_ENTRIES,
  maxListpackValue: ZSET_MAX_LISTPACK_VALUE,
};

export class SortedSet {
  /** Restores a snapshot's skiplist as one, whatever its size: later edits then act as they did. */
  static skiplist(): SortedSet {
    const z = new SortedSet();
    z.convert();
    return z;
  }

  /** Accounted heap bytes, kept up to date on every change. */
  bytes = ZSET_BASE;
  private memberBytes = 0;
  // listpack encoding (null once converted)
  private lpScores: number[] | null = [];
  private lpMembers: string[] | null = [];
  // skiplist encoding
  /** Member -> position in posMembers/posScores (a small integer: no boxed double per entry). */
  private dict: MemberIndex | null = null;
  private posMembers: string[] = [];
  private posScores: number[] = [];
  private tree: ScoreTree | null = null;

  constructor(private readonly limits: ZSetLimits = DEFAULT_LIMITS) {}

  get encoding(): 'listpack' | 'skiplist' {
    return this.tree ? 'skiplist' : 'listpack';
  }

  get size(): number {
    return this.tree ? this.tree.size : this.lpScores!.length;
  }

  /** The member's score, or undefined. O(1) (skiplist) or O(n <= 128) (listpack). */
  score(member: string): number | undefined {
    if (this.dict) {
      const i = this.dict.get(member);
      return i === undefined ? undefined : this.posScores[i];
    }
    const i = this.lpMembers!.indexOf(member);
    return i < 0 ? undefined : this.lpScores![i];
  }

  /**
   * Sets the member's score and returns the previous one (undefined when the member is new).
   * An equal score (== : -0 equals 0) changes nothing, so ZADD CH counts it as unchanged. ZADD's
   * NX/XX/GT/LT and INCR are the caller's: read `score()` first, decide, then set.
   */
  set(member: string, score: number): number | undefined {
    const prev = this.score(member);
    if (prev === undefined && !this.tree) {
      // Redis converts before inserting, so the member that tips it over keeps its -0.
      if (this.size + 1 > this.limits.maxListpackEntries || member.length > this.limits.maxListpackValue) this.convert();
    }
    if (!this.tree && score === 0) score = 0; // a listpack stores -0 as the integer 0
    if (prev !== undefined) {
      if (prev === score) return prev;
      this.removeOrdered(member, prev);
      this.insertOrdered(member, score);
      if (this.dict) this.posScores[this.dict.get(member)!] = score;
      return prev;
    }
    this.insertOrdered(member, score);
    if (this.dict) {
      this.dict.set(member, this.posMembers.length);
      this.posMembers.push(member);
      this.posScores.push(score);
    }
    this.memberBytes += member.length;
    this.bytes += member.length + (this.tree ? SKIPLIST_ENTRY : LISTPACK_ENTRY);
    return undefined;
  }

  /** Removes the member; false when it was not there. */
  remove(member: string): boolean {
    const prev = this.score(member);
    if (prev === undefined) return false;
    this.removeOrdered(member, prev);
    if (this.dict) {
      // Swap-remove: the last member takes the hole, so positions stay dense.
      const i = this.dict.get(member)!;
      const last = this.posMembers.length - 1;
      if (i !== last) {
        this.posMembers[i] = this.posMembers[last];
        this.posScores[i] = this.posScores[last];
        this.dict.set(this.posMembers[i], i);
      }
      this.posMembers.pop();
      this.posScores.pop();
      this.dict.delete(member);
    }
    this.memberBytes -= member.length;
    this.bytes -= member.length + (this.tree ? SKIPLIST_ENTRY : LISTPACK_ENTRY);
    return true;
  }

  /** 0-based rank from the lowest (or from the highest with reverse), or undefined. O(log n). */
  rank(member: string, reverse = false): number | undefined {
    const score = this.score(member);
    if (score === undefined) return undefined;
    const r = this.countBefore((s, m) => pairLess(s, m, score, member));
    return reverse ? this.size - 1 - r : r;
  }

  /** Members at ranks start..stop inclusive (0 <= start, the caller resolved negatives). */
  rangeByRank(start: number, stop: number, reverse = false): ZEntry[] {
    stop = Math.min(stop, this.size - 1);
    if (start > stop) return [];
    const n = stop - start + 1;
    return this.collect(reverse ? this.size - 1 - start : start, n, reverse);
  }

  /** Rank span [from, to) of the members with min <= score <= max (bounds per exclusivity). */
  scoreSpan(min: ScoreBound, max: ScoreBound): [number, number] {
    const from = this.countBefore(scoreBefore(min, true));
    const to = this.countBefore(scoreBefore(max, false));
    return [from, Math.max(from, to)];
  }

  /** Rank span [from, to) of the members in a lex range (meaningful when all scores are equal). */
  lexSpan(min: LexBound, max: LexBound): [number, number] {
    const from = this.countBefore(lexBefore(min, true));
    const to = this.countBefore(lexBefore(max, false));
    return [from, Math.max(from, to)];
  }

  countByScore(min: ScoreBound, max: ScoreBound): number {
    const [from, to] = this.scoreSpan(min, max);
    return to - from;
  }

  countByLex(min: LexBound, max: LexBound): number {
    const [from, to] = this.lexSpan(min, max);
    return to - from;
  }

  /** ZRANGE BYSCORE [REV] [LIMIT]: bounds are always (low, high); reverse walks from high. */
  rangeByScore(min: ScoreBound, max: ScoreBound, reverse = false, limit?: Limit): ZEntry[] {
    return this.spanRange(this.scoreSpan(min, max), reverse, limit);
  }

  /** ZRANGE BYLEX [REV] [LIMIT]. */
  rangeByLex(min: LexBound, max: LexBound, reverse = false, limit?: Limit): ZEntry[] {
    return this.spanRange(this.lexSpan(min, max), reverse, limit);
  }

  /**
   * ZREMRANGEBYRANK / BYSCORE / BYLEX: removes the members at ranks [from, to) (a span from
   * scoreSpan or lexSpan, or a rank range + 1) and returns them in order. O(log n + m log n).
   */
  removeSpan([from, to]: [number, number]): ZEntry[] {
    const out = this.collect(from, Math.max(0, Math.min(to, this.size) - from), false);
    for (const [m] of out) this.remove(m);
    return out;
  }

  /** ZPOPMIN / ZPOPMAX: removes and returns up to count members from the low or high end. */
  pop(count: number, max = false): ZEntry[] {
    const out = this.rangeByRank(0, count - 1, max);
    for (const [m] of out) this.remove(m);
    return out;
  }

  /** ZRANDMEMBER: Redis's count rule (see random.ts), entries in pick order; O(1) a pick. */
  random(rng: Rng, count: number): ZEntry[] {
    if (!this.dict) return pickIndices(rng, this.size, count).map((r) => this.collect(r, 1, false)[0]);
    return pickIndices(rng, this.size, count).map((i) => [this.posMembers[i], this.posScores[i]]);
  }

  /**
   * One ZSCAN step, as Hash.scan: a skiplist walks its dense positions downwards from the
   * cursor (0 starts at the top; the next cursor is the lowest position visited, 0 when done),
   * which keeps SCAN's guarantee under deletes (swap-remove only moves a visited member down);
   * a listpack is returned whole with cursor 0, as Redis does.
   */
  scan(cursor: number, count: number): { cursor: number; entries: ZEntry[] } {
    if (!this.dict) return { cursor: 0, entries: [...this.entries()] };
    const top = cursor <= 0 ? this.posMembers.length : Math.min(cursor, this.posMembers.length);
    const low = Math.max(0, top - Math.max(1, count));
    const entries: ZEntry[] = [];
    for (let i = top - 1; i >= low; i--) entries.push([this.posMembers[i], this.posScores[i]]);
    return { cursor: low, entries };
  }

  /** All entries in order (snapshots, ZRANGE 0 -1). */
  *entries(): IterableIterator<ZEntry> {
    if (!this.tree) {
      for (let i = 0; i < this.lpScores!.length; i++) yield [this.lpMembers![i], this.lpScores![i]];
      return;
    }
    const out: ZEntry[] = [];
    const size = this.size;
    for (let r = 0; r < size; r += 1024) {
      out.length = 0;
      this.tree.walk(r, Math.min(1024, size - r), false, (s, m) => {
        out.push([m, s]);
        return true;
      });
      yield* out;
    }
  }

  /**
   * COPY: an independent sorted set with the same members, positions, encoding and bytes. The
   * tree is rebuilt by inserts (O(n log n)): its shape is not observable, only its order.
   */
  clone(): SortedSet {
    const z = new SortedSet(this.limits);
    z.bytes = this.bytes;
    z.memberBytes = this.memberBytes;
    if (!this.tree) {
      z.lpScores = this.lpScores!.slice();
      z.lpMembers = this.lpMembers!.slice();
      return z;
    }
    const tree = new ScoreTree(this.limits.treeNodeMax);
    for (let i = 0; i < this.posMembers.length; i++) tree.insert(this.posScores[i], this.posMembers[i]);
    z.tree = tree;
    z.dict = this.dict!.clone();
    z.posMembers = this.posMembers.slice();
    z.posScores = this.posScores.slice();
    z.lpScores = z.lpMembers = null;
    return z;
  }

  /**
   * The members and scores for a snapshot: a listpack in order, a skiplist by position (so a
   * restore that adds them in that order rebuilds the same positions, hence the same ZSCAN
   * cursors and random picks). Live arrays (valid until the next change) or, with `copy`, copies.
   */
  image(copy: boolean): CollectionImage {
    const skiplist = this.tree !== null;
    const members = skiplist ? this.posMembers : this.lpMembers!;
    const scores = skiplist ? this.posScores : this.lpScores!;
    return { type: 'zset', hashtable: skiplist, members: copy ? members.slice() : members, values: null, scores: copy ? scores.slice() : scores };
  }

  /** For tests: the tree's own invariants. */
  check(): void {
    this.tree?.check();
  }

  private spanRange([from, to]: [number, number], reverse: boolean, limit?: Limit): ZEntry[] {
    let n = to - from;
    const offset = limit ? limit.offset : 0;
    if (offset < 0 || offset >= n) return [];
    n -= offset;
    if (limit && limit.count >= 0) n = Math.min(n, limit.count);
    return this.collect(reverse ? to - 1 - offset : from + offset, n, reverse);
  }

  private collect(start: number, n: number, reverse: boolean): ZEntry[] {
    const out: ZEntry[] = [];
    if (this.tree) {
      this.tree.walk(start, n, reverse, (s, m) => {
        out.push([m, s]);
        return true;
      });
      return out;
    }
    const scores = this.lpScores!;
    const members = this.lpMembers!;
    for (let k = 0, i = start; k < n && i >= 0 && i < scores.length; k++, i += reverse ? -1 : 1) {
      out.push([members[i], scores[i]]);
    }
    return out;
  }

  private countBefore(before: Before): number {
    if (this.tree) return this.tree.countBefore(before);
    const scores = this.lpScores!;
    const members = this.lpMembers!;
    let lo = 0;
    let hi = scores.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(scores[mid], members[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insertOrdered(member: string, score: number): void {
    if (this.tree) {
      this.tree.insert(score, member);
      return;
    }
    const i = this.countBefore((s, m) => pairLess(s, m, score, member));
    this.lpScores = withInsertedScore(this.lpScores!, i, score);
    this.lpMembers = withInserted(this.lpMembers!, i, member);
  }

  private removeOrdered(member: string, score: number): void {
    if (this.tree) {
      this.tree.delete(score, member);
      return;
    }
    const i = this.countBefore((s, m) => pairLess(s, m, score, member));
    this.lpScores = withRemovedScore(this.lpScores!, i);
    this.lpMembers = withRemoved(this.lpMembers!, i);
  }

  private convert(): void {
    const tree = new ScoreTree(this.limits.treeNodeMax);
    const dict = new MemberIndex();
    const scores = this.lpScores!;
    const members = this.lpMembers!;
    for (let i = 0; i < scores.length; i++) {
      tree.insert(scores[i], members[i]);
      dict.set(members[i], i);
      this.posMembers.push(members[i]);
      this.posScores.push(scores[i]);
    }
    this.tree = tree;
    this.dict = dict;
    this.lpScores = this.lpMembers = null;
    this.bytes = ZSET_BASE + this.memberBytes + tree.size * SKIPLIST_ENTRY;
  }
}
