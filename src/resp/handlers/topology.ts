/**
 * The Redis Cluster picture of a Raft group: the leader as its master, the other members
 * (voters and learners) as replicas. CLUSTER SLOTS/SHARDS/NODES (through cluster/single-group.ts),
 * INFO replication and HELLO all describe the node's group from this one view.
 *
 * Node ids: Redis Cluster ids are 40 hex characters; a member's id here is the SHA-1 of its
 * RaftKV member id (`sha1("n1")`), so every node and every restart names a member the same.
 */
import { createHash } from 'node:crypto';
import type { RaftNode } from '../../node/raft-node.ts';
import type { ClusterNode } from '../cluster/view.ts';

export type { ClusterNode };

/** One Raft group's members as Redis Cluster nodes (cluster/single-group.ts makes it a shard). */
export interface GroupView {
  readonly leader: ClusterNode | undefined;
  /**
   * Who owns the slots: the leader or, during an election, the last leader (a failed master, as
   * Redis Cluster reports one until a replica takes over). Empty slots would make node-redis
   * drop every node and never rediscover, so only a node that never knew a leader reports none.
   */
  readonly owner: ClusterNode | undefined;
  readonly nodes: readonly ClusterNode[];
}

const ids = new Map<string, string>();

export function clusterNodeId(memberId: string): string {
  let id = ids.get(memberId);
  if (id === undefined) {
    id = createHash('sha1').update(memberId).digest('hex');
    ids.set(memberId, id);
  }
  return id;
}

/** 'master' on the leader, 'replica' anywhere else. */
export function serverRole(node: RaftNode): 'master' | 'replica' {
  return node.isLeader() ? 'master' : 'replica';
}

/** Voters and learners with known addresses, the slot owner first, then by member id. */
export function groupView(node: RaftNode): GroupView {
  const conf = node.confState();
  const links = node.shared.stats();
  const progress = node.progress();
  const leaderId = node.leader()?.id;
  const ownerId = node.lastKnownLeader()?.id;
  const nodes: ClusterNode[] = [];
  for (const id of [...conf.voters, ...conf.learners]) {
    const member = node.members.get(id);
    if (member === undefined) continue;
    const self = id === node.id;
    nodes.push({
      member,
      nodeId: clusterNodeId(id),
      self,
      leader: id === leaderId,
      owner: id === ownerId,
      healthy: self || links[id]?.state === 'connected',
      offset: self ? node.appliedIndex : (progress?.[id]?.match ?? 0),
    });
  }
  nodes.sort((a, b) => (a.owner !== b.owner ? (a.owner ? -1 : 1) : a.member.id < b.member.id ? -1 : 1));
  return { leader: nodes.find((n) => n.leader), owner: nodes.find((n) => n.owner), nodes };
}
