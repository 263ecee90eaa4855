/**
 * A sharded cluster in containers (issue 13): three nodes with RAFTKV_SHARDS=3, so three data
 * groups whose leaders sit on three different nodes. An ioredis `Cluster` writes through a
 * `docker stop` of the container leading one group: the other two nodes elect leaders for its
 * groups and writes to every group continue; the node comes back on its volume, catches up in
 * every group (its own replicas serve every acknowledged write under READONLY) and leads its
 * hinted group again. No acknowledged write is lost.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { waitFor } from '../support/cluster-harness.ts';
import type { ShardList } from '../support/shards.ts';
import { ContainerCluster, RESP_PORT } from './cluster.ts';

let cluster: ContainerCluster;
let client: Cluster;
const acked = new Map<string, string>();
/** When each acknowledged write was acknowledged (ms since epoch), by key. */
const ackedAt = new Map<string, number>();

beforeAll(async () => {
  cluster = await ContainerCluster.start({ image: inject('raftkvImage'), shards: 3, volumes: true });
  client = new Cluster([cluster.natMap()[`n1:${RESP_PORT}`]], {
    // A function, so a container started again (on new host ports) is found too.
    natMap: (key) => cluster.natMap()[key] ?? null,
    clusterRetryStrategy: () => 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    retryDelayOnTryAgain: 100,
    redisOptions: { maxRetriesPerRequest: 3, connectTimeout: 1000 },
  });
  client.on('error', () => {});
});

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

async function shards(id: string): Promise<ShardList | undefined> {
  const r = await cluster.http(id, 'GET', '/v1/shards').catch(() => undefined);
  return r?.status === 200 ? (JSON.parse(r.body) as ShardList) : undefined;
}

/** Waits until `among` agree on every group's leader, one of them (on its hint with `hinted`). */
async function agreedLeaders(among: string[], hinted: boolean, timeoutMs = 60_000): Promise<Map<number, string>> {
  const leaders = new Map<number, string>();
  await waitFor(
    async () => {
      const lists = await Promise.all(among.map(shards));
      if (lists.some((l) => l === undefined || l.epoch !== lists[0]?.epoch)) return false;
      leaders.clear();
      for (const g of lists[0]!.shards) {
        const named = new Set(lists.map((l) => l!.shards.find((s) => s.id === g.id)?.leader));
        const [leader] = named;
        if (named.size !== 1 || !leader || !among.includes(leader) || (hinted && leader !== g.leader_hint)) return false;
        leaders.set(g.id, leader);
      }
      return true;
    },
    timeoutMs,
    `${among.join(', ')} to agree on every group's leader${hinted ? ' on its hint' : ''}`,
    200,
  );
  return leaders;
}

/** 4 concurrent writers of distinct keys; only acknowledged writes are recorded. */
function writeLoop(prefix: string): { stop: () => Promise<void> } {
  let running = true;
  let next = 0;
  const worker = async () => {
    while (running) {
      const key = `${prefix}:${next++}`;
      try {
        if ((await client.set(key, `v-${key}`)) === 'OK') {
          acked.set(key, `v-${key}`);
          ackedAt.set(key, Date.now());
        }
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

describe('3 nodes, 3 shards, in containers', () => {
  it('keeps writing to every shard through a docker stop of a node, which comes back and catches up', async () => {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logs()}\n`);
    });
    const leaders = await agreedLeaders(cluster.ids, true);
    const list = (await shards('n1'))!;
    const data = list.shards.filter((s) => s.role === 'data');
    expect(data).toHaveLength(3);
    expect(new Set(data.map((g) => leaders.get(g.id))).size).toBe(3);
    const groupOf = (key: string) => data.find((g) => g.slots.some(([a, b]) => keyHashSlot(key) >= a && keyHashSlot(key) <= b))!.id;

    const w = writeLoop('c');
    await waitFor(() => acked.size >= 300, 60_000, '300 acknowledged writes');
    const victim = leaders.get(data[0].id)!;
    await cluster.stopNode(victim);
    const stoppedAt = Date.now();
    const survivors = cluster.running();
    const during = await agreedLeaders(survivors, false);
    process.stderr.write(`docker stop ${victim}: every group led by ${survivors.join('/')} ${Date.now() - stoppedAt} ms after\n`);
    for (const g of data) expect(during.get(g.id)).not.toBe(victim);
    // Writes to every group, the stopped node's included, are acknowledged while it is down.
    await waitFor(
      () => {
        const after = [...ackedAt].filter(([, t]) => t > stoppedAt).map(([k]) => groupOf(k));
        return data.every((g) => after.filter((id) => id === g.id).length >= 50);
      },
      60_000,
      `50 writes to every group acknowledged while ${victim} is down`,
    );

    await cluster.startAgain(victim);
    await agreedLeaders(cluster.ids, true);
    const backAt = Date.now();
    await waitFor(() => [...ackedAt.values()].filter((t) => t > backAt).length >= 100, 60_000, `writes after ${victim} came back`);
    await w.stop();

    // The node that came back holds every acknowledged write in its own replicas.
    const own = new Redis({ ...cluster.natMap()[`${victim}:${RESP_PORT}`], maxRetriesPerRequest: 1 });
    try {
      await own.readonly();
      const keys = [...acked.keys()];
      let missing: string[] = [];
      await waitFor(
        async () => {
          const values = await Promise.all(keys.map((k) => own.get(k)));
          missing = keys.filter((k, i) => values[i] !== acked.get(k));
          return missing.length === 0;
        },
        30_000,
        `${victim} to catch up`,
        500,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${missing.length} of ${keys.length} missing, e.g. ${missing.slice(0, 3).join(', ')}`);
      });
    } finally {
      own.disconnect();
    }
    // And every acknowledged write reads back through the cluster.
    const keys = [...acked.keys()];
    expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys.map((k) => acked.get(k)));
    process.stderr.write(`${acked.size} writes acknowledged, none lost\n`);
  }, 300_000);
});
