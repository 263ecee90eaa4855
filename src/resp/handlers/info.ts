/**
 * INFO, in Redis's `# Section` / `field:value` format, with the sections that mean something
 * here: server, clients, memory, stats, replication (the leader is the master, followers are
 * replicas), cluster, keyspace, and a `raft` section with the consensus state.
 *
 * used_memory is the state machine's accounted memory (keys + values + per-item overhead, the
 * number maxmemory is compared against); used_memory_rss is the process's resident size.
 */
import os from 'node:os';
import type { Counter } from 'prom-client';
import { BUILD_INFO } from '../../node/build-info.ts';
import { R } from '../reply.ts';
import { blockedClientsOf } from './blocking.ts';
import { REDIS_VERSION } from './connection.ts';
import type { LocalHandler, NodeContext } from './context.ts';
import { groupView } from './topology.ts';

type Lines = (string | [string, string | number])[];

const SECTIONS = ['server', 'clients', 'memory', 'stats', 'replication', 'cluster', 'keyspace', 'raft'] as const;
type Section = (typeof SECTIONS)[number];

/** Redis's bytesToHuman. */
function human(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n}B` : `${v.toFixed(2)}${units[i]}`;
}

async function total(counter: Counter): Promise<number> {
  const m = await counter.get();
  return m.values.reduce((n, v) => n + v.value, 0);
}

function server(ctx: NodeContext): Lines {
  const cfg = ctx.node.cfg;
  const uptime = Math.floor((Date.now() - ctx.startedAt) / 1000);
  return [
    ['redis_version', REDIS_VERSION],
    ['redis_mode', 'cluster'],
    ['os', `${os.type()} ${os.release()} ${os.arch()}`],
    ['arch_bits', 64],
    ['process_id', process.pid],
    ['run_id', ctx.runId],
    ['tcp_port', ctx.server?.address().port ?? cfg.port],
    ['server_time_usec', Math.floor((performance.timeOrigin + performance.now()) * 1000)],
    ['uptime_in_seconds', uptime],
    ['uptime_in_days', Math.floor(uptime / 86400)],
    ['executable', process.argv[1] ?? ''],
    ['raftkv_node_id', cfg.id],
    ['raftkv_cluster_id', ctx.node.clusterId ?? ''],
    ['raftkv_version', BUILD_INFO.version],
    ['raftkv_node_version', BUILD_INFO.nodeVersion],
  ];
}

/**
 * Redis 7.0's clients section, plus mem_clients_normal (Redis keeps it under memory, where it
 * is too): every client's tot-mem, summed now.
 */
function clients(ctx: NodeContext): Lines {
  const cron = ctx.server?.cron;
  cron?.sample();
  return [
    ['connected_clients', ctx.server?.clientCount ?? 0],
    ['cluster_connections', 0],
    ['maxclients', ctx.node.cfg.maxclients],
    ['client_recent_max_input_buffer', cron?.recentMaxInput ?? 0],
    ['client_recent_max_output_buffer', cron?.recentMaxOutput ?? 0],
    ['blocked_clients', blockedClientsOf(ctx.node)?.size ?? 0],
    ['mem_clients_normal', cron?.totalMemory ?? 0],
  ];
}

function memory(ctx: NodeContext): Lines {
  const used = ctx.node.kv.usedMemory();
  const rss = process.memoryUsage.rss();
  const max = ctx.node.cfg.maxmemory;
  return [
    ['used_memory', used],
    ['used_memory_human', human(used)],
    ['used_memory_rss', rss],
    ['used_memory_rss_human', human(rss)],
    ['total_system_memory', os.totalmem()],
    ['total_system_memory_human', human(os.totalmem())],
    ['maxmemory', max],
    ['maxmemory_human', human(max)],
    ['maxmemory_policy', ctx.node.cfg.maxmemoryPolicy],
    ['mem_clients_normal', ctx.server?.cron.totalMemory ?? 0],
    ['maxmemory_clients', ctx.node.cfg.maxmemoryClients],
  ];
}

async function stats(ctx: NodeContext): Promise<Lines> {
  const s = ctx.server?.stats;
  const m = ctx.node.metrics;
  return [
    ['total_connections_received', s?.totalConnectionsReceived ?? 0],
    ['total_commands_processed', s?.totalCommandsProcessed ?? 0],
    ['total_net_input_bytes', s?.totalNetInputBytes ?? 0],
    ['total_net_output_bytes', s?.totalNetOutputBytes ?? 0],
    ['rejected_connections', s?.rejectedConnections ?? 0],
    ['evicted_clients', ctx.server?.cron.evictedClients ?? 0],
    ['expired_keys', await total(m.expirations)],
    ['evicted_keys', await total(m.evictions)],
    ['keyspace_hits', m.hits.value],
    ['keyspace_misses', m.misses.value],
    ['pubsub_channels', ctx.subscriptions.channelCount],
    ['pubsub_patterns', ctx.subscriptions.patternCount],
    ['pubsubshard_channels', ctx.subscriptions.shardChannelCount],
  ];
}

/** The leader reports connected followers as replicas; a follower reports the leader as its master. */
function replication(ctx: NodeContext): Lines {
  const node = ctx.node;
  const view = groupView(node);
  const offset = node.appliedIndex;
  if (node.isLeader()) {
    const replicas = view.nodes.filter((n) => !n.self && n.healthy);
    return [
      ['role', 'master'],
      ['connected_slaves', replicas.length],
      ...replicas.map((n, i): [string, string] => [`slave${i}`, `ip=${n.member.host},port=${n.member.port},state=online,offset=${n.offset},lag=0`]),
      ['master_repl_offset', offset],
    ];
  }
  // During an election a Redis replica still names its failed master, with the link down.
  const master = view.owner;
  return [
    ['role', 'slave'],
    ['master_host', master?.member.host ?? ''],
    ['master_port', master?.member.port ?? 0],
    ['master_link_status', view.leader?.healthy ? 'up' : 'down'],
    ['master_sync_in_progress', 0],
    ['slave_repl_offset', offset],
    ['slave_read_only', 1],
    ['connected_slaves', 0],
    ['master_repl_offset', offset],
  ];
}

function raft(ctx: NodeContext): Lines {
  const node = ctx.node;
  const st = node.status();
  const leader = node.leader();
  const members = groupView(node).nodes.map((n) => `${n.member.id}@${n.member.host}:${n.member.port}`);
  return [
    ['raft_node_id', st.id],
    ['raft_cluster_id', node.clusterId ?? ''],
    ['raft_role', st.role],
    // member, removed (removal.ts) or joining (started with --join, not yet in a configuration)
    ['raft_member_state', node.removal.removed ? 'removed' : st.voters.includes(st.id) || st.learners.includes(st.id) ? 'member' : 'joining'],
    ['raft_term', st.term],
    ['raft_leader', leader?.id ?? ''],
    ['raft_leader_addr', leader ? `${leader.host}:${leader.port}` : ''],
    ['raft_commit_index', st.commit],
    ['raft_applied_index', st.applied],
    ['raft_last_index', st.lastIndex],
    ['raft_snapshot_index', st.snapshotIndex],
    ['raft_voters', st.voters.join(',')],
    ['raft_learners', st.learners.join(',')],
    ['raft_members', members.join(',')],
  ];
}

async function section(ctx: NodeContext, s: Section): Promise<Lines> {
  switch (s) {
    case 'server':
      return server(ctx);
    case 'clients':
      return clients(ctx);
    case 'memory':
      return memory(ctx);
    case 'stats':
      return stats(ctx);
    case 'replication':
      return replication(ctx);
    case 'cluster':
      return [['cluster_enabled', 1]];
    case 'keyspace': {
      const keys = ctx.node.kv.dbsize(ctx.node.now());
      // Redis 7.0's line; avg_ttl is not tracked and reported as 0.
      return keys > 0 ? [`db0:keys=${keys},expires=${ctx.node.kv.volatileCount},avg_ttl=0`] : [];
    }
    case 'raft':
      return raft(ctx);
  }
}

const TITLES: Record<Section, string> = {
  server: 'Server',
  clients: 'Clients',
  memory: 'Memory',
  stats: 'Stats',
  replication: 'Replication',
  cluster: 'Cluster',
  keyspace: 'Keyspace',
  raft: 'Raft',
};

/** INFO [section ...]: "default", "all" and "everything" name every section; unknown names none. */
export const info: LocalHandler = async (ctx, _conn, argv) => {
  const asked = argv.slice(1).map((a) => a.toString('latin1').toLowerCase());
  const all = asked.length === 0 || asked.some((a) => a === 'default' || a === 'all' || a === 'everything');
  const chosen = SECTIONS.filter((s) => all || asked.includes(s));
  const parts: string[] = [];
  for (const s of chosen) {
    const lines = await section(ctx, s);
    parts.push(`# ${TITLES[s]}\r\n${lines.map((l) => (typeof l === 'string' ? `${l}\r\n` : `${l[0]}:${l[1]}\r\n`)).join('')}`);
  }
  return R.verbatim(parts.join('\r\n'));
};
