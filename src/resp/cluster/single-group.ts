/**
 * Today's node as a `ClusterView`: one Raft group (group 1) owns slots 0-16383; its leader is
 * the master and the other members are replicas (handlers/topology.ts builds that picture).
 * The map epoch and the shard's config epoch are the Raft term, which is what CLUSTER INFO and
 * CLUSTER NODES showed before the view existed, so `--shards 1` answers byte for byte the same.
 */
import type { RaftNode } from '../../node/raft-node.ts';
import { groupView } from '../handlers/topology.ts';
import { SLOT_COUNT } from '../slot.ts';
import { type ClusterView, FIRST_DATA_GROUP, type GroupId, type Shard, type SlotOwner } from './view.ts';

const ALL_SLOTS = [{ start: 0, end: SLOT_COUNT - 1 }] as const;

/** The one owner of every slot. Getters read the node, so routing allocates nothing per request. */
class WholeOwner implements SlotOwner<RaftNode> {
  readonly group = FIRST_DATA_GROUP;
  readonly changing = false;
  constructor(readonly local: RaftNode) {}
  get leads(): boolean {
    return this.local.isLeader();
  }
  get leader() {
    return this.local.leader();
  }
}

export class SingleGroupView implements ClusterView<RaftNode> {
  readonly spansGroups = false;
  private readonly whole: WholeOwner;

  constructor(private readonly node: RaftNode) {
    this.whole = new WholeOwner(node);
  }

  get self(): string {
    return this.node.id;
  }

  get epoch(): number {
    return this.node.status().term;
  }

  groupOf(_slot: number): GroupId {
    return FIRST_DATA_GROUP;
  }

  owner(_slot: number): SlotOwner<RaftNode> {
    return this.whole;
  }

  localLeader(): SlotOwner<RaftNode> | undefined {
    return this.node.isLeader() ? this.whole : undefined;
  }

  shards(): readonly Shard[] {
    const g = groupView(this.node);
    return [{ group: FIRST_DATA_GROUP, ranges: ALL_SLOTS, up: g.leader !== undefined, owner: g.owner, nodes: g.nodes, configEpoch: this.epoch }];
  }
}
