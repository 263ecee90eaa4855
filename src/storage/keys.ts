/**
 * Where each Raft group's records live in the one LevelDB a node's groups share (engine.ts).
 *
 * A group's keys are today's single-group keys (records.ts has the table) behind a prefix:
 *
 *   g <group u32 BE> <record key>     group N's records, for every N except 1
 *   <record key>                      group 1's records: the empty prefix
 *
 * Group 1 is the group every data directory held before sharding, so its keys are exactly the
 * keys such a directory already has: an existing directory is an engine holding group 1, with
 * nothing to migrate and no crash window (docs/architecture.md, "the shared engine"). No record
 * key starts with `g`, so group 1's key space is everything outside `g`..`h`, and a group's
 * keys are contiguous per group; LevelDB's byte order is the numeric order of the fixed-width
 * big-endian numbers. Every key function of a group goes through its KeySpace, so a record's
 * checksum (which covers the key) also proves which group it belongs to.
 */

export const KeyPrefix = {
  format: 'm',
  hardState: 'h',
  compacted: 'c',
  entry: 'e',
  snapMeta: 's/meta',
  snapChunk: 's/chunk/',
  quarantine: 'q',
  clusterId: 'i',
  /** The group is being dropped (engine.ts): its keys go in slices, this record last. */
  dropping: 'd',
  /** Reserved for the prefix of every group but group 1; no record key may start with it. */
  group: 'g',
} as const;

export type FixedRecord = 'format' | 'hardState' | 'compacted' | 'snapMeta' | 'quarantine' | 'clusterId' | 'dropping';

/** Group ids are uint32 (docs/architecture.md: group 0 is the slot map, data groups count from 1). */
export const MAX_GROUP_ID = 0xffffffff;
/** The group every pre-sharding data directory holds, stored under the empty prefix. */
export const LEGACY_GROUP = 1;

const G = KeyPrefix.group.charCodeAt(0);
const U64_MAX_HI = 2 ** 21; // 2^53 / 2^32: larger numbers are not safe JS integers

/** Why `id` is not a group id, or undefined. */
export function groupIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_GROUP_ID) {
    return `a group id is an integer from 0 to ${MAX_GROUP_ID}, got ${String(id)}`;
  }
  return undefined;
}

/** A key range, LevelDB style: `lt` undefined means to the end of the key space. */
export interface KeyRange {
  gte: Buffer;
  lt?: Buffer;
}

/** The prefix of group `id`'s keys. */
export const groupPrefix = (id: number): Buffer => (id === LEGACY_GROUP ? Buffer.alloc(0) : rawGroupPrefix(id));

/** `g <id>`: group `id`'s prefix, or for group 1 where its prefix would be (no key is there). */
export function rawGroupPrefix(id: number): Buffer {
  const p = Buffer.allocUnsafe(5);
  p[0] = G;
  p.writeUInt32BE(id, 1);
  return p;
}

/** The range of every prefixed group's keys, in group order: where listGroups looks. */
export const prefixedGroupsRange = (): Required<KeyRange> => ({ gte: Buffer.from([G]), lt: Buffer.from([G + 1]) });

/** The group a prefixed key belongs to, or undefined if the key is too short to name one. */
export const prefixedKeyGroup = (key: Buffer): number | undefined => (key.length >= 5 && key[0] === G ? key.readUInt32BE(1) : undefined);

/** One group's keys: every key and key range of its records. */
export class KeySpace {
  readonly prefix: Buffer;
  private readonly entryHead: Buffer;
  private readonly chunkHead: Buffer;
  private readonly fixedKeys = new Map<FixedRecord, Buffer>();

  constructor(readonly group: number) {
    const problem = groupIdProblem(group);
    if (problem) throw new RangeError(problem);
    this.prefix = groupPrefix(group);
    this.entryHead = Buffer.concat([this.prefix, Buffer.from(KeyPrefix.entry, 'latin1')]);
    this.chunkHead = Buffer.concat([this.prefix, Buffer.from(KeyPrefix.snapChunk, 'latin1')]);
  }

  /** The key of a single record. Shared: callers must not modify it. */
  fixed(name: FixedRecord): Buffer {
    let k = this.fixedKeys.get(name);
    if (!k) {
      k = Buffer.concat([this.prefix, Buffer.from(KeyPrefix[name], 'latin1')]);
      this.fixedKeys.set(name, k);
    }
    return k;
  }

  entry(index: number): Buffer {
    const h = this.entryHead.length;
    const k = Buffer.allocUnsafe(h + 8);
    this.entryHead.copy(k, 0);
    writeU64(k, h, index);
    return k;
  }

  /** The index in an entry key, or undefined if the key is not a well-formed entry key. */
  entryIndex(key: Uint8Array): number | undefined {
    const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    const h = this.entryHead.length;
    if (b.length !== h + 8 || !b.subarray(0, h).equals(this.entryHead)) return undefined;
    return readU64Safe(b, h);
  }

  /** Bounds of the key range holding every entry. */
  entryRange(): Required<KeyRange> {
    return { gte: this.entryHead, lt: successor(this.entryHead) };
  }

  chunk(snapIndex: number, n: number): Buffer {
    const h = this.chunkHead.length;
    const k = Buffer.allocUnsafe(h + 12);
    this.chunkHead.copy(k, 0);
    writeU64(k, h, snapIndex);
    k.writeUInt32BE(n, h + 8);
    return k;
  }

  /** Parses a chunk key into its snapshot index and chunk number. */
  chunkParts(key: Uint8Array): { snapIndex: number; n: number } | undefined {
    const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    const h = this.chunkHead.length;
    if (b.length !== h + 12 || !b.subarray(0, h).equals(this.chunkHead)) return undefined;
    const snapIndex = readU64Safe(b, h);
    if (snapIndex === undefined) return undefined;
    return { snapIndex, n: b.readUInt32BE(h + 8) };
  }

  /** The key range of one snapshot's chunks, or (without an index) of all chunks. */
  chunkRange(snapIndex?: number): Required<KeyRange> {
    if (snapIndex === undefined) return { gte: this.chunkHead, lt: successor(this.chunkHead) };
    return { gte: this.chunk(snapIndex, 0), lt: this.chunk(snapIndex + 1, 0) };
  }

  /** Every key of the group, as disjoint ranges in key order (two for group 1: around `g`). */
  spans(): KeyRange[] {
    if (this.group === LEGACY_GROUP) {
      const [outside, after] = [prefixedGroupsRange().gte, prefixedGroupsRange().lt];
      return [{ gte: Buffer.alloc(0), lt: outside }, { gte: after }];
    }
    return [{ gte: this.prefix, lt: this.group === MAX_GROUP_ID ? prefixedGroupsRange().lt : rawGroupPrefix(this.group + 1) }];
  }
}

const spaces = new Map<number, KeySpace>();

/** The (shared) KeySpace of group `id`. */
export function keySpace(id: number): KeySpace {
  let ks = spaces.get(id);
  if (!ks) {
    ks = new KeySpace(id);
    if (spaces.size < 4096) spaces.set(id, ks);
  }
  return ks;
}

/** The smallest key greater than every key starting with `prefix` (which must not be all 0xff). */
function successor(prefix: Buffer): Buffer {
  const s = Buffer.from(prefix);
  let i = s.length - 1;
  while (s[i] === 0xff) i--;
  s[i]++;
  return s.subarray(0, i + 1);
}

export function writeU64(b: Buffer, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a non-negative safe integer`);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), off);
  b.writeUInt32BE(n >>> 0, off + 4);
}

export function readU64Safe(b: Buffer, off: number): number | undefined {
  const hi = b.readUInt32BE(off);
  if (hi >= U64_MAX_HI) return undefined;
  return hi * 2 ** 32 + b.readUInt32BE(off + 4);
}
