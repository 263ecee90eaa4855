/**
 * CLUSTER SLOTS, SHARDS, NODES and INFO rendered from a `ClusterView`, shaped exactly like a
 * Redis 7.0 cluster's replies so that ioredis `Cluster`, node-redis `createCluster` and
 * `redis-cli --cluster` parse them. One group is one shard: its leader (or, while it has none,
 * its last leader) is the master of its slot ranges, its other replicas are replicas.
 *
 * Redis Cluster lets a node be a master or a replica of one master; here a node may lead one
 * group and replicate others. SLOTS and SHARDS say it exactly (each range or shard lists its own
 * master and replicas, so one address may appear in several roles). NODES has one line per
 * node: `master` with the slots of every group it owns, else `slave` of the owner of the first
 * group it replicates; with leaders spread over the nodes every node is a master there.
 *
 * `tls`: the asking client is on a TLS connection; SLOTS and NODES then name TLS ports, as
 * Redis does with tls-cluster (CLUSTER NODES's bus port after the @ stays the HTTP port).
 */
import { respPort } from '../../node/members.ts';
import { R, type Reply } from '../reply.ts';
import { SLOT_COUNT } from '../slot.ts';
import type { ClusterNode, ClusterView, Shard, SlotRange } from './view.ts';

function slotsNode(n: ClusterNode, tls: boolean): Reply {
  return R.array([R.bulk(n.member.host), R.int(respPort(n.member, tls)), R.bulk(n.nodeId), R.map([])]);
}

/** Shards that report slots: a shard whose owner was never known reports none (see topology.ts). */
function owned(view: ClusterView): { shard: Shard; range: SlotRange }[] {
  const out: { shard: Shard; range: SlotRange }[] = [];
  for (const shard of view.shards()) {
    if (shard.owner === undefined) continue;
    for (const range of shard.ranges) out.push({ shard, range });
  }
  return out.sort((a, b) => a.range.start - b.range.start);
}

/** CLUSTER SLOTS: each range with its master, then the replicas this node reaches. */
export function clusterSlots(view: ClusterView, tls: boolean): Reply {
  return R.array(
    owned(view).map(({ shard, range }) => {
      const replicas = shard.nodes.filter((n) => !n.owner && n.healthy);
      const nodes = [shard.owner as ClusterNode, ...replicas].map((n) => slotsNode(n, tls));
      return R.array([R.int(range.start), R.int(range.end), ...nodes]);
    }),
  );
}

/** CLUSTER SHARDS: one entry per group, its ranges as a flat start, end, ... list. */
export function clusterShards(view: ClusterView): Reply {
  const field = (name: string, value: Reply): [Reply, Reply] => [R.bulk(name), value];
  return R.array(
    view.shards().map((shard) => {
      const nodes = shard.nodes.map((n) =>
        R.map([
          field('id', R.bulk(n.nodeId)),
          // Redis 7: `port` is the plain port (left out when it is off), `tls-port` the TLS one.
          ...(n.member.port ? [field('port', R.int(n.member.port))] : []),
          ...(n.member.tlsPort ? [field('tls-port', R.int(n.member.tlsPort))] : []),
          field('ip', R.bulk(n.member.host)),
          field('endpoint', R.bulk(n.member.host)),
          field('role', R.bulk(n.owner ? 'master' : 'replica')),
          field('replication-offset', R.int(n.offset)),
          field('health', R.bulk(n.healthy ? 'online' : 'failed')),
        ]),
      );
      const slots = shard.owner === undefined ? [] : shard.ranges.flatMap((r) => [R.int(r.start), R.int(r.end)]);
      return R.map([field('slots', R.array(slots)), field('nodes', R.array(nodes))]);
    }),
  );
}

interface NodeLine {
  node: ClusterNode;
  /** Shards it owns (master of), and the first one it only replicates. */
  owns: Shard[];
  replicates: Shard | undefined;
}

/** Every node once, in order of first appearance (shards by first slot, each owner first). */
function nodeLines(view: ClusterView): NodeLine[] {
  const byId = new Map<string, NodeLine>();
  for (const shard of view.shards()) {
    for (const n of shard.nodes) {
      let line = byId.get(n.nodeId);
      if (line === undefined) {
        line = { node: n, owns: [], replicates: undefined };
        byId.set(n.nodeId, line);
      }
      if (n.owner) line.owns.push(shard);
      else line.replicates ??= shard;
    }
  }
  return [...byId.values()];
}

const rangeText = (r: SlotRange): string => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`);

/** CLUSTER NODES: `id addr@bus flags master ping pong config-epoch link slots...` per node. */
export function clusterNodes(view: ClusterView, now: number, tls: boolean): string {
  return nodeLines(view)
    .map(({ node: n, owns, replicates }) => {
      const master = owns.length > 0;
      const flags = [n.self ? 'myself' : '', master ? 'master' : 'slave', n.healthy ? '' : 'fail?'].filter(Boolean).join(',');
      const masterId = master ? '-' : (replicates?.owner?.nodeId ?? '-');
      const pong = n.self || !n.healthy ? 0 : now;
      const epoch = master ? Math.max(...owns.map((s) => s.configEpoch)) : (replicates?.configEpoch ?? 0);
      const link = n.healthy ? 'connected' : 'disconnected';
      const ranges = owns.flatMap((s) => s.ranges).sort((a, b) => a.start - b.start);
      const slots = ranges.map((r) => ` ${rangeText(r)}`).join('');
      return `${n.nodeId} ${n.member.host}:${respPort(n.member, tls)}@${n.member.httpPort} ${flags} ${masterId} 0 ${pong} ${epoch} ${link}${slots}\n`;
    })
    .join('');
}

const size = (r: SlotRange): number => r.end - r.start + 1;

/**
 * CLUSTER INFO's Redis fields (without the trailing CRLF of the last line; `extra` lines are
 * appended, e.g. raftkv_cluster_id). The cluster is `ok` when every slot's group has a leader.
 */
export function clusterInfoLines(view: ClusterView): string[] {
  const shards = view.shards();
  let assigned = 0;
  let ok = 0;
  const masters = new Set<string>();
  let myEpoch: number | undefined;
  for (const s of shards) {
    const slots = s.ranges.reduce((n, r) => n + size(r), 0);
    assigned += slots;
    if (s.up) {
      ok += slots;
      if (s.owner !== undefined) masters.add(s.owner.nodeId);
    }
    if (s.owner?.self) myEpoch = Math.max(myEpoch ?? 0, s.configEpoch);
  }
  // A node in no group (still joining) reports the map epoch, as the single group always did.
  myEpoch ??= shards.find((s) => s.nodes.some((n) => n.self))?.configEpoch ?? view.epoch;
  return [
    `cluster_state:${ok === SLOT_COUNT ? 'ok' : 'fail'}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${ok}`,
    'cluster_slots_pfail:0',
    `cluster_slots_fail:${assigned - ok}`,
    `cluster_known_nodes:${nodeLines(view).length}`,
    `cluster_size:${masters.size}`,
    `cluster_current_epoch:${view.epoch}`,
    `cluster_my_epoch:${myEpoch}`,
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
  ];
}
