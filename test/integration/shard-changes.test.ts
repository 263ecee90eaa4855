/**
 * Online shard changes over real processes (issue 13; src/node/store/changes.ts): four nodes
 * with `--shards 3`, ioredis `Cluster` writing all along, while `raftkv shard` splits a shard,
 * moves a replica to the node that lacked it and moves a leader. Every acknowledged write must
 * read back afterwards, through the changes and through a restart of every node; the changes are
 * recorded in the slot map (/v1/shards, CLUSTER SHARDS) and a replica moved away is gone from its
 * old node. Refused changes exit 1 with the map's reason and change nothing.
 */
import { execFileSync } from 'node:child_process';
import { Cluster } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { runRaftkv } from '../support/raftkv-cli.ts';
import { type ShardList, shardList } from '../support/shards.ts';

let harness: ClusterHarness | undefined;
let client: Cluster | undefined;
afterEach(async () => {
  client?.disconnect();
  client = undefined;
  await harness?.stop();
  harness = undefined;
});

/** GET /v1/shards from `h`, which must answer. */
async function shards(c: ClusterHarness, h: NodeHandle): Promise<ShardList> {
  const list = await shardList(c, h);
  if (!list) throw new Error(`${h.id} did not answer GET /v1/shards`);
  return list;
}

/** Every data group led by the node the map hints, as the nodes hosting it report. */
async function settled(c: ClusterHarness): Promise<boolean> {
  const views = await Promise.all(c.nodes.map((h) => shards(c, h)));
  const epoch = views[0].epoch;
  if (views.some((v) => v.epoch !== epoch)) return false;
  return views[0].shards.every((s) => views.some((v) => v.shards.find((x) => x.id === s.id && x.local && x.leader !== null && x.leader === s.leader_hint)));
}

const shardCli = (c: ClusterHarness, ...args: string[]) =>
  runRaftkv(['shard', ...args, '--endpoints', c.nodes.map((h) => c.url(h, '')).join(','), '--timeout-ms', '60000']);

describe('online shard changes (issue 13)', () => {
  it('split, move-replica and transfer-leader under writes lose no acknowledged write, and survive a restart of every node', async () => {
    // The operator's changes alone: the rebalancer (its own test) would move replicas meanwhile.
    harness = new ClusterHarness({ nodes: 4, extraArgs: ['--shards', '3', '--rebalance', 'no'] });
    const c = harness;
    await c.start();
    await waitFor(() => settled(c), 30_000, 'every shard led by its hinted node');
    const before = await shards(c, c.nodes[0]);
    expect(before.shards.map((s) => s.id)).toEqual([0, 1, 2, 3]);

    client = new Cluster(
      c.nodes.map((h) => ({ host: '127.0.0.1', port: h.port })),
      { retryDelayOnTryAgain: 50, retryDelayOnMoved: 20, retryDelayOnClusterDown: 100, redisOptions: { maxRetriesPerRequest: 50 } },
    );
    const acked = new Map<string, string>();
    let writing = true;
    let failures = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const key = `key:${i % 3000}`;
        const value = `v${i}`;
        try {
          await client!.set(key, value);
          acked.set(key, value);
        } catch {
          // Unknown outcome: the key is not checked any more.
          acked.delete(key);
          failures++;
        }
      }
    })();
    await waitFor(() => acked.size > 500, 30_000, 'writes flowing');

    // A split: shard 1 (slots 0-5460) gives 2730-5460 to a new shard on the same replicas.
    const split = await shardCli(c, 'split', '1', '2730');
    expect(split.stderr).toBe('');
    expect(split.code).toBe(0);
    expect(split.stdout).toMatch(/split shard 1: slots 2730-5460 are shard 4 now/);

    // A replica move to the one node that lacks shard 2.
    const map = await shards(c, c.nodes[0]);
    const g2 = map.shards.find((s) => s.id === 2)!;
    const to = c.nodes.map((h) => h.id).find((id) => !g2.voters.includes(id))!;
    const from = g2.voters.find((id) => id !== g2.leader_hint)!;
    const move = await shardCli(c, 'move-replica', '2', from, to);
    expect(move.stderr).toBe('');
    expect(move.code).toBe(0);

    // A leader move of shard 3 to another of its voters.
    const g3 = map.shards.find((s) => s.id === 3)!;
    const newLeader = g3.voters.find((id) => id !== g3.leader_hint)!;
    const transfer = await shardCli(c, 'transfer-leader', '3', newLeader);
    expect(transfer.code).toBe(0);

    // Refusals name the reason and change nothing.
    const epoch = (await shards(c, c.nodes[0])).epoch;
    const badSplit = await shardCli(c, 'split', '1', '0');
    expect(badSplit.code).toBe(1);
    expect(badSplit.stderr).toMatch(/slot/);
    const badMove = await shardCli(c, 'move-replica', '1', 'n9', to);
    expect(badMove.code).toBe(1);
    expect(badMove.stderr).toMatch(/n9 is not a voter of group 1/);

    await waitFor(() => settled(c), 30_000, 'every shard led by its hinted node after the changes');
    writing = false;
    await writer;
    const after = await shards(c, c.nodes[0]);
    expect(after.epoch).toBe(epoch);
    expect(after.shards.find((s) => s.id === 4)?.slots).toEqual([[2730, 5460]]);
    expect(after.shards.find((s) => s.id === 1)?.slots).toEqual([[0, 2729]]);
    const moved = after.shards.find((s) => s.id === 2)!;
    expect(moved.voters).toContain(to);
    expect(moved.voters).not.toContain(from);
    expect(after.shards.find((s) => s.id === 3)?.leader_hint).toBe(newLeader);
    // The old replica is gone from its node (retired and dropped).
    await waitFor(async () => !(await shards(c, c.node(from))).shards.find((s) => s.id === 2)?.local, 20_000, `${from} no longer hosting shard 2`);
    const clusterShards = execFileSync('redis-cli', ['-p', String(c.nodes[0].port), 'CLUSTER', 'SHARDS'], { encoding: 'utf8' });
    expect(clusterShards).toContain('2730\n5460');

    const check = async () => {
      let wrong = 0;
      for (const [key, value] of acked) if ((await client!.get(key)) !== value) wrong++;
      return wrong;
    };
    expect(acked.size).toBeGreaterThan(1000);
    expect(await check()).toBe(0);
    // Every node restarts from its one LevelDB, with the groups the changes left it.
    for (const h of c.nodes) {
      await c.signal(h, 'SIGTERM');
      await c.restart(h);
    }
    await waitFor(() => settled(c), 30_000, 'every shard led by its hinted node after the restarts');
    expect((await shards(c, c.nodes[0])).shards.map((s) => s.id)).toEqual([0, 1, 2, 3, 4]);
    expect(await check()).toBe(0);
    // ioredis follows MOVED and retries TRYAGAIN: through every change, no write failed.
    expect(failures).toBe(0);
  }, 240_000);
});
