/**
 * Helpers for a multi-group cluster of real processes (`ClusterHarness` with `shards`, issue 13):
 * the slot map as /v1/shards reports it, a wait until every group has a leader (on the node
 * the map hints, by default: the leader spread duty moves it there), and the per-group
 * replication offsets CLUSTER SHARDS reports, to wait until every replica has caught up.
 * Kept apart from cluster-harness.ts so that file stays about processes; integration tests,
 * chaos and the bench all start sharded clusters through these.
 */
import { Redis } from 'ioredis';
import type { ShardBody, ShardListBody } from '../../src/http/shard-routes.ts';
import type { ClusterHarness, NodeHandle } from './cluster-harness.ts';
import { waitFor } from './cluster-harness.ts';

/** One group, and the whole map, as GET /v1/shards reports them (src/http/shard-routes.ts). */
export type ShardInfo = ShardBody;
export type ShardList = ShardListBody;

/** GET /v1/shards from node `h`, or undefined while it does not answer 200. */
export async function shardList(cluster: ClusterHarness, h: NodeHandle): Promise<ShardList | undefined> {
  try {
    const r = await cluster.fetch(cluster.url(h, '/v1/shards'), { signal: AbortSignal.timeout(3000) });
    return r.ok ? ((await r.json()) as ShardList) : undefined;
  } catch {
    return undefined;
  }
}

/** The data groups of a list (group 0, the metadata group, owns no slot). */
export function dataShards(list: ShardList): ShardInfo[] {
  return list.shards.filter((s) => s.role === 'data');
}

/** The group owning `slot`. */
export function shardOfSlot(list: ShardList, slot: number): ShardInfo {
  const s = list.shards.find((g) => g.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!s) throw new Error(`no group owns slot ${slot} at epoch ${list.epoch}`);
  return s;
}

export interface ShardLeaderOptions {
  timeoutMs?: number;
  /** Also require each leader to be the map's hinted node (default true). */
  hinted?: boolean;
  /** The nodes that must agree (default: every running node). */
  among?: NodeHandle[];
  /** The map epoch they must have reached (after a change: the epoch its answer named). */
  epoch?: number;
}

/**
 * Waits until every node of `among` answers /v1/shards at one epoch and, for every group
 * (group 0 included), every node hosting a replica names the same leader, which is one of
 * `among` (and, with `hinted`, the group's leader hint). Resolves with the agreed list.
 */
export async function waitShardLeaders(cluster: ClusterHarness, opts: ShardLeaderOptions = {}): Promise<ShardList> {
  const among = opts.among ?? cluster.running();
  const hinted = opts.hinted ?? true;
  const ids = new Set(among.map((h) => h.id));
  let agreed: ShardList | undefined;
  let last = '';
  await waitFor(
    async () => {
      const lists = await Promise.all(among.map((h) => shardList(cluster, h)));
      if (lists.some((l) => l === undefined)) return false;
      const all = lists as ShardList[];
      if (new Set(all.map((l) => l.epoch)).size !== 1 || all[0].epoch < (opts.epoch ?? 0)) return false;
      const shards: ShardInfo[] = [];
      for (const g of all[0].shards) {
        const named = all.map((l) => l.shards.find((s) => s.id === g.id)).filter((s) => s?.local);
        const leaders = new Set(named.map((s) => s?.leader));
        const leader = named[0]?.leader;
        last = `group ${g.id}: leaders ${[...leaders].join(',')}, hint ${g.leader_hint}`;
        if (leaders.size !== 1 || !leader || !ids.has(leader)) return false;
        if (hinted && leader !== g.leader_hint) return false;
        // Each node knows the leaders of the groups it hosts; the agreed one goes for all.
        shards.push({ ...g, leader });
      }
      agreed = { epoch: all[0].epoch, draining: all[0].draining, shards };
      return true;
    },
    opts.timeoutMs ?? 30_000,
    `every group to agree on a leader${hinted ? ' on its hinted node' : ''}`,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last seen: ${last})`);
  });
  return agreed!;
}

/** One group's entry in CLUSTER SHARDS: its slots and each replica's port, role and offset. */
export interface RespShard {
  slots: [number, number][];
  nodes: { id: string; port: number; role: string; offset: number; health: string }[];
}

/** CLUSTER SHARDS from the node on `port`, parsed. */
export async function clusterShards(port: number): Promise<RespShard[]> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await c.connect();
    const reply = (await c.call('CLUSTER', 'SHARDS')) as unknown[];
    return reply.map((entry) => {
      const e = pairs(entry as unknown[]);
      const flat = (e.slots as (string | number)[]).map(Number);
      const slots: [number, number][] = [];
      for (let i = 0; i < flat.length; i += 2) slots.push([flat[i], flat[i + 1]]);
      const nodes = (e.nodes as unknown[][]).map((n) => {
        const f = pairs(n);
        return { id: String(f.id), port: Number(f.port), role: String(f.role), offset: Number(f['replication-offset']), health: String(f.health) };
      });
      return { slots, nodes };
    });
  } finally {
    c.disconnect();
  }
}

function pairs(list: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/**
 * Waits until every data group has `replicas` replicas, all online, and every node hosting one
 * reports in its own CLUSTER SHARDS the same applied index for it as the group's leader does:
 * every replica holds every acknowledged write of its group. Call it with writes stopped.
 */
export async function waitShardsCaughtUp(cluster: ClusterHarness, replicas = 3, timeoutMs = 30_000): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const list = await waitShardLeaders(cluster, { hinted: false, timeoutMs: 10_000 });
      const views = new Map<number, RespShard[]>();
      for (const h of cluster.running()) views.set(h.port, await clusterShards(h.port));
      for (const g of dataShards(list)) {
        const own = (port: number) => views.get(port)?.find((s) => s.slots[0]?.[0] === g.slots[0][0]);
        const leader = own(cluster.node(g.leader!).port);
        const applied = leader?.nodes.find((n) => n.role === 'master')?.offset;
        // Each replica's offset as its own node reports it (its applied index).
        const offsets = (leader?.nodes ?? []).map((n) => own(n.port)?.nodes.find((x) => x.port === n.port)?.offset);
        last = `group ${g.id}: leader applied ${applied}, replicas ${JSON.stringify(leader?.nodes.map((n, i) => [n.port, n.health, offsets[i]]))}`;
        if (!leader || applied === undefined || leader.nodes.length !== replicas) return false;
        if (leader.nodes.some((n) => n.health !== 'online') || offsets.some((o) => o !== applied)) return false;
      }
      return true;
    },
    timeoutMs,
    `every group's ${replicas} replicas to catch up`,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last seen: ${last})`);
  });
}
