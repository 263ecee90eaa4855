/**
 * A collection as a snapshot writes it (snapshot.ts): its kind, its encoding and its elements
 * by position. Restoring them in that order, in the same encoding, rebuilds the same positions,
 * so a restored replica's later HSCAN cursors, random picks and snapshots match the others'.
 */
export interface CollectionImage {
  readonly type: 'hash' | 'set' | 'list' | 'zset';
  /**
   * The hashtable encoding, a sorted set's skiplist (else listpack for a hash or zset, intset
   * for a set; always false for a list).
   */
  readonly hashtable: boolean;
  /** A hash's fields, a set's or sorted set's members (a list's come from `at`: this is then empty). */
  readonly members: readonly string[];
  /**
   * A list's elements, head first: `count` of them, `at(e)` the e-th (cheapest in order). A
   * list has no flat array to lend, so its image reads its chunks (structs/deque.ts).
   */
  readonly count?: number;
  readonly at?: (e: number) => string;
  /**
   * A list's first chunk's length (structs/deque.ts): with the element count it fixes the
   * chunk shape, so a restored list packs the same chunks and accounts the same bytes.
   */
  readonly head?: number;
  /** A hash's values, by the same positions; null for a set. */
  readonly values: readonly string[] | null;
  /** A sorted set's scores, by the same positions (absent for the others). */
  readonly scores?: readonly number[];
}

/** How many elements the image holds. */
export function imageCount(c: CollectionImage): number {
  return c.count ?? c.members.length;
}

/** Element e's member (a hash's field, a set's member, a list's element). */
export function imageMember(c: CollectionImage, e: number): string {
  return c.at ? c.at(e) : c.members[e];
}
