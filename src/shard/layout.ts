/**
 * The map a sharded cluster starts with (`raftkv start --shards N`): written once, as group 0's
 * initial state, by the node that bootstraps the cluster, the way the founding voters are.
 *
 * - Slots: group g (1..N) gets the g-th of N contiguous ranges, cut exactly as
 *   `redis-cli --cluster create` cuts them for N masters (0-5460, 5461-10922, 10923-16383 for 3),
 *   so sizes differ by at most one slot and an operator sees the ranges Redis would show.
 * - Replicas: each group takes `replicas` nodes (all of them if there are fewer), the least
 *   loaded first, so no node holds more than one replica more than another.
 * - Leaders: each group's leader hint goes to the node with the fewest hints so far (round-robin
 *   over the nodes in the order given), so the leaders of N groups over M nodes differ by at
 *   most one per node. The new groups' elections follow the hints through leadership transfer.
 * - Group 0 (the map itself) is placed last the same way, on the least loaded nodes.
 *
 * Deterministic: the same arguments give the same map on every node.
 */
import type { NodeId } from '../raft/types.ts';
import {
  FIRST_DATA_GROUP,
  type GroupId,
  type GroupReplicas,
  METADATA_GROUP,
  nodeIdProblem,
  SHARD_LIMITS,
  SLOT_COUNT,
  type SlotMap,
  type SlotRange,
} from './slot-map.ts';

/** The epoch of a cluster's first map; 0 is never a map's epoch. */
export const INITIAL_EPOCH = 1;

/**
 * The N contiguous ranges redis-cli gives N masters (redis-cli.c, clusterManagerCommandCreate):
 * its float32 arithmetic is reproduced with Math.fround so the cut points match to the slot.
 */
export function evenSlotRanges(n: number): { start: number; end: number }[] {
  const f = Math.fround;
  const perGroup = f(SLOT_COUNT / n);
  const out: { start: number; end: number }[] = [];
  let first = 0;
  let cursor = f(0);
  for (let i = 0; i < n; i++) {
    let last = lround(f(f(cursor + perGroup) - 1));
    if (last > SLOT_COUNT || i === n - 1) last = SLOT_COUNT - 1;
    if (last < first) last = first;
    out.push({ start: first, end: last });
    first = last + 1;
    cursor = f(cursor + perGroup);
  }
  return out;
}

/** C's lround: halfway cases away from zero (all inputs here are >= 0). */
function lround(x: number): number {
  return Math.floor(x + 0.5);
}

/**
 * The initial map for `shards` data groups (1..N) and group 0 over `nodes` (in the order given),
 * `replicas` replicas each. Throws a RangeError for arguments no cluster could start with.
 */
export function initialLayout(nodes: readonly NodeId[], shards: number, replicas = 3): SlotMap {
  if (nodes.length === 0) throw new RangeError('a layout needs at least one node');
  for (const n of nodes) {
    const problem = nodeIdProblem(n);
    if (problem) throw new RangeError(problem);
  }
  if (new Set(nodes).size !== nodes.length) throw new RangeError('a node is listed twice');
  if (!Number.isInteger(shards) || shards < 1 || shards > SLOT_COUNT) throw new RangeError(`shards must be an integer in 1..${SLOT_COUNT}, got ${shards}`);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > SHARD_LIMITS.maxReplicas) {
    throw new RangeError(`replicas must be an integer in 1..${SHARD_LIMITS.maxReplicas}, got ${replicas}`);
  }
  const size = Math.min(replicas, nodes.length);
  const replicaCount = nodes.map(() => 0);
  const leaderCount = nodes.map(() => 0);
  const place = (id: GroupId): GroupReplicas => {
    // Fewest leaders, then fewest replicas, then first in the given order.
    const order = nodes.map((_, i) => i);
    const leader = order.reduce((best, i) =>
      leaderCount[i] < leaderCount[best] || (leaderCount[i] === leaderCount[best] && replicaCount[i] < replicaCount[best]) ? i : best,
    );
    // The others: fewest replicas, then the nearest after the leader around the ring.
    const ring = (i: number) => (i - leader + nodes.length) % nodes.length;
    const others = order
      .filter((i) => i !== leader)
      .sort((a, b) => replicaCount[a] - replicaCount[b] || ring(a) - ring(b))
      .slice(0, size - 1)
      .sort((a, b) => ring(a) - ring(b));
    const chosen = [leader, ...others];
    for (const i of chosen) replicaCount[i]++;
    leaderCount[leader]++;
    return { id, voters: chosen.map((i) => nodes[i]), learners: [], leaderHint: nodes[leader] };
  };
  const groups: GroupReplicas[] = [];
  for (let g = FIRST_DATA_GROUP; g < FIRST_DATA_GROUP + shards; g++) groups.push(place(g));
  groups.unshift(place(METADATA_GROUP));
  const ranges: SlotRange[] = evenSlotRanges(shards).map((r, i) => ({ ...r, group: FIRST_DATA_GROUP + i }));
  return { epoch: INITIAL_EPOCH, ranges, groups };
}
