/**
 * A collection as a snapshot writes it (snapshot.ts): its kind, its encoding and its elements
 * by position. Restoring them in that order, in the same encoding, rebuilds the same positions,
 * so a restored replica's later HSCAN cursors, random picks and snapshots match the others'.
 */
export interface CollectionImage {
  readonly type: 'hash' | 'set' | 'list';
  /** The hashtable encoding (else listpack for a hash, intset for a set; always false for a list). */
  readonly hashtable: boolean;
  /** A hash's fields, a set's members or a list's elements (head first). */
  readonly members: readonly string[];
  /**
   * A list's first chunk's length (structs/deque.ts): with the element count it fixes the
   * chunk shape, so a restored list packs the same chunks and accounts the same bytes.
   */
  readonly head?: number;
  /** A hash's values, by the same positions; null for a set. */
  readonly values: readonly string[] | null;
}
