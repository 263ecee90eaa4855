/**
 * The one codec of a key's value, shared by the snapshot (FORMAT 7 records: snapshot.ts writes
 * them in chunks, snapshot-read.ts reads them in slices) and by DUMP/RESTORE (dump.ts), so a
 * type's bytes are defined once. After the type tag (types.ts TYPE):
 *
 *   string       value(len, bytes)
 *   collection   hashtable(u8: 0 = the compact encoding, 1 = hashtable) n  element*n
 *
 * where an element is what its type's entry in COLLECTION_CODECS writes: a hash's `field
 * value`, a set's `member`, each (len, bytes), by position. The type dispatch is this table:
 * a new collection type (lists, sorted sets) is one entry, and both the snapshot and DUMP carry
 * it. A reader checks a collection as apply would have built it (collectionProblem).
 */
import { type ByteReader, type ByteWriter, uvarintSize } from './bytes.ts';
import { Hash } from './structs/hash.ts';
import type { CollectionImage } from './structs/image.ts';
import { MemberSet } from './structs/set.ts';
import { type Collection, TYPE } from './types.ts';

/** One collection type's element coding and the checks a reader makes. */
export interface CollectionCodec {
  /** The record's type tag (types.ts TYPE). */
  readonly tag: number;
  /** The compact encoding's name: a record naming it must stay within its limits. */
  readonly compact: string;
  /** An empty collection in the encoding the record names. */
  create(hashtable: boolean): Collection;
  /** Bytes of element `e` of an image. */
  elementSize(c: CollectionImage, e: number): number;
  writeElement(w: ByteWriter, c: CollectionImage, e: number): void;
  /** Reads one element onto `out` (its strings in order); ShortInputError when input ends. */
  readElement(r: ByteReader, out: string[]): void;
  /** Adds elements as readElement pushed them; why they cannot be the collection's, if so. */
  add(c: Collection, elements: readonly string[]): string | undefined;
}

const binarySize = (s: string): number => uvarintSize(s.length) + s.length;

const hash: CollectionCodec = {
  tag: TYPE.hash,
  compact: 'listpack',
  create: (hashtable) => (hashtable ? Hash.hashtable() : new Hash()),
  elementSize: (c, e) => binarySize(c.members[e]) + binarySize(c.values![e]),
  writeElement(w, c, e) {
    w.binary(c.members[e]);
    w.binary(c.values![e]);
  },
  readElement(r, out) {
    out.push(r.binary(), r.binary());
  },
  add(c, elements) {
    const h = c as Hash;
    for (let i = 0; i < elements.length; i += 2) if (!h.set(elements[i], elements[i + 1])) return 'duplicate hash field';
    return undefined;
  },
};

const set: CollectionCodec = {
  tag: TYPE.set,
  compact: 'intset',
  create: (hashtable) => (hashtable ? MemberSet.hashtable() : new MemberSet()),
  elementSize: (c, e) => binarySize(c.members[e]),
  writeElement: (w, c, e) => w.binary(c.members[e]),
  readElement(r, out) {
    out.push(r.binary());
  },
  add(c, elements) {
    const s = c as MemberSet;
    for (const m of elements) if (!s.add(m)) return 'duplicate set member';
    return undefined;
  },
};

/** The collection types, by the name an image carries. Lists and sorted sets: one entry each. */
export const COLLECTION_CODECS: { readonly [K in CollectionImage['type']]: CollectionCodec } = { hash, set };

const BY_TAG = new Map<number, CollectionCodec>(Object.values(COLLECTION_CODECS).map((c) => [c.tag, c]));

/** The codec of a collection tag; undefined for the string tag or one no type has. */
export function collectionCodec(tag: number): CollectionCodec | undefined {
  return BY_TAG.get(tag);
}

/** A collection record up to its elements. */
export interface CollectionHead {
  tag: number;
  hashtable: number;
  count: number;
}

export function collectionHeadSize(c: CollectionImage): number {
  return 1 + uvarintSize(c.members.length);
}

export function writeCollectionHead(w: ByteWriter, c: CollectionImage): void {
  w.u8(c.hashtable ? 1 : 0);
  w.uvarint(c.members.length);
}

/** The head after the record's `tag`. */
export function readCollectionHead(r: ByteReader, tag: number): CollectionHead {
  return { tag, hashtable: r.u8(), count: r.uvarint() };
}

/** Why a head cannot start a collection (checked before any element is read), if so. */
export function collectionHeadProblem(head: CollectionHead): string | undefined {
  if (collectionCodec(head.tag) === undefined) return `value type ${head.tag}`;
  if (head.hashtable > 1) return `encoding ${head.hashtable}`;
  if (head.count === 0) return 'empty collection';
  return undefined;
}

/** Once every element is in: a compact encoding only within its limits, as apply keeps it. */
export function collectionProblem(codec: CollectionCodec, head: CollectionHead, c: Collection): string | undefined {
  if (!head.hashtable && c.encoding === 'hashtable') return `${codec.compact} beyond its limits`;
  return undefined;
}
