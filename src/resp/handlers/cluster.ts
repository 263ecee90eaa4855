/**
 * CLUSTER SLOTS/SHARDS/NODES/INFO/MYID/KEYSLOT and READONLY/READWRITE, shaped exactly like a
 * Redis 7.0 cluster's replies, so ioredis `Cluster` and node-redis `createCluster` discover
 * the leader as the master of slots 0-16383 and the followers as its replicas.
 *
 * While no leader is known the cluster is down: CLUSTER INFO says `cluster_state:fail`, and the
 * slots stay with the last leader, flagged `fail?` in NODES and `failed` in SHARDS when this node
 * cannot reach it (Redis keeps a failed master as the owner until a replica is promoted), so a
 * client that refreshes its map mid-election still has a node to fail on and retry. Replicas
 * this node cannot reach are left out of CLUSTER SLOTS (Redis leaves out failed replicas too).
 */
import { respPort } from '../../node/members.ts';
import type { RaftNode } from '../../node/raft-node.ts';
import { R, type Reply } from '../reply.ts';
import { keyHashSlot, SLOT_COUNT } from '../slot.ts';
import { type CommandImpl, local } from './context.ts';
import { type ClusterNode, clusterNodeId, clusterView } from './topology.ts';

const LAST_SLOT = SLOT_COUNT - 1;

// `tls`: the asking client is on a TLS connection; SLOTS and NODES then name TLS ports, as
// Redis does with tls-cluster (CLUSTER NODES's bus port after the @ stays the HTTP port).

function slotsNode(n: ClusterNode, tls: boolean): Reply {
  return R.array([R.bulk(n.member.host), R.int(respPort(n.member, tls)), R.bulk(n.nodeId), R.map([])]);
}

function slots(node: RaftNode, tls: boolean): Reply {
  const view = clusterView(node);
  if (view.owner === undefined) return R.EMPTY_ARRAY;
  const replicas = view.nodes.filter((n) => !n.owner && n.healthy);
  const entries = [view.owner, ...replicas].map((n) => slotsNode(n, tls));
  return R.array([R.array([R.int(0), R.int(LAST_SLOT), ...entries])]);
}

function shards(node: RaftNode): Reply {
  const view = clusterView(node);
  const field = (name: string, value: Reply): [Reply, Reply] => [R.bulk(name), value];
  const nodes = view.nodes.map((n) =>
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
  const owned = view.owner === undefined ? [] : [R.int(0), R.int(LAST_SLOT)];
  return R.array([R.map([field('slots', R.array(owned)), field('nodes', R.array(nodes))])]);
}

/** One CLUSTER NODES line: id addr@bus flags master ping pong epoch link slots. */
function nodesLine(n: ClusterNode, owner: ClusterNode | undefined, term: number, now: number, tls: boolean): string {
  const flags = [n.self ? 'myself' : '', n.owner ? 'master' : 'slave', n.healthy ? '' : 'fail?'].filter(Boolean).join(',');
  const master = n.owner || owner === undefined ? '-' : owner.nodeId;
  const pong = n.self || !n.healthy ? 0 : now;
  const link = n.healthy ? 'connected' : 'disconnected';
  const owned = n.owner ? ` 0-${LAST_SLOT}` : '';
  return `${n.nodeId} ${n.member.host}:${respPort(n.member, tls)}@${n.member.httpPort} ${flags} ${master} 0 ${pong} ${term} ${link}${owned}\n`;
}

function info(node: RaftNode): string {
  const view = clusterView(node);
  const up = view.leader !== undefined;
  const term = node.status().term;
  const lines = [
    `cluster_state:${up ? 'ok' : 'fail'}`,
    `cluster_slots_assigned:${SLOT_COUNT}`,
    `cluster_slots_ok:${up ? SLOT_COUNT : 0}`,
    'cluster_slots_pfail:0',
    `cluster_slots_fail:${up ? 0 : SLOT_COUNT}`,
    `cluster_known_nodes:${view.nodes.length}`,
    `cluster_size:${up ? 1 : 0}`,
    `cluster_current_epoch:${term}`,
    `cluster_my_epoch:${term}`,
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
    // Not a Redis field: the RaftKV cluster this node's data belongs to (node/cluster-id.ts).
    `raftkv_cluster_id:${node.clusterId ?? ''}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}

export const CLUSTER_COMMANDS = {
  'cluster|slots': local((ctx, conn) => slots(ctx.node, conn.tls)),
  'cluster|shards': local((ctx) => shards(ctx.node)),
  'cluster|nodes': local((ctx, conn) => {
    const view = clusterView(ctx.node);
    const term = ctx.node.status().term;
    const now = Date.now();
    return R.verbatim(view.nodes.map((n) => nodesLine(n, view.owner, term, now, conn.tls)).join(''));
  }),
  'cluster|info': local((ctx) => R.verbatim(info(ctx.node))),
  'cluster|myid': local((ctx) => R.bulk(clusterNodeId(ctx.node.id))),
  'cluster|keyslot': local((_ctx, _conn, argv) => R.int(keyHashSlot(argv[2]))),
  readonly: local((_ctx, conn) => {
    conn.readonly = true;
    return R.OK;
  }),
  readwrite: local((_ctx, conn) => {
    conn.readonly = false;
    return R.OK;
  }),
} as const satisfies Record<string, CommandImpl>;
