/**
 * Restart of a node hosting many groups (issue 13): three real processes with `--shards 9`, so
 * each node holds a replica of all nine data groups and of the metadata group, and leads three
 * of them. An ioredis `Cluster` keeps writing while one node is killed with SIGKILL, then
 * restarted from its data directory, and again through a clean SIGTERM restart (started the
 * second time with `--shards 1`: a data directory holding the slot map opens sharded). Every
 * acknowledged write must read back afterwards, the surviving nodes must keep acknowledging
 * writes while it is down, and once it is back every group has its three replicas caught up and
 * its leader on the node the map hints.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { dataShards, type ShardList, waitShardLeaders, waitShardsCaughtUp } from '../support/shards.ts';

const cluster = new ClusterHarness({ nodes: 3, shards: 9 });
let list: ShardList;
let client: Cluster;
/** Acknowledged writes: key -> value. */
const acked = new Map<string, string>();

beforeAll(async () => {
  await cluster.start();
  list = await waitShardLeaders(cluster, { timeoutMs: 60_000 });
  client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }], {
    // A killed node's connection fails until its groups elect new leaders elsewhere: refresh
    // the slot map and retry, as an application would configure it.
    clusterRetryStrategy: () => 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    retryDelayOnTryAgain: 100,
    redisOptions: { maxRetriesPerRequest: 3, connectTimeout: 1000 },
  });
  client.on('error', () => {});
}, 120_000);

afterAll(async () => {
  client?.disconnect();
  await cluster.stop();
});

/**
 * Writes distinct keys with 8 concurrent writers until `stop` is called; returns how many were
 * acknowledged and how many failed. A failed write is not acknowledged and so not checked: it
 * may or may not have been applied.
 */
function writeLoop(prefix: string): { stop: () => Promise<{ ok: number; failed: number }>; ok: () => number } {
  let running = true;
  let ok = 0;
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (running) {
      const key = `${prefix}:${next++}`;
      const value = `v-${key}`;
      try {
        if ((await client.set(key, value)) === 'OK') {
          acked.set(key, value);
          ok++;
        }
      } catch {
        failed++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  return {
    ok: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return { ok, failed };
    },
  };
}

/** Every acknowledged write reads back, through a fresh ioredis Cluster. */
async function expectAllAcked(): Promise<void> {
  const c = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[1].port }]);
  try {
    const keys = [...acked.keys()];
    const values: (string | null)[] = [];
    for (let i = 0; i < keys.length; i += 500) values.push(...(await Promise.all(keys.slice(i, i + 500).map((k) => c.get(k)))));
    const lost = keys.filter((k, i) => values[i] !== acked.get(k));
    expect(lost, `${lost.length} of ${keys.length} acknowledged writes lost`).toEqual([]);
  } finally {
    c.disconnect();
  }
}

/** Groups node `h` led before, per /v1/shards. */
const ledBy = (h: NodeHandle) => dataShards(list).filter((g) => g.leader === h.id);

/** `restartArgs`: flags for the restarted node after the harness's own (the last of a repeated flag wins). */
async function downAndBack(victim: NodeHandle, how: 'SIGKILL' | 'SIGTERM', prefix: string, restartArgs: string[] = []): Promise<void> {
  expect(ledBy(victim).length, `${victim.id} leads data groups`).toBeGreaterThanOrEqual(3);
  const w = writeLoop(prefix);
  await waitFor(() => w.ok() >= 200, 30_000, '200 writes before the stop');
  await cluster.signal(victim, how);
  expect(victim.exitCode, `${victim.id} exit code after ${how}`).toBe(how === 'SIGTERM' ? 0 : null);
  // The other two nodes elect new leaders for the victim's groups and go on acknowledging
  // writes to every group while it is down.
  const before = w.ok();
  const others = cluster.running();
  const during = await waitShardLeaders(cluster, { hinted: false, among: others, timeoutMs: 30_000 });
  for (const g of dataShards(during)) expect(g.leader).not.toBe(victim.id);
  await waitFor(() => w.ok() >= before + 500, 30_000, `500 more writes acknowledged while ${victim.id} is down`);
  cluster.spawn(victim, { args: restartArgs });
  await cluster.waitHttp(victim);
  await waitFor(() => w.ok() >= before + 1000, 30_000, `writes acknowledged after ${victim.id} came back`);
  const { ok, failed } = await w.stop();
  expect(ok).toBeGreaterThan(1000);
  // Back: every group has three replicas at one applied index, and leaders return to the hints.
  await waitShardsCaughtUp(cluster, 3, 60_000);
  list = await waitShardLeaders(cluster, { timeoutMs: 60_000 });
  expect(new Set(dataShards(list).map((g) => g.leader)).size).toBe(3);
  await expectAllAcked();
  // For the record in the test output: how many writes the stop cost.
  console.log(`${how} of ${victim.id}: ${ok} writes acknowledged, ${failed} failed, ${acked.size} acknowledged in all`);
}

describe('a node hosting 10 groups (9 data + metadata)', () => {
  it('hosts a replica of every group on every node, leaders spread 3 per node', () => {
    expect(dataShards(list)).toHaveLength(9);
    for (const h of cluster.nodes) expect(ledBy(h), `groups led by ${h.id}`).toHaveLength(3);
  });

  it('kill -9 of a node: writes continue on the others; it restarts and catches up; no acknowledged write lost', async () => {
    await downAndBack(cluster.node('n2'), 'SIGKILL', 'kill');
  }, 180_000);

  it('SIGTERM restart of a node, started again with --shards 1: the same; the data directory decides', async () => {
    await downAndBack(cluster.node('n3'), 'SIGTERM', 'term', ['--shards', '1']);
    // The restarted process (its last start line) opened all ten groups.
    const started = readFileSync(cluster.node('n3').logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"msg":"node started"'));
    expect(started).toHaveLength(2);
    expect(JSON.parse(started[1]).groups).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 180_000);

  it('the whole cluster stopped with SIGTERM and started again: every group comes back with its data', async () => {
    await Promise.all(cluster.nodes.map((h) => cluster.signal(h, 'SIGTERM')));
    expect(cluster.nodes.map((h) => h.exitCode)).toEqual([0, 0, 0]);
    for (const h of cluster.nodes) cluster.spawn(h);
    await Promise.all(cluster.nodes.map((h) => cluster.waitHttp(h)));
    list = await waitShardLeaders(cluster, { timeoutMs: 60_000 });
    expect(new Set(dataShards(list).map((g) => g.leader)).size).toBe(3);
    await waitShardsCaughtUp(cluster, 3, 60_000);
    await expectAllAcked();
    // And it takes writes again, in every group.
    const w = writeLoop('again');
    await waitFor(() => w.ok() >= 300, 30_000, '300 writes after the restart');
    await w.stop();
    await expectAllAcked();
  }, 180_000);

  it("CONFIG SET requirepass is the cluster's: group 0 holds it, every node asks for it, also after every node restarts", async () => {
    const metadataLeader = cluster.node(list.shards.find((g) => g.id === 0)!.leader!);
    const other = cluster.nodes.find((h) => h !== metadataLeader)!;
    // Elsewhere it answers MOVED to group 0's leader, naming a slot that node serves.
    const elsewhere = new Redis({ host: '127.0.0.1', port: other.port, maxRetriesPerRequest: 0 });
    const moved = await elsewhere.config('SET', 'requirepass', 'pw-0').catch((e: Error) => e.message);
    elsewhere.disconnect();
    expect(moved).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${metadataLeader.port}$`));
    const slot = Number(String(moved).split(' ')[1]);
    expect(dataShards(list).find((g) => g.slots.some(([a, b]) => slot >= a && slot <= b))?.leader).toBe(metadataLeader.id);

    const admin = new Redis({ host: '127.0.0.1', port: metadataLeader.port, maxRetriesPerRequest: 0 });
    expect(await admin.config('SET', 'requirepass', 'pw-sharded')).toBe('OK');
    admin.disconnect();
    cluster.httpToken = 'pw-sharded';
    const asks = async (h: NodeHandle) => {
      const r = new Redis({ host: '127.0.0.1', port: h.port, maxRetriesPerRequest: 0, lazyConnect: true, enableReadyCheck: false });
      r.on('error', () => {});
      try {
        await r.connect();
        const refused = await r.get('k').catch((e: Error) => e.message);
        const authed = await r.auth('pw-sharded');
        return [String(refused).split(' ')[0], authed];
      } finally {
        r.disconnect();
      }
    };
    for (const h of cluster.nodes) await waitFor(async () => (await asks(h))[0] === 'NOAUTH', 5000, `${h.id} to ask for the password`);

    await Promise.all(cluster.nodes.map((h) => cluster.signal(h, 'SIGTERM')));
    for (const h of cluster.nodes) cluster.spawn(h);
    await Promise.all(cluster.nodes.map((h) => cluster.waitHttp(h)));
    list = await waitShardLeaders(cluster, { timeoutMs: 60_000 });
    // From the first request after the restart, on every node: no moment under the flags.
    for (const h of cluster.nodes) expect(await asks(h)).toEqual(['NOAUTH', 'OK']);
  }, 180_000);
});
