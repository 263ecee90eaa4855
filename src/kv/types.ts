/**
 * The kinds of value a key holds (issue 14): a string, or a collection kept in its own structure
 * (structs/). `TYPE` is the table of kinds: its numbers are the tag a snapshot record carries
 * (never reuse one), its names what TYPE and SCAN ... TYPE answer.
 */
import { Deque } from './structs/deque.ts';
import { Hash } from './structs/hash.ts';
import { MemberSet } from './structs/set.ts';
import type { SortedSet } from './structs/zset.ts';

export const TYPE = { string: 0, hash: 1, set: 2, list: 3, zset: 4 } as const;

/** What a string read (KvStore.getBinary) answers for a key holding a collection: WRONGTYPE. */
export const WRONG_TYPE = Symbol('wrong type');

export type TypeName = keyof typeof TYPE;

/** A collection value: changed in place (apply only), its accounted bytes kept as it changes. */
export type Collection = Hash | MemberSet | Deque | SortedSet;

/** What an Item holds: a binary string (one char per byte), or a collection. */
export type Value = string | Collection;

export function typeOf(value: Value): TypeName {
  if (typeof value === 'string') return 'string';
  if (value instanceof Hash) return 'hash';
  if (value instanceof MemberSet) return 'set';
  return value instanceof Deque ? 'list' : 'zset';
}

/** Accounted bytes of a value: a string's length, a collection's incremental count. */
export function valueBytes(value: Value): number {
  return typeof value === 'string' ? value.length : value.bytes;
}

/** OBJECT ENCODING's answer, Redis 7.0's names. Strings: int, embstr (<= 44 bytes) or raw. */
export function encodingOf(value: Value): string {
  if (typeof value !== 'string') return value.encoding;
  if (value.length <= 20 && isLongLong(value)) return 'int';
  return value.length <= 44 ? 'embstr' : 'raw';
}

/** string2ll's canonical form within int64 (what tryObjectEncoding turns into an int). */
function isLongLong(s: string): boolean {
  if (!/^(0|-?[1-9][0-9]*)$/.test(s)) return false;
  const v = BigInt(s);
  return v >= -(2n ** 63n) && v < 2n ** 63n;
}
