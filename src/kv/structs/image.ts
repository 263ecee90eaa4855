/**
 * A collection as a snapshot writes it (snapshot.ts): its kind, its encoding and its elements
 * by position. Restoring them in that order, in the same encoding, rebuilds the same positions,
 * so a restored replica's later HSCAN cursors, random picks and snapshots match the others'.
 */
export interface CollectionImage {
  readonly type: 'hash' | 'set' | 'zset';
  /** The hashtable encoding, a sorted set's skiplist (else listpack for a hash or zset, intset for a set). */
  readonly hashtable: boolean;
  /** A hash's fields or a set's members. */
  readonly members: readonly string[];
  /** A hash's values, by the same positions; null for a set. */
  readonly values: readonly string[] | null;
  /** A sorted set's scores, by the same positions (absent for the others). */
  readonly scores?: readonly number[];
}
