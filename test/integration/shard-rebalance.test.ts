/**
 * The rebalancer over real processes (issue 13; src/node/store/rebalancer.ts): a node that joins
 * a sharded cluster (`--join`, then `raftkv member add`) is given replicas until the nodes hold
 * replicas to within one of each other, each step logged with the planner's reason; a node
 * drained with `raftkv member drain` is emptied of replicas and leaders and can then be removed.
 * Keys written before stay readable throughout.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
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

/** Data-group replicas each node holds in the map. */
function holdings(list: ShardList, nodes: string[]): Map<string, number> {
  const out = new Map(nodes.map((n) => [n, 0]));
  for (const s of list.shards) if (s.id !== 0) for (const n of [...s.voters, ...s.learners]) out.set(n, (out.get(n) ?? 0) + 1);
  return out;
}

describe('the rebalancer (issue 13)', () => {
  it('gives a joining node its share of replicas, and empties a drained one', async () => {
    harness = new ClusterHarness({ extraArgs: ['--shards', '3'] });
    const c = harness;
    await c.start();
    await waitFor(async () => (await shards(c, c.nodes[0])).shards?.length === 4, 20_000, 'the slot map');
    client = new Cluster(
      c.nodes.map((h) => ({ host: '127.0.0.1', port: h.port })),
      { retryDelayOnTryAgain: 50, retryDelayOnMoved: 20, retryDelayOnClusterDown: 100, redisOptions: { maxRetriesPerRequest: 50 } },
    );
    for (let i = 0; i < 500; i++) await client.set(`k${i}`, `v${i}`);

    const [n4] = await c.addNodes(1);
    c.spawn(n4, { join: true });
    await c.waitHttp(n4);
    const endpoints = [
      '--endpoints',
      c.nodes
        .slice(0, 3)
        .map((h) => c.url(h, ''))
        .join(','),
    ];
    const add = await runRaftkv(['member', 'add', `n4=127.0.0.1:${n4.port}:${n4.httpPort}`, ...endpoints]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);

    // 3 groups x 3 replicas over 4 nodes: 2 or 3 each once balanced, so n4 gets at least 2.
    const ids = ['n1', 'n2', 'n3', 'n4'];
    await waitFor(
      async () => {
        const h = holdings(await shards(c, c.nodes[0]), ids);
        return Math.min(...h.values()) >= 2 && Math.max(...h.values()) - Math.min(...h.values()) <= 1;
      },
      120_000,
      'replicas spread over 4 nodes',
      500,
    );
    const log = c.nodes
      .slice(0, 3)
      .map((h) => readFileSync(h.logFile, 'utf8'))
      .join('\n');
    expect(log).toMatch(/rebalance: node n4 joined/);
    // n4 serves what it holds: its replicas caught up, so a READONLY read there sees the data.
    for (let i = 0; i < 500; i++) expect(await client.get(`k${i}`)).toBe(`v${i}`);

    // n4 holds replicas: removing it before a drain is refused, naming them.
    const early = await runRaftkv(['member', 'remove', 'n4', ...endpoints]);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toMatch(/member n4 holds replicas of shards? [0-9, ]+: drain it first/);
    const drain = await runRaftkv(['member', 'drain', 'n4', ...endpoints]);
    expect(drain.code).toBe(0);
    expect(drain.stdout).toMatch(/member n4 is draining/);
    await waitFor(
      async () => {
        const list = await shards(c, c.nodes[0]);
        return list.draining.includes('n4') && holdings(list, ids).get('n4') === 0 && list.shards.every((s) => s.leader_hint !== 'n4');
      },
      120_000,
      'n4 emptied',
      500,
    );
    // PUBLISH is cluster-wide (Redis 7): it goes through group 0, which n4 still hosts, so a
    // subscriber on n4, which now holds no data group, hears it.
    const sub = new Redis({ host: '127.0.0.1', port: n4.port });
    try {
      const heard: string[] = [];
      sub.on('message', (_channel: string, message: string) => heard.push(message));
      await sub.subscribe('news');
      await client.publish('news', 'to every node');
      await waitFor(() => heard.includes('to every node'), 10_000, 'the subscriber on n4 hears PUBLISH');
    } finally {
      sub.disconnect();
    }
    const again = await runRaftkv(['member', 'drain', 'n4', ...endpoints]);
    expect(again.stdout).toMatch(/holds no shard replica: it can be removed/);
    const removed = await runRaftkv(['member', 'remove', 'n4', ...endpoints]);
    expect(removed.stderr).toBe('');
    expect(removed.code).toBe(0);
    for (let i = 0; i < 500; i++) expect(await client.get(`k${i}`)).toBe(`v${i}`);
  }, 300_000);
});
