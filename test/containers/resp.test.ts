/**
 * Redis clients against the containers: an ioredis Cluster client, with a natMap from the
 * nodes' in-network addresses to the host's mapped ports, writes and reads through MOVED
 * redirects, and keeps working, without losing acknowledged writes, when the leader container
 * stops.
 */
import { Cluster, Redis } from 'ioredis';
import { afterEach, beforeEach, expect, inject, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/cluster-harness.ts';
import { ContainerCluster, RESP_PORT } from './cluster.ts';

let cluster: ContainerCluster;
let client: Cluster | undefined;

beforeEach(async () => {
  cluster = await ContainerCluster.start({ image: inject('raftkvImage') });
  onTestFailed(async () => {
    process.stderr.write(`${await cluster.logs()}\n`);
  });
});

afterEach(async () => {
  client?.disconnect();
  client = undefined;
  await cluster?.stop();
});

it('serves an ioredis Cluster client through MOVED, before and after the leader container stops', async () => {
  const leader = await cluster.waitForLeader();
  const follower = cluster.ids.find((id) => id !== leader) as string;
  const entry = cluster.container(follower);
  client = new Cluster([{ host: entry.getHost(), port: entry.getMappedPort(RESP_PORT) }], {
    natMap: cluster.natMap(),
    retryDelayOnClusterDown: 50,
    retryDelayOnFailover: 50,
    maxRedirections: 32,
    clusterRetryStrategy: () => 100,
  });
  const c = client;

  const acked: string[] = [];
  for (let i = 0; i < 50; i++) {
    expect(await c.set(`r${i}`, `v${i}`)).toBe('OK');
    acked.push(`r${i}`);
  }
  expect(await c.incrby('counter', 5)).toBe(5);
  for (const key of acked) expect(await c.get(key)).toBe(`v${key.slice(1)}`);
  // What the Cluster client follows: a follower answers MOVED with the leader's in-network
  // address, which the natMap turns into a host port.
  const plain = new Redis(entry.getMappedPort(RESP_PORT), entry.getHost(), { maxRetriesPerRequest: 0 });
  try {
    await expect(plain.set('r0', 'v0')).rejects.toThrow(new RegExp(`^MOVED \\d+ ${leader}:${RESP_PORT}$`));
  } finally {
    plain.disconnect();
  }

  await cluster.stopNode(leader);
  const stoppedAt = Date.now();
  await waitFor(async () => (await c.set('after-stop', 'yes').catch(() => null)) === 'OK', 10_000, 'a write after the stop', 50);
  process.stderr.write(`resp: ioredis wrote again ${Date.now() - stoppedAt} ms after ${leader}'s container stopped\n`);
  for (const key of acked) expect(await c.get(key)).toBe(`v${key.slice(1)}`);
  expect(await c.incrby('counter', 1)).toBe(6);
});
