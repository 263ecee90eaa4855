/**
 * The one codec of a key's value, shared by the snapshot (FORMAT 7 records: snapshot.ts writes
 * them in chunks, snapshot-read.ts reads them in slices) and by DUMP/RESTORE (dump.ts), so a
 * type's bytes are defined once. After the type tag (types.ts TYPE):
 *
 *   string       value(len, bytes)
 *   collection   encoding(u8) n  element*n
 *
 * where the encoding byte is 0 for the compact encoding (listpack, intset), 1 for a hashtable,
 * and a list's first chunk's length (structs/deque.ts); an element is what its type's entry in
 * COLLECTION_CODECS writes: a hash's `field value`, a set's `member`, a list's `element`, each
 * (len, bytes), a sorted set's `member score` (the score a double, 8 bytes LE), by position. The type dispatch is this table:
 * a new collection type (lists, sorted sets) is one entry, and both the snapshot and DUMP carry
 * it. A reader checks a collection as apply would have built it (headProblem, add, finish).
 */
import { type ByteReader, type ByteWriter, uvarintSize } from './bytes.ts';
import { CHUNK, Deque } from './structs/deque.ts';
import { Hash } from './structs/hash.ts';
import { type CollectionImage, imageCount, imageMember } from './structs/image.ts';
import { MemberSet } from './structs/set.ts';
import { SortedSet } from './structs/zset.ts';
import { type Collection, TYPE } from './types.ts';

/** A collection record up to its elements: its tag, encoding byte and element count. */
export interface CollectionHead {
  tag: number;
  /** 1 = hashtable, 0 = the compact encoding (listpack, intset). */
  encoding: number;
  count: number;
}

/** One element's parts as readElement leaves them (strings, a sorted set's scores). */
export type Part = string | number;

/** One collection type's coding, and the checks a reader makes so it builds only what apply would. */
export interface CollectionCodec {
  /** The record's type tag (types.ts TYPE). */
  readonly tag: number;
  /** The encoding byte a record carries for an image. */
  encoding(c: CollectionImage): number;
  /** Why a head cannot start this type's collection (before any element is read), if so. */
  headProblem(head: CollectionHead): string | undefined;
  /** An empty collection in the encoding the head names. */
  create(head: CollectionHead): Collection;
  /** Bytes of element `e` of an image. */
  elementSize(c: CollectionImage, e: number): number;
  writeElement(w: ByteWriter, c: CollectionImage, e: number): void;
  /** Reads one element's parts onto `out`; ShortInputError when the input ends. */
  readElement(r: ByteReader, out: Part[]): void;
  /** Adds elements as readElement left them; why they cannot be the collection's, if so. */
  add(c: Collection, parts: readonly Part[]): string | undefined;
  /** Once every element is in: why the collection is not one apply builds, if so. */
  finish(c: Collection, head: CollectionHead): string | undefined;
}

const binarySize = (s: string): number => uvarintSize(s.length) + s.length;

/** A hash's and a set's encoding byte: hashtable or not. */
const hashtableByte = (c: CollectionImage): number => (c.hashtable ? 1 : 0);
const hashtableOnly = (head: CollectionHead): string | undefined => (head.encoding > 1 ? `encoding ${head.encoding}` : undefined);
/** A compact encoding only within its limits (apply converts past them, never back). */
const withinLimits =
  (compact: string) =>
  (c: Collection, head: CollectionHead): string | undefined =>
    head.encoding === 0 && c.encoding !== compact ? `${compact} beyond its limits` : undefined;

const hash: CollectionCodec = {
  tag: TYPE.hash,
  encoding: hashtableByte,
  headProblem: hashtableOnly,
  create: (head) => (head.encoding === 1 ? Hash.hashtable() : new Hash()),
  elementSize: (c, e) => binarySize(c.members[e]) + binarySize(c.values![e]),
  writeElement(w, c, e) {
    w.binary(c.members[e]);
    w.binary(c.values![e]);
  },
  readElement(r, out) {
    out.push(r.binary(), r.binary());
  },
  add(c, parts) {
    const h = c as Hash;
    for (let i = 0; i < parts.length; i += 2) if (!h.set(parts[i] as string, parts[i + 1] as string)) return 'duplicate hash field';
    return undefined;
  },
  finish: withinLimits('listpack'),
};

const set: CollectionCodec = {
  tag: TYPE.set,
  encoding: hashtableByte,
  headProblem: hashtableOnly,
  create: (head) => (head.encoding === 1 ? MemberSet.hashtable() : new MemberSet()),
  elementSize: (c, e) => binarySize(c.members[e]),
  writeElement: (w, c, e) => w.binary(c.members[e]),
  readElement(r, out) {
    out.push(r.binary());
  },
  add(c, parts) {
    const s = c as MemberSet;
    for (const m of parts) if (!s.add(m as string)) return 'duplicate set member';
    return undefined;
  },
  finish: withinLimits('intset'),
};

const list: CollectionCodec = {
  tag: TYPE.list,
  encoding: (c) => c.head!,
  // A list's encoding byte is its first chunk's length, which with its count fixes its chunk
  // shape (structs/deque.ts); its elements may repeat.
  headProblem: (head) => (head.encoding < 1 || head.encoding > Math.min(CHUNK, head.count) ? `list head of ${head.encoding}` : undefined),
  create(head) {
    const d = new Deque();
    d.restoring(head.encoding);
    return d;
  },
  elementSize: (c, e) => binarySize(imageMember(c, e)),
  writeElement: (w, c, e) => w.binary(imageMember(c, e)),
  readElement(r, out) {
    out.push(r.binary());
  },
  add(c, parts) {
    for (const e of parts) (c as Deque).pushBack(e as string);
    return undefined;
  },
  finish(c) {
    (c as Deque).restoring(CHUNK);
    return undefined;
  },
};

const zset: CollectionCodec = {
  tag: TYPE.zset,
  encoding: hashtableByte,
  headProblem: hashtableOnly,
  create: (head) => (head.encoding === 1 ? SortedSet.skiplist() : new SortedSet()),
  elementSize: (c, e) => binarySize(c.members[e]) + 8,
  writeElement(w, c, e) {
    w.binary(c.members[e]);
    w.f64(c.scores![e]);
  },
  readElement(r, out) {
    out.push(r.binary(), r.f64());
  },
  // As ZADD would have left it: no NaN score, no repeated member, a listpack in order (it was
  // written in order: each member lands last) with its zeros stored as +0 (a listpack keeps no -0).
  add(c, parts) {
    const z = c as SortedSet;
    const listpack = z.encoding === 'listpack';
    for (let i = 0; i < parts.length; i += 2) {
      const m = parts[i] as string;
      const s = parts[i + 1] as number;
      if (Number.isNaN(s)) return 'NaN score';
      if (listpack && Object.is(s, -0)) return '-0 in a listpack';
      if (z.set(m, s) !== undefined) return 'duplicate sorted set member';
      if (listpack && z.encoding === 'listpack' && z.rank(m) !== z.size - 1) return 'listpack out of order';
    }
    return undefined;
  },
  finish: withinLimits('listpack'),
};

/** The collection types, by the name an image carries: one entry each. */
export const COLLECTION_CODECS: { readonly [K in CollectionImage['type']]: CollectionCodec } = { hash, set, list, zset };

const BY_TAG = new Map<number, CollectionCodec>(Object.values(COLLECTION_CODECS).map((c) => [c.tag, c]));

/** The codec of a collection tag; undefined for the string tag or one no type has. */
export function collectionCodec(tag: number): CollectionCodec | undefined {
  return BY_TAG.get(tag);
}

export function collectionHeadSize(c: CollectionImage): number {
  return 1 + uvarintSize(imageCount(c));
}

export function writeCollectionHead(w: ByteWriter, c: CollectionImage): void {
  w.u8(COLLECTION_CODECS[c.type].encoding(c));
  w.uvarint(imageCount(c));
}

/** The head after the record's `tag`. */
export function readCollectionHead(r: ByteReader, tag: number): CollectionHead {
  return { tag, encoding: r.u8(), count: r.uvarint() };
}

/** Why a head cannot start a collection (checked before any element is read), if so. */
export function collectionHeadProblem(head: CollectionHead): string | undefined {
  const codec = collectionCodec(head.tag);
  if (codec === undefined) return `value type ${head.tag}`;
  if (head.count === 0) return 'empty collection';
  return codec.headProblem(head);
}
