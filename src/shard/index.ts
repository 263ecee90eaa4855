/**
 * shard: the slot map of a sharded cluster (issue 13), as pure data and pure functions. It runs
 * in group 0's apply path, so nothing here does I/O, reads the clock or calls Math.random.
 *
 * How a multi-group node (src/node/store.ts, to come) uses it:
 *  - Bootstrap with `--shards N`: the founding node writes `encodeMap(initialLayout(nodes, N))`
 *    as group 0's initial state (slots cut as redis-cli cuts them, replicas and leader hints
 *    spread). `--shards 1` has no map and no group 0: today's single group is group 1.
 *  - Group 0's state machine: per committed entry, `apply(map, decodeOp(data))`; the result's
 *    `map` is the new map (the same object, and the `error` string for the caller, when the op
 *    was refused). Its snapshot is `encodeMap(map)`, restored with `decodeMap`. Both decoders
 *    fail only with a CodecError.
 *  - Before proposing an op (`raftkv shard ...`, /v1/shards, the rebalancer): `validate(map, op)`
 *    with `op.epoch = map.epoch`; a non-empty answer is the operator's error.
 *  - Routing: `groupOfSlot(map, keyHashSlot(key))`, then `findGroup(map, id).leaderHint` for the
 *    MOVED address; `map.ranges` and `map.groups` for CLUSTER SLOTS|SHARDS|NODES.
 *  - A split: the parent group's log entry divides its keys at `atSlot` (every key of the parent
 *    whose slot is >= atSlot goes to the new group, exactly the slots `split` gives it here);
 *    then the `split` op records it in group 0.
 *  - The rebalancer, on group 0's leader, rate-limited: `planRebalance({ map, nodes, load,
 *    leaders })` and run the ops in order, each in its data group first, logging each reason;
 *    re-plan after any failure.
 */
export { CodecError, CodecErrorReason, decodeMap, decodeOp, encodeMap, encodeOp, SHARD_CODEC_VERSION } from './codec.ts';
export { evenSlotRanges, INITIAL_EPOCH, initialLayout } from './layout.ts';
export { type ApplyResult, apply, SHARD_ERRORS, SHARD_OP, type ShardOp, type ShardOpBody, type ShardOpName, validate } from './ops.ts';
export { PLANNER_DEFAULTS, type PlannedOp, type PlannerInput, type PlannerNode, type PlannerOptions, planRebalance } from './planner.ts';
export {
  checkMap,
  FIRST_DATA_GROUP,
  findGroup,
  type GroupId,
  type GroupReplicas,
  groupOfSlot,
  MAX_SLOT,
  METADATA_GROUP,
  nextGroupId,
  nodesOf,
  rangeOfSlot,
  rangesOf,
  SHARD_LIMITS,
  SLOT_COUNT,
  type SlotMap,
  type SlotRange,
  slotCountOf,
} from './slot-map.ts';
