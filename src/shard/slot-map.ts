/**
 * The slot map: which Raft group owns each of Redis Cluster's 16384 slots, and which nodes hold
 * a replica of each group. It is the state of the metadata group (group 0): every node applies
 * the same changes (ops.ts) in the same order, so every node routes by the same map at the
 * same epoch.
 *
 * A map is plain immutable data: a change makes a new map, so a reader holding one sees a
 * consistent map of one epoch while the next is applied. Its invariants (checkMap):
 *  - `ranges` is sorted, starts at slot 0, ends at slot 16383, and each range starts right after
 *    the previous one ends: every slot has exactly one owner. Two adjacent ranges never belong to
 *    the same group (they are one range), so a map has exactly one representation.
 *  - Every range names a data group (>= 1) of `groups`; group 0 owns no slots.
 *  - `groups` is sorted by id and holds group 0. Each group has at least one voter, no node
 *    twice among its voters and learners, and its leader hint (if any) is one of its voters.
 *
 * Nothing here reads the clock or Math.random: this runs in group 0's apply path.
 */
import type { NodeId } from '../raft/types.ts';

/** A Raft group's id: a uint32. */
export type GroupId = number;

/** Redis Cluster's slot count; equal to src/resp/slot.ts's (a test checks), kept here so that
 * shard/ depends on no front end. */
export const SLOT_COUNT = 16384;
export const MAX_SLOT = SLOT_COUNT - 1;

/** Group 0 holds the slot map itself; data groups are numbered from 1 (today's group is 1). */
export const METADATA_GROUP: GroupId = 0;
export const FIRST_DATA_GROUP: GroupId = 1;

/** Bounds on a map, checked by validate and by the decoder, so no input grows memory unbounded. */
export const SHARD_LIMITS = {
  /** Group ids are uint32. */
  maxGroupId: 0xffff_ffff,
  /** Group 0 plus one group per slot: more data groups than slots would own nothing. */
  maxGroups: SLOT_COUNT + 1,
  /** Voters plus learners of one group. */
  maxReplicas: 32,
} as const;

/** Node ids as the runtime accepts them (src/node/addresses.ts; a test checks they agree). */
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Slots `start..end` (inclusive, as Redis prints them) owned by `group`. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly group: GroupId;
}

/** A group's replicas. The leader hint is where clients are sent; the group itself may have
 * moved on (a stale hint costs one more MOVED, never a wrong answer). */
export interface GroupReplicas {
  readonly id: GroupId;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly leaderHint?: NodeId;
}

export interface SlotMap {
  /** Bumped by every change; an op planned against another epoch is refused. */
  readonly epoch: number;
  readonly ranges: readonly SlotRange[];
  readonly groups: readonly GroupReplicas[];
}

export function isGroupId(v: unknown): v is GroupId {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= SHARD_LIMITS.maxGroupId;
}

export function isSlot(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_SLOT;
}

/** Why `id` cannot name a node, or undefined if it can. */
export function nodeIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || !NODE_ID.test(id)) {
    const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 70)) : `(${typeof id})`;
    return `invalid node id ${shown}: must be 1-64 characters of A-Z, a-z, 0-9, _, . and -`;
  }
  return undefined;
}

/** The range holding `slot` (binary search over the ranges: O(log ranges)). */
export function rangeOfSlot(map: SlotMap, slot: number): SlotRange {
  if (!isSlot(slot)) throw new RangeError(`slot ${slot} is not in 0..${MAX_SLOT}`);
  const ranges = map.ranges;
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid].end < slot) lo = mid + 1;
    else hi = mid;
  }
  return ranges[lo];
}

/** The group that owns `slot`. */
export function groupOfSlot(map: SlotMap, slot: number): GroupId {
  return rangeOfSlot(map, slot).group;
}

/** A group by id (binary search), or undefined. */
export function findGroup(map: SlotMap, id: GroupId): GroupReplicas | undefined {
  const groups = map.groups;
  let lo = 0;
  let hi = groups.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const g = groups[mid];
    if (g.id === id) return g;
    if (g.id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** The ranges `group` owns, in slot order. */
export function rangesOf(map: SlotMap, group: GroupId): SlotRange[] {
  return map.ranges.filter((r) => r.group === group);
}

/** How many slots `group` owns. */
export function slotCountOf(map: SlotMap, group: GroupId): number {
  let n = 0;
  for (const r of map.ranges) if (r.group === group) n += r.end - r.start + 1;
  return n;
}

/** The lowest id no group has used: ids are never reused, since groups are never deleted. */
export function nextGroupId(map: SlotMap): GroupId {
  return map.groups.length === 0 ? FIRST_DATA_GROUP : Math.max(FIRST_DATA_GROUP, map.groups[map.groups.length - 1].id + 1);
}

/** Every replica of `group`: voters first, then learners. */
export function replicasOf(g: GroupReplicas): NodeId[] {
  return [...g.voters, ...g.learners];
}

/** The nodes holding a replica of any group, sorted. */
export function nodesOf(map: SlotMap): NodeId[] {
  const all = new Set<NodeId>();
  for (const g of map.groups) for (const n of replicasOf(g)) all.add(n);
  return [...all].sort();
}

/** Adjacent ranges of one group joined into one: the canonical form checkMap requires. */
export function joinRanges(ranges: readonly SlotRange[]): SlotRange[] {
  const out: SlotRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && last.group === r.group && last.end + 1 === r.start) out[out.length - 1] = { start: last.start, end: r.end, group: r.group };
    else out.push(r);
  }
  return out;
}

/** Why `map` breaks an invariant (header comment), or undefined if it keeps them all. */
export function checkMap(map: SlotMap): string | undefined {
  if (!Number.isSafeInteger(map.epoch) || map.epoch < 0) return `epoch ${map.epoch} is not a non-negative integer`;
  const groups = map.groups;
  if (groups.length > SHARD_LIMITS.maxGroups) return `${groups.length} groups, at most ${SHARD_LIMITS.maxGroups}`;
  if (groups[0]?.id !== METADATA_GROUP) return 'the map has no metadata group 0';
  const goodIds = new Set<NodeId>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (!isGroupId(g.id)) return `group id ${g.id} is not a uint32`;
    if (i > 0 && g.id <= groups[i - 1].id) return `groups are not sorted by id at group ${g.id}`;
    const problem = groupProblem(g, goodIds);
    if (problem) return problem;
  }
  const ranges = map.ranges;
  if (ranges.length === 0) return 'no slot ranges';
  let next = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (r.start !== next) return next === 0 ? `slot 0 has no owner` : `slot ${next} is ${r.start < next ? 'owned twice' : 'unowned'}`;
    if (!isSlot(r.end) || r.end < r.start) return `range ${r.start}-${r.end} is not a slot range`;
    if (r.group === METADATA_GROUP) return `group 0 is the metadata group and owns no slots (it owns ${r.start}-${r.end})`;
    if (!findGroup(map, r.group)) return `slots ${r.start}-${r.end} belong to unknown group ${r.group}`;
    if (i > 0 && ranges[i - 1].group === r.group) return `ranges ending at ${r.start - 1} and starting at ${r.start} of group ${r.group} are not joined`;
    next = r.end + 1;
  }
  if (next !== SLOT_COUNT) return `slot ${next} is unowned`;
  return undefined;
}

/**
 * Why a group's replica sets are unusable, or undefined. `goodIds` remembers ids already found
 * valid, so a map of many groups checks each node id once.
 */
export function groupProblem(g: GroupReplicas, goodIds = new Set<NodeId>()): string | undefined {
  if (g.voters.length === 0) return `group ${g.id} has no voter`;
  const all = replicasOf(g);
  if (all.length > SHARD_LIMITS.maxReplicas) return `group ${g.id} has ${all.length} replicas, at most ${SHARD_LIMITS.maxReplicas}`;
  for (let i = 0; i < all.length; i++) {
    const id = all[i];
    if (!goodIds.has(id)) {
      const problem = nodeIdProblem(id);
      if (problem) return `group ${g.id}: ${problem}`;
      goodIds.add(id);
    }
    if (all.indexOf(id) !== i) return `group ${g.id} lists node ${id} twice`;
  }
  if (g.leaderHint !== undefined && !g.voters.includes(g.leaderHint)) return `group ${g.id}'s leader hint ${g.leaderHint} is not one of its voters`;
  return undefined;
}
