/**
 * Changes to the slot map, as data: the entries of group 0's log.
 *
 * Every op carries the epoch of the map it was planned against, a compare-and-set: if another
 * change landed first, the op is refused as stale rather than applied to a map its planner never
 * saw (a replica "moved" off a node that has since left, a split of slots another split took).
 * The planner then plans again from the new map.
 *
 * `validate(map, op)` answers the error before anything is proposed; `apply(map, op)` runs in
 * group 0's apply path on every node and is total: it never throws, an invalid op leaves the map
 * as it was and returns the same error, and a valid op that changes something bumps the epoch by
 * exactly one. A valid op that changes nothing (a leader hint set to the hint it already is)
 * returns the map unchanged, epoch included.
 *
 * An op records what a data group did or is asked to do; it moves no data. A `split` here
 * records the split entry the parent group applied (both halves stay on the parent's replicas,
 * so the new group starts with the parent's voters, learners and leader hint). Membership ops
 * mirror the data group's own conf changes: add learner, snapshot catch-up, promote, remove.
 */
import type { NodeId } from '../raft/types.ts';
import {
  FIRST_DATA_GROUP,
  findGroup,
  type GroupId,
  type GroupReplicas,
  groupProblem,
  isGroupId,
  joinRanges,
  MAX_SLOT,
  METADATA_GROUP,
  nodeIdProblem,
  SHARD_LIMITS,
  type SlotMap,
  type SlotRange,
} from './slot-map.ts';

/**
 * The op table. `code` is the byte in the log (codec.ts; never reuse one, ops are only added).
 * `changesReplicas` marks the ops the data group must have done in its own log first.
 */
export const SHARD_OP = {
  /** A new group with these voters and no slots yet (a target for slots moved in later). */
  createGroup: { code: 1, changesReplicas: true },
  /** The parent's slots from `atSlot` up go to `newGroup`, on the parent's replicas. */
  split: { code: 2, changesReplicas: false },
  /** A new replica that does not vote, catching up from a snapshot. */
  addLearner: { code: 3, changesReplicas: true },
  /** A caught-up learner becomes a voter. */
  promote: { code: 4, changesReplicas: true },
  /** A voter or learner leaves the group (the last voter cannot). */
  removeReplica: { code: 5, changesReplicas: true },
  /** Where clients are sent for the group; must be a voter. */
  setLeaderHint: { code: 6, changesReplicas: false },
} as const;

export type ShardOpName = keyof typeof SHARD_OP;

/** Fields of each op besides `type` and `epoch`; the mapped type fails to compile without one. */
interface ShardOpShapes {
  createGroup: { group: GroupId; voters: NodeId[]; leaderHint?: NodeId };
  /**
   * `voters`/`learners`: the new group's configuration, which is the parent's *at the split
   * entry* (every replica starts the new group with it). The map's copy of the parent's replicas
   * can differ by the time the split is recorded (a move of the parent recorded in between), and
   * a map that names other replicas than the group's configuration would have a node drop a
   * replica its group still counts as a voter. Absent: the parent's replicas in the map.
   */
  split: { group: GroupId; atSlot: number; newGroup: GroupId; voters?: NodeId[]; learners?: NodeId[] };
  addLearner: { group: GroupId; node: NodeId };
  promote: { group: GroupId; node: NodeId };
  removeReplica: { group: GroupId; node: NodeId };
  setLeaderHint: { group: GroupId; node: NodeId };
}

export type ShardOp = { [K in ShardOpName]: { type: K; epoch: number } & ShardOpShapes[K] }[ShardOpName];

/** An op before it is planned against a map: stamp it with `{ ...body, epoch: map.epoch }`. */
export type ShardOpBody = ShardOp extends infer T ? (T extends ShardOp ? Omit<T, 'epoch'> : never) : never;

/**
 * Every refusal, worded the way Redis (slots) and etcd (members) word theirs, so an operator
 * reading `raftkv shard` output or a rebalancer log line knows what to do next.
 */
export const SHARD_ERRORS = {
  unknownOp: (type: unknown) => `unknown slot map change ${JSON.stringify(show(type))}`,
  staleEpoch: (planned: unknown, current: number) =>
    `stale slot map epoch: the change was planned at epoch ${show(planned)}, the map is at epoch ${current}; plan it again`,
  badGroupId: (id: unknown) => `invalid group id ${show(id)}: must be an integer in 0..${SHARD_LIMITS.maxGroupId}`,
  unknownGroup: (id: GroupId) => `unknown group ${id}`,
  groupExists: (id: GroupId) => `group ${id} already exists`,
  metadataGroup: (id: GroupId) => `group ${id} is the metadata group: it owns no slots`,
  tooManyGroups: () => `the map already has ${SHARD_LIMITS.maxGroups} groups`,
  badSlot: (slot: unknown) => `Invalid or out of range slot ${show(slot)}`,
  nothingBelow: (group: GroupId, slot: number) => `group ${group} owns no slot below ${slot}: nothing would stay in it`,
  nothingFrom: (group: GroupId, slot: number) => `group ${group} owns no slot from ${slot} up: nothing would move to the new group`,
  alreadyVoter: (node: NodeId, group: GroupId) => `node ${node} is already a voter of group ${group}`,
  alreadyLearner: (node: NodeId, group: GroupId) => `node ${node} is already a learner of group ${group}`,
  notReplica: (node: NodeId, group: GroupId) => `node ${node} is not a replica of group ${group}`,
  notLearner: (node: NodeId, group: GroupId) => `node ${node} is not a learner of group ${group}`,
  notVoter: (node: NodeId, group: GroupId) => `node ${node} is not a voter of group ${group}`,
  lastVoter: (node: NodeId, group: GroupId) => `node ${node} is the last voter of group ${group}: add another voter first`,
  tooManyReplicas: (group: GroupId) => `group ${group} already has ${SHARD_LIMITS.maxReplicas} replicas`,
  badGroup: (problem: string) => `invalid group: ${problem}`,
  /** Input no caller builds (a getter that throws, say): refused all the same. */
  unreadable: (err: unknown) => `unreadable slot map change: ${show(err instanceof Error ? err.message : err)}`,
} as const;

/** A value from an op, for an error text: short, and never a throw (a Symbol, a bad toString). */
function show(v: unknown): string {
  try {
    return String(v).slice(0, 40);
  } catch {
    return `(${typeof v})`;
  }
}

export interface ApplyResult {
  /** The map after the op: the same object when the op was refused or changed nothing. */
  readonly map: SlotMap;
  /** Why the op was refused (the map is unchanged), or undefined. */
  readonly error?: string;
}

/** Why `op` cannot apply to `map`, or undefined if it can. Never throws, whatever `op` holds. */
export function validate(map: SlotMap, op: ShardOp): string | undefined {
  const o = op as Partial<Record<string, unknown>>;
  if (typeof o !== 'object' || o === null || typeof o.type !== 'string' || !Object.hasOwn(SHARD_OP, o.type)) {
    return SHARD_ERRORS.unknownOp(o?.type);
  }
  if (o.epoch !== map.epoch) return SHARD_ERRORS.staleEpoch(o.epoch, map.epoch);
  if (!isGroupId(o.group)) return SHARD_ERRORS.badGroupId(o.group);
  const id = o.group;
  if (op.type === 'createGroup') return createProblem(map, op);
  const g = findGroup(map, id);
  if (!g) return SHARD_ERRORS.unknownGroup(id);
  if (op.type === 'split') return splitProblem(map, op);
  const problem = nodeIdProblem(op.node);
  if (problem) return problem;
  const node = op.node;
  switch (op.type) {
    case 'addLearner':
      if (g.voters.includes(node)) return SHARD_ERRORS.alreadyVoter(node, id);
      if (g.learners.includes(node)) return SHARD_ERRORS.alreadyLearner(node, id);
      if (g.voters.length + g.learners.length >= SHARD_LIMITS.maxReplicas) return SHARD_ERRORS.tooManyReplicas(id);
      return undefined;
    case 'promote':
      if (g.voters.includes(node)) return SHARD_ERRORS.alreadyVoter(node, id);
      if (!g.learners.includes(node)) return SHARD_ERRORS.notLearner(node, id);
      return undefined;
    case 'removeReplica':
      if (!g.voters.includes(node) && !g.learners.includes(node)) return SHARD_ERRORS.notReplica(node, id);
      if (g.voters.length === 1 && g.voters[0] === node) return SHARD_ERRORS.lastVoter(node, id);
      return undefined;
    case 'setLeaderHint':
      if (!g.voters.includes(node)) return SHARD_ERRORS.notVoter(node, id);
      return undefined;
  }
}

/** The map after `op`, or the map unchanged and the error. Total: never throws. */
export function apply(map: SlotMap, op: ShardOp): ApplyResult {
  let error: string | undefined;
  try {
    error = validate(map, op);
  } catch (err) {
    // validate reads only fields it checks; this catches what no decoded op can hold.
    error = SHARD_ERRORS.unreadable(err);
  }
  if (error !== undefined) return { map, error };
  const epoch = map.epoch + 1;
  switch (op.type) {
    case 'createGroup': {
      const g: GroupReplicas = withHint({ id: op.group, voters: [...op.voters], learners: [] }, op.leaderHint);
      const groups = [...map.groups, g].sort((a, b) => a.id - b.id);
      return { map: { epoch, ranges: map.ranges, groups } };
    }
    case 'split': {
      const ranges: SlotRange[] = [];
      for (const r of map.ranges) {
        if (r.group !== op.group || r.end < op.atSlot) ranges.push(r);
        else if (r.start >= op.atSlot) ranges.push({ start: r.start, end: r.end, group: op.newGroup });
        else ranges.push({ start: r.start, end: op.atSlot - 1, group: r.group }, { start: op.atSlot, end: r.end, group: op.newGroup });
      }
      const parent = findGroup(map, op.group)!;
      const voters = op.voters ? [...op.voters] : [...parent.voters];
      const learners = op.learners ? [...op.learners] : [...parent.learners];
      // The parent's hint when it is one of the new group's voters, else its first voter.
      const hint = parent.leaderHint !== undefined && voters.includes(parent.leaderHint) ? parent.leaderHint : voters[0];
      const child = withHint({ id: op.newGroup, voters, learners }, hint);
      const groups = [...map.groups, child].sort((a, b) => a.id - b.id);
      return { map: { epoch, ranges: joinRanges(ranges), groups } };
    }
    case 'setLeaderHint':
      if (findGroup(map, op.group)!.leaderHint === op.node) return { map };
      return { map: { epoch, ranges: map.ranges, groups: replaceGroup(map, op.group, (g) => withHint(g, op.node)) } };
    case 'addLearner':
      return {
        map: { epoch, ranges: map.ranges, groups: replaceGroup(map, op.group, (g) => withHint({ ...g, learners: [...g.learners, op.node] }, g.leaderHint)) },
      };
    case 'promote':
      return {
        map: {
          epoch,
          ranges: map.ranges,
          groups: replaceGroup(map, op.group, (g) =>
            withHint({ id: g.id, voters: [...g.voters, op.node], learners: g.learners.filter((n) => n !== op.node) }, g.leaderHint),
          ),
        },
      };
    case 'removeReplica':
      // Removing the hinted leader clears the hint: clients get TRYAGAIN until the group's new
      // leader is recorded, rather than a MOVED to a node that left.
      return {
        map: {
          epoch,
          ranges: map.ranges,
          groups: replaceGroup(map, op.group, (g) =>
            withHint(
              { id: g.id, voters: g.voters.filter((n) => n !== op.node), learners: g.learners.filter((n) => n !== op.node) },
              g.leaderHint === op.node ? undefined : g.leaderHint,
            ),
          ),
        },
      };
  }
}

function createProblem(map: SlotMap, op: ShardOp & { type: 'createGroup' }): string | undefined {
  if (findGroup(map, op.group)) return SHARD_ERRORS.groupExists(op.group);
  if (map.groups.length >= SHARD_LIMITS.maxGroups) return SHARD_ERRORS.tooManyGroups();
  if (!Array.isArray(op.voters)) return SHARD_ERRORS.badGroup('voters must be a list of node ids');
  const problem = groupProblem(withHint({ id: op.group, voters: op.voters, learners: [] }, op.leaderHint));
  return problem === undefined ? undefined : SHARD_ERRORS.badGroup(problem);
}

function splitProblem(map: SlotMap, op: ShardOp & { type: 'split' }): string | undefined {
  if (op.group === METADATA_GROUP) return SHARD_ERRORS.metadataGroup(op.group);
  if (!isGroupId(op.newGroup) || op.newGroup < FIRST_DATA_GROUP) return SHARD_ERRORS.badGroupId(op.newGroup);
  if (findGroup(map, op.newGroup)) return SHARD_ERRORS.groupExists(op.newGroup);
  if (map.groups.length >= SHARD_LIMITS.maxGroups) return SHARD_ERRORS.tooManyGroups();
  // Slot 0 cannot be a split point: nothing would stay below it.
  if (!Number.isInteger(op.atSlot) || op.atSlot < 1 || op.atSlot > MAX_SLOT) return SHARD_ERRORS.badSlot(op.atSlot);
  let below = false;
  let from = false;
  for (const r of map.ranges) {
    if (r.group !== op.group) continue;
    if (r.start < op.atSlot) below = true;
    if (r.end >= op.atSlot) from = true;
  }
  if (!below) return SHARD_ERRORS.nothingBelow(op.group, op.atSlot);
  if (!from) return SHARD_ERRORS.nothingFrom(op.group, op.atSlot);
  if (op.voters !== undefined || op.learners !== undefined) {
    const voters: unknown = op.voters ?? [];
    const learners: unknown = op.learners ?? [];
    if (!Array.isArray(voters) || !Array.isArray(learners) || voters.length === 0) return SHARD_ERRORS.unreadable('a split names no voter');
    const all = [...voters, ...learners];
    for (const n of all) {
      const problem = nodeIdProblem(n);
      if (problem) return problem;
    }
    if (new Set(all).size !== all.length) return SHARD_ERRORS.unreadable('a split names a node twice');
    if (all.length > SHARD_LIMITS.maxReplicas) return SHARD_ERRORS.tooManyReplicas(op.newGroup);
  }
  return undefined;
}

/** A group with `hint` as its leader hint, the field absent when there is none. */
function withHint(g: GroupReplicas, hint: NodeId | undefined): GroupReplicas {
  const out: GroupReplicas = { id: g.id, voters: g.voters, learners: g.learners };
  return hint === undefined ? out : { ...out, leaderHint: hint };
}

function replaceGroup(map: SlotMap, id: GroupId, f: (g: GroupReplicas) => GroupReplicas): GroupReplicas[] {
  return map.groups.map((g) => (g.id === id ? f(g) : g));
}
