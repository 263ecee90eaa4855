/**
 * The slots a group's state machine owns (issue 13). A group's own state is authoritative for
 * what it serves: a keyed op for a slot outside its ranges is refused with a `moved` result
 * even if a stale slot map routed it here, so at every map epoch a key is served by one group.
 *
 * A SlotSet is a sorted list of disjoint, non-adjacent inclusive ranges `[start, end]` of
 * Redis Cluster's 16384 slots (slot.ts), never empty, plus a bitmap for an O(1) `has`. The
 * canonical form (adjacent ranges merged) makes snapshots of replicas byte-identical and gives
 * "the first slot of a range" one meaning. A store that owns every slot holds `null` instead of
 * a set (keyspace.ts): that is today's single-group store, and its hot path pays one null test.
 */
import { toBinary } from './bytes.ts';
import type { KvEntry, KvOp } from './ops.ts';
import { binarySlot, SLOT_COUNT } from './slot.ts';

/** An inclusive range of slots, Redis style. */
export type SlotRange = readonly [start: number, end: number];

export const LAST_SLOT = SLOT_COUNT - 1;

/** Why `ranges` cannot be a slot set (sorted, disjoint, within 0..16383, not empty), or undefined. */
export function slotRangesProblem(ranges: readonly SlotRange[]): string | undefined {
  if (ranges.length === 0) return 'no slot ranges';
  let prevEnd = -1;
  for (const [start, end] of ranges) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > LAST_SLOT || start > end) {
      return `slot range [${start}, ${end}] is not within 0..${LAST_SLOT}`;
    }
    if (start <= prevEnd) return `slot range [${start}, ${end}] overlaps or is out of order`;
    prevEnd = end;
  }
  return undefined;
}

export class SlotSet {
  /** Canonical: sorted, disjoint, adjacent ranges merged. */
  readonly ranges: readonly SlotRange[];
  /** Slots owned. */
  readonly count: number;
  private readonly bits = new Uint8Array(SLOT_COUNT);

  /** Throws RangeError on ranges slotRangesProblem refuses (a caller's bug: validate first). */
  constructor(ranges: readonly SlotRange[]) {
    const problem = slotRangesProblem(ranges);
    if (problem !== undefined) throw new RangeError(problem);
    const merged: [number, number][] = [];
    let count = 0;
    for (const [start, end] of ranges) {
      const last = merged.at(-1);
      if (last !== undefined && last[1] + 1 === start) last[1] = end;
      else merged.push([start, end]);
      this.bits.fill(1, start, end + 1);
      count += end - start + 1;
    }
    this.ranges = merged;
    this.count = count;
  }

  get full(): boolean {
    return this.count === SLOT_COUNT;
  }

  has(slot: number): boolean {
    return this.bits[slot] === 1;
  }

  /** Whether the key (a binary string) hashes to an owned slot. */
  hasKey(key: string): boolean {
    return this.bits[binarySlot(key)] === 1;
  }

  /** The owned range holding `slot`, or undefined. */
  rangeOf(slot: number): SlotRange | undefined {
    return this.ranges.find(([start, end]) => start <= slot && slot <= end);
  }

  /** This set less the slots of `range` (which it must not wholly be). */
  without(range: SlotRange): SlotSet {
    const out: SlotRange[] = [];
    for (const [start, end] of this.ranges) {
      if (end < range[0] || start > range[1]) {
        out.push([start, end]);
        continue;
      }
      if (start < range[0]) out.push([start, range[0] - 1]);
      if (end > range[1]) out.push([range[1] + 1, end]);
    }
    return new SlotSet(out);
  }
}

/** Every slot: what a store owns unless told otherwise. */
export const ALL_SLOTS: readonly SlotRange[] = [[0, LAST_SLOT]];

/**
 * The slot of the first key in `entry` (WATCHed keys, then each op's keys) that `owned` does not
 * hold, or -1 when it holds them all. Only client keyed ops count: the leader's housekeeping
 * (EXPIRE_IF, EVICT, EVICT_IF) may name a given-up key, which apply then drops as cleanup
 * would; SESSION's key is an Idempotency-Key, not a data key; and CONFIG, PUBLISH, FLUSHALL,
 * the whole-keyspace reads and the split ops name none.
 */
export function firstUnownedSlot(entry: KvEntry, owned: SlotSet): number {
  if (entry.watch) {
    for (const w of entry.watch) {
      const slot = binarySlot(toBinary(w.key));
      if (!owned.has(slot)) return slot;
    }
  }
  for (const op of entry.ops) {
    const slot = unownedIn(op, owned);
    if (slot >= 0) return slot;
  }
  return -1;
}

function unownedKey(key: Uint8Array, owned: SlotSet): number {
  const slot = binarySlot(toBinary(key));
  return owned.has(slot) ? -1 : slot;
}

function unownedIn(op: KvOp, owned: SlotSet): number {
  switch (op.type) {
    case 'set':
    case 'pexpireat':
    case 'persist':
    case 'incrby':
    case 'incrbyfloat':
    case 'append':
    case 'getdel':
    case 'getex':
    case 'get':
    case 'strlen':
    case 'type':
    case 'ttl':
    case 'expiretime':
      return unownedKey(op.key, owned);
    case 'spublish':
      // A shard channel lives in its slot's group, as a key does.
      return unownedKey(op.channel, owned);
    case 'del':
    case 'mget':
    case 'exists':
      for (const k of op.keys) {
        const slot = unownedKey(k, owned);
        if (slot >= 0) return slot;
      }
      return -1;
    case 'mset':
    case 'msetnx':
      for (const [k] of op.pairs) {
        const slot = unownedKey(k, owned);
        if (slot >= 0) return slot;
      }
      return -1;
    case 'expireIf':
    case 'evict':
    case 'evictIf':
    case 'session':
    case 'config':
    case 'publish':
    case 'flushall':
    case 'dbsize':
    case 'keys':
    case 'scan':
    case 'randomkey':
    case 'split':
    case 'dropUnowned':
    case 'scanType':
      return -1;
    case 'smove':
    case 'lmove':
    case 'rename':
    case 'copy':
    case 'zrangestore':
      return Math.max(unownedKey(op.key, owned), unownedKey(op.dest, owned));
    case 'sstore':
    case 'scombine':
    case 'sintercard':
    case 'lmpop':
    case 'zmpop': {
      for (const k of op.keys) {
        const slot = unownedKey(k, owned);
        if (slot >= 0) return slot;
      }
      return op.type === 'sstore' ? unownedKey(op.key, owned) : -1;
    }
    default:
      // The collection ops (issue 14) each name one key.
      return unownedKey(op.key, owned);
  }
}
