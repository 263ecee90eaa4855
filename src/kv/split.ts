/**
 * The split entry (issue 13): a group divides with one entry in its own log, and every replica
 * divides its state at that same index, so no key crosses the network.
 *
 * SPLIT {atSlot, group} gives up the slots from `atSlot` to the end of the owned range holding
 * it. Applying it, the store
 *  1. begins the new group's image: a SnapshotWriter limited to the given-up slots, consistent
 *     at this index (O(1) to begin, streamed in slices like any snapshot; KvStore.takeSplitImage
 *     hands it out). Restored into a new KvStore, it is the new group, owning exactly those slots;
 *  2. stops serving those slots: a keyed op for them answers `moved` from now on, reads do not
 *     see their keys, and its own snapshots skip them;
 *  3. records the split (index, group, slots), carried by its snapshots, so a node knows which
 *     groups came out of this one, and a second split to the same group is refused.
 * The given-up keys stay in memory until DROP_UNOWNED entries delete them: each walks the next
 * `limit` creation seqs of a replicated cursor (keyspace.ts), proposed by the leader while
 * `KvStore.cleanupPending` > 0, so neither the split nor the cleanup is ever one long apply, and
 * every replica, holding given-up keys or restored without them, finishes the walk.
 *
 * A split is refused (an error result, nothing changes) when it is not alone in its entry, when
 * `atSlot` is not owned, or when it is the first slot of its range: both halves of a split keep
 * at least one slot, so a group never ends up owning nothing, and a split that would give up a
 * whole range is a move, not a split. `splitProblem` runs the same checks before proposing.
 *
 * The new group's image carries everything else the parent's state holds as of the split: the
 * cluster-wide settings, highTs, the WATCH version buckets (a conservative copy) and every
 * idempotency record, since a retried request is routed by its keys and may now reach the new
 * group (a record for another group's keys is never consulted there).
 */
import type { Keyspace } from './keyspace.ts';
import type { KvEntry, OpOf } from './ops.ts';
import { type SlotRange, SlotSet } from './owned.ts';
import { error, type KvResult } from './results.ts';
import { SLOT_COUNT } from './slot.ts';
import { type SnapshotState, SnapshotWriter } from './snapshot.ts';
import { MAX_GROUP_ID, type SplitRecord } from './snapshot-format.ts';

export type { SplitRecord } from './snapshot-format.ts';

/** The refusals (the slot one as Redis's CLUSTER SETSLOT words it). */
export const SPLIT_ERR = {
  notAlone: 'ERR a split must be the only op of its entry',
  badSlot: `ERR invalid slot: a split slot is an integer within 0..${SLOT_COUNT - 1}`,
  badGroup: `ERR invalid group: a data group id is an integer within 1..${MAX_GROUP_ID}`,
  notOwned: "ERR I'm not the owner of the split slot",
  rangeStart: 'ERR the split slot is the first slot of its range: both halves must keep a slot',
  groupUsed: 'ERR this group already split off a group with that id',
} as const;

/**
 * Creation seqs one DROP_UNOWNED entry walks at most, whatever it asks, so it touches at most
 * this many keys (a slot hash each, a delete for a given-up one): cleaning up after a 1M-key
 * split, 2.7 ms of apply (median wall; p99 5.8, max 15 when the step also compacts the order
 * list) on this 2-core machine at load 4; 8192 took twice that.
 */
export const MAX_DROP_EXAMINED = 4096;

/**
 * Why `op` cannot split a store that owns `owned` (null = every slot) and made `splits`, as the
 * error text apply would answer; undefined if it can. For the proposer, and apply's own check.
 */
export function splitProblem(op: OpOf<'split'>, owned: SlotSet | null, splits: readonly SplitRecord[]): string | undefined {
  if (!Number.isInteger(op.atSlot) || op.atSlot < 0 || op.atSlot >= SLOT_COUNT) return SPLIT_ERR.badSlot;
  // Group 0 is the metadata group (the slot map), never a data group.
  if (!Number.isInteger(op.group) || op.group < 1 || op.group > MAX_GROUP_ID) return SPLIT_ERR.badGroup;
  const range = ownedRange(owned, op.atSlot);
  if (range === undefined) return SPLIT_ERR.notOwned;
  if (range[0] === op.atSlot) return SPLIT_ERR.rangeStart;
  if (splits.some((s) => s.group === op.group)) return SPLIT_ERR.groupUsed;
  return undefined;
}

/** The slots a valid split gives up: from atSlot to the end of its owned range. */
export function splitRange(owned: SlotSet | null, atSlot: number): SlotRange {
  const range = ownedRange(owned, atSlot)!;
  return [atSlot, range[1]];
}

/** Whether the entry is a split the store must apply as such (its only op, no WATCH). */
export function splitAlone(entry: KvEntry): boolean {
  return entry.ops.length === 1 && entry.watch === undefined;
}

function ownedRange(owned: SlotSet | null, slot: number): SlotRange | undefined {
  if (owned === null) return [0, SLOT_COUNT - 1];
  return owned.rangeOf(slot);
}

/** A store's splits: the records (replicated state) and the images not yet taken (local). */
export class Splits {
  made: readonly SplitRecord[] = [];
  private readonly images = new Map<number, SnapshotWriter>();

  /**
   * SPLIT at `index` on keyspace `ks`, whose store carries `state` besides the keys: begins the
   * new group's image, then gives its slots up.
   */
  apply(ks: Keyspace, op: OpOf<'split'>, index: number, state: SnapshotState): KvResult {
    const problem = splitProblem(op, ks.owned, this.made);
    if (problem !== undefined) return error(problem);
    const slots = splitRange(ks.owned, op.atSlot);
    // Begun before the slots are given up, though nothing the writer captures depends on it.
    const image = new SnapshotWriter(ks, index, undefined, false, { ...state, slots: new SlotSet([slots]), splits: [] });
    this.images.get(op.group)?.cancel();
    this.images.set(op.group, image);
    ks.giveUp(slots);
    this.made = [...this.made, { index, group: op.group, slots }];
    return { type: 'split', index, group: op.group, slots };
  }

  /** The image for `group`, once. */
  take(group: number): SnapshotWriter | undefined {
    const image = this.images.get(group);
    this.images.delete(group);
    return image;
  }
}
