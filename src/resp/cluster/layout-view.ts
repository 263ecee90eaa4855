/**
 * A `ClusterView` built from plain data: each data group's slot ranges, replicas, leader and
 * (when this node hosts a replica) the local handle that serves it. It is immutable: whoever
 * follows the slot map (group 0's log) and the groups' leaders builds a new one when the map's
 * epoch or a leader changes, and swaps it in (`CurrentView` below); a request routed by the old
 * one is still safe, because a group refuses keys outside its own ranges when it runs it.
 *
 * Construction checks the layout (ranges inside 0..16383, no slot owned twice, the metadata
 * group owns none, a local handle only for a group this node replicates) and throws
 * `LayoutError`, so a bad map is refused where it is built, never half-applied in routing.
 * Slots no group owns are allowed: they answer `CLUSTERDOWN Hash slot not served`.
 */
import type { Member } from '../../node/members.ts';
import { clusterNodeId } from '../handlers/topology.ts';
import { SLOT_COUNT } from '../slot.ts';
import { type ClusterNode, type ClusterView, type GroupId, METADATA_GROUP, type Shard, type SlotOwner, type SlotRange } from './view.ts';

export interface GroupLayout<H> {
  readonly group: GroupId;
  readonly ranges: readonly SlotRange[];
  /** Voters and learners with their addresses. */
  readonly replicas: readonly Member[];
  /** The leader's member id, when one is known. */
  readonly leader?: string | undefined;
  /** The last leader this node knew, shown as the owner while none is known (defaults to `leader`). */
  readonly lastLeader?: string | undefined;
  /** The map epoch at which the group's ranges or replicas last changed. */
  readonly configEpoch: number;
  /** A split or replica move is being applied: its slots answer TRYAGAIN. */
  readonly changing?: boolean;
  /** This node's replica of the group, if it hosts one. */
  readonly local?: H | undefined;
  /** Log positions by member id (CLUSTER SHARDS replication-offset), read at each render; 0 when absent. */
  readonly offsets?: Readonly<Record<string, number>>;
}

export interface Layout<H> {
  /** This node's member id. */
  readonly self: string;
  readonly epoch: number;
  readonly groups: readonly GroupLayout<H>[];
  /** Whether this node reaches a member now (itself always counts as reachable). */
  readonly reachable?: (memberId: string) => boolean;
}

export class LayoutError extends Error {
  override name = 'LayoutError';
}

const UNASSIGNED = -1;

export class LayoutView<H> implements ClusterView<H> {
  readonly self: string;
  readonly epoch: number;
  readonly spansGroups: boolean;
  /** slot -> index into `owners` (UNASSIGNED when no group owns it). */
  private readonly bySlot = new Int32Array(SLOT_COUNT).fill(UNASSIGNED);
  private readonly owners: SlotOwner<H>[];
  private readonly shardList: Shard[];
  private readonly ownLeader: SlotOwner<H> | undefined;

  constructor(layout: Layout<H>) {
    this.self = layout.self;
    this.epoch = layout.epoch;
    const reachable = layout.reachable ?? (() => true);
    const seen = new Set<GroupId>();
    this.owners = [];
    this.shardList = [];
    for (const g of layout.groups) {
      if (!Number.isInteger(g.group) || g.group < 0 || g.group > 0xffffffff) throw new LayoutError(`group id ${g.group} is not a uint32`);
      if (seen.has(g.group)) throw new LayoutError(`group ${g.group} is listed twice`);
      seen.add(g.group);
      if (g.group === METADATA_GROUP && g.ranges.length > 0) throw new LayoutError('the metadata group owns no slots');
      const ids = new Set(g.replicas.map((m) => m.id));
      if (g.local !== undefined && !ids.has(layout.self)) throw new LayoutError(`group ${g.group} has a local handle but ${layout.self} is not its replica`);
      for (const id of [g.leader, g.lastLeader]) {
        if (id !== undefined && !ids.has(id)) throw new LayoutError(`group ${g.group}'s leader ${id} is not its replica`);
      }
      const index = this.owners.length;
      const ranges = [...g.ranges].sort((a, b) => a.start - b.start);
      for (const r of ranges) {
        if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 0 || r.end >= SLOT_COUNT || r.start > r.end) {
          throw new LayoutError(`group ${g.group} has an invalid slot range ${r.start}-${r.end}`);
        }
        for (let s = r.start; s <= r.end; s++) {
          if (this.bySlot[s] !== UNASSIGNED) throw new LayoutError(`slot ${s} is owned by two groups`);
          this.bySlot[s] = index;
        }
      }
      const leaderMember = g.leader === undefined ? undefined : g.replicas.find((m) => m.id === g.leader);
      this.owners.push({ group: g.group, local: g.local, leads: g.leader === layout.self, leader: leaderMember, changing: g.changing ?? false });
      const ownerId = g.lastLeader ?? g.leader;
      const offsets = g.offsets;
      const nodes: ClusterNode[] = g.replicas.map((member) => ({
        member,
        nodeId: clusterNodeId(member.id),
        self: member.id === layout.self,
        leader: member.id === g.leader,
        owner: member.id === ownerId,
        // Read when CLUSTER SHARDS/NODES renders, not when the layout is built: links and log
        // positions change between layouts, which are rebuilt only for a new map or leader.
        get healthy() {
          return member.id === layout.self || reachable(member.id);
        },
        get offset() {
          return offsets?.[member.id] ?? 0;
        },
      }));
      nodes.sort((a, b) => (a.owner !== b.owner ? (a.owner ? -1 : 1) : a.member.id < b.member.id ? -1 : 1));
      if (ranges.length > 0) {
        this.shardList.push({ group: g.group, ranges, up: g.leader !== undefined, owner: nodes.find((n) => n.owner), nodes, configEpoch: g.configEpoch });
      }
    }
    this.shardList.sort((a, b) => a.ranges[0].start - b.ranges[0].start);
    this.ownLeader = this.owners.find((o) => o.leads && o.local !== undefined && o.group !== METADATA_GROUP);
    // One group owning every slot routes as today's single group; anything else checks each key.
    const whole = this.shardList.length === 1 && this.bySlot.every((i) => i !== UNASSIGNED);
    this.spansGroups = !whole;
  }

  groupOf(slot: number): GroupId | undefined {
    return this.owners[this.bySlot[slot]]?.group;
  }

  owner(slot: number): SlotOwner<H> | undefined {
    return this.owners[this.bySlot[slot]];
  }

  localLeader(): SlotOwner<H> | undefined {
    return this.ownLeader;
  }

  shards(): readonly Shard[] {
    return this.shardList;
  }
}

/**
 * The view a server is started with when its layout changes over time: it answers from the
 * current `LayoutView`, and `current` is replaced whole (a new map epoch, a new leader), so a
 * request sees one layout from start to end of its routing.
 */
export class CurrentView<H> implements ClusterView<H> {
  constructor(public current: ClusterView<H>) {}

  get self(): string {
    return this.current.self;
  }
  get epoch(): number {
    return this.current.epoch;
  }
  get spansGroups(): boolean {
    return this.current.spansGroups;
  }
  groupOf(slot: number): GroupId | undefined {
    return this.current.groupOf(slot);
  }
  owner(slot: number): SlotOwner<H> | undefined {
    return this.current.owner(slot);
  }
  localLeader(): SlotOwner<H> | undefined {
    return this.current.localLeader();
  }
  shards(): readonly Shard[] {
    return this.current.shards();
  }
}
