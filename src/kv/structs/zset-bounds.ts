/**
 * The bounds of a sorted set's range commands (ZRANGE BYSCORE / BYLEX, ZCOUNT, ZLEXCOUNT,
 * ZREMRANGEBY..., LIMIT), as scores.ts parses them, and how a bound cuts the set's order (score,
 * then member bytewise; structs/zset.ts): each end of a range becomes the predicate "this entry
 * comes before the bound", so the range is the rank span between the two counts of entries for
 * which it holds, found in O(log n) by the tree (score-tree.ts) or a listpack's binary search.
 */
import type { Before } from './score-tree.ts';

/** A score bound: `1.5` is inclusive, `(1.5` exclusive; -inf/+inf are the infinities. */
export interface ScoreBound {
  score: number;
  exclusive: boolean;
}

/** A lex bound: `[a` inclusive, `(a` exclusive, `-` below everything, `+` above everything. */
export type LexBound = { member: string; exclusive: boolean } | '-' | '+';

/** LIMIT offset count; a negative count means all the rest (Redis). */
export interface Limit {
  offset: number;
  count: number;
}

/** The "before this bound" predicate of a score bound used as a range's low (or high) end. */
export function scoreBefore(b: ScoreBound, low: boolean): Before {
  // Low end: before it are scores < s (s) or <= s ((s). High end: scores <= s (s) or < s ((s).
  if (low) return b.exclusive ? (s) => s <= b.score : (s) => s < b.score;
  return b.exclusive ? (s) => s < b.score : (s) => s <= b.score;
}

/** The "before this bound" predicate of a lex bound used as a range's low (or high) end. */
export function lexBefore(b: LexBound, low: boolean): Before {
  if (b === '-') return () => false;
  if (b === '+') return () => true;
  const v = b.member;
  // Low end: before it are members < v ([v) or <= v ((v). High end: members <= v ([v) or < v ((v).
  if (low) return b.exclusive ? (_s, m) => m <= v : (_s, m) => m < v;
  return b.exclusive ? (_s, m) => m < v : (_s, m) => m <= v;
}
