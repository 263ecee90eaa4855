/**
 * The RESP front end's picture of a sharded cluster (issue 13, layer "route"): which Raft group
 * owns each Redis Cluster slot, whether this node can serve it, and the shards to show in
 * CLUSTER SLOTS/SHARDS/NODES/INFO. Routing (routing.ts), the guard (handlers/guard.ts) and the
 * CLUSTER replies (render.ts) see the cluster only through `ClusterView`, so a process hosting
 * many groups (the later src/node/store.ts) plugs in by implementing it. Two implementations:
 *
 *  - `SingleGroupView` (single-group.ts): today's node, one group (group 1) owning 0-16383, the
 *    Raft leader as its master. `--shards 1` answers exactly what it answered before.
 *  - `LayoutView` (layout-view.ts): a view from plain data (slot ranges -> group, group ->
 *    replicas and leader), rebuilt whenever the slot map's epoch or a group's leader changes.
 *
 * Vocabulary (docs/architecture.md, "Sharding"): a `GroupId` is a uint32; group 0 is the metadata
 * group (it owns no slots); data groups count from 1. A group owns contiguous, inclusive slot
 * ranges. A group's own state is authoritative for what it owns: the view may be stale, so a
 * group still refuses a key outside its ranges when it runs the command.
 */
import type { Member } from '../../node/members.ts';

export type GroupId = number;

/** The group that holds the slot map; it owns no slots. */
export const METADATA_GROUP: GroupId = 0;
/** Today's single group, and the first data group of a sharded cluster. */
export const FIRST_DATA_GROUP: GroupId = 1;

/** Slots `start..end`, both included (Redis's CLUSTER SLOTS / ADDSLOTSRANGE convention). */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
}

/** One replica of a group, as CLUSTER SLOTS/SHARDS/NODES show it. */
export interface ClusterNode {
  readonly member: Member;
  /** The 40-hex-character cluster node id (topology.ts `clusterNodeId`). */
  readonly nodeId: string;
  readonly self: boolean;
  /** Leads the group now. */
  readonly leader: boolean;
  /** Owns the group's slots: the leader, or the last leader while none is known. */
  readonly owner: boolean;
  /** Reachable from this node (itself always is). */
  readonly healthy: boolean;
  /** Log position known for it (CLUSTER SHARDS replication-offset). */
  readonly offset: number;
}

/** One group as a Redis Cluster shard. */
export interface Shard {
  readonly group: GroupId;
  /** Sorted, disjoint; shown only while the shard has an owner (else it reports no slots). */
  readonly ranges: readonly SlotRange[];
  /** A leader is known: the shard's slots are served ("ok"), else they are "fail". */
  readonly up: boolean;
  /** The slot owner, first in `nodes`; undefined only if this node never knew a leader. */
  readonly owner: ClusterNode | undefined;
  /** Every replica with a known address (voters and learners), the owner first, then by id. */
  readonly nodes: readonly ClusterNode[];
  /** The epoch at which this shard's ownership last changed (CLUSTER NODES config-epoch). */
  readonly configEpoch: number;
}

/**
 * Who serves one slot, as seen from this node. `H` is the local group handle that serves a
 * command (a RaftNode today).
 */
export interface SlotOwner<H> {
  readonly group: GroupId;
  /** This node's replica of the group, if it hosts one (READONLY reads, SSUBSCRIBE). */
  readonly local: H | undefined;
  /** This node leads the group: writes and linearizable reads run here. */
  readonly leads: boolean;
  /** The group's leader when one is known (this node or another): the MOVED target. */
  readonly leader: Member | undefined;
  /** A split or replica move of this slot is being applied: answer TRYAGAIN, never guess. */
  readonly changing: boolean;
}

export interface ClusterView<H = unknown> {
  /** This node's member id. */
  readonly self: string;
  /** The slot map's epoch (CLUSTER INFO cluster_current_epoch). */
  readonly epoch: number;
  /**
   * False only when one group owns every slot: then every key is in that group, no request can
   * be CROSSSLOT and routing needs no more than the first key's slot (the `--shards 1` path).
   */
  readonly spansGroups: boolean;
  /** The group owning `slot` (0..16383), or undefined while the slot is not assigned. */
  groupOf(slot: number): GroupId | undefined;
  /**
   * Who serves `slot`; undefined while it is not assigned (CLUSTERDOWN Hash slot not served).
   * Called once per keyed command: implementations should not allocate per call.
   */
  owner(slot: number): SlotOwner<H> | undefined;
  /**
   * A group this node leads and hosts, for node-wide commands without keys (DBSIZE, KEYS, SCAN,
   * RANDOMKEY, FLUSHALL), which Redis Cluster runs on each node over its own keys; undefined when
   * it leads none (they then go to the owner of slot 0). Asked only when `spansGroups`.
   */
  localLeader(): SlotOwner<H> | undefined;
  /** Every data group, by first slot. Built per CLUSTER command, not per request. */
  shards(): readonly Shard[];
}
