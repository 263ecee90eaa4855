/**
 * Cluster clients across a `kill -9` of the leader: ioredis `Cluster` and node-redis
 * `createCluster` keep writing while the leader dies, find the new leader by themselves, and
 * every SET they saw acknowledged is readable afterwards with its value (writes that failed
 * may or may not have happened). Then, with one node of three left, the survivor answers
 * CLUSTERDOWN instead of serving anything from its own state.
 */
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { RawConn } from './support/resp-bytes.ts';

const cluster = new ClusterHarness({ nodes: 3 });

beforeAll(async () => {
  await cluster.start();
  await cluster.waitLeader();
}, 60_000);

afterAll(() => cluster.stop());

interface Outcome {
  acked: Map<string, string>;
  ackedAfterKill: number;
  failed: number;
}

/**
 * Runs `writers` loops of SETs with unique keys; kills the leader once `before` writes were
 * acknowledged, and stops once `after` more were acknowledged after the kill.
 */
async function writeAcrossLeaderKill(
  prefix: string,
  set: (key: string, value: string) => Promise<unknown>,
  { writers = 6, before = 150, after = 150 } = {},
): Promise<Outcome & { killed: NodeHandle }> {
  const leader = await cluster.waitLeader();
  const acked = new Map<string, string>();
  let killedAt = 0;
  let ackedAfterKill = 0;
  let failed = 0;
  let stop = false;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const key = `${prefix}:${w}:${i}`;
      const value = `v${w}.${i}`;
      try {
        const r = await set(key, value);
        if (r !== 'OK') throw new Error(`unexpected reply ${String(r)}`);
        acked.set(key, value);
        if (killedAt > 0) ackedAfterKill++;
      } catch {
        failed++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  await waitFor(() => acked.size >= before, 20_000, `${before} acknowledged writes`);
  await cluster.kill9(leader);
  killedAt = Date.now();
  await waitFor(() => ackedAfterKill >= after, 30_000, `${after} writes acknowledged after the kill`);
  stop = true;
  await Promise.all(loops);
  console.info(`${prefix}: ${acked.size} acknowledged (${ackedAfterKill} after the kill), ${failed} failed`);
  return { acked, ackedAfterKill, failed, killed: leader };
}

/** Reads every acknowledged key back from the current leader (linearizable reads). */
async function expectAllReadable(acked: Map<string, string>): Promise<void> {
  const leader = await cluster.waitLeader();
  const r = new Redis({ port: leader.port, host: '127.0.0.1' });
  try {
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await r.mget(...chunk);
      const lost = chunk.filter((k, j) => values[j] !== acked.get(k));
      expect(lost).toEqual([]);
    }
  } finally {
    r.disconnect();
  }
}

describe('kill -9 of the leader under client load', () => {
  it('ioredis Cluster loses no acknowledged write', async () => {
    const seed = cluster.running().map((h) => ({ host: '127.0.0.1', port: h.port }));
    const c = new Cluster(seed, { retryDelayOnFailover: 100, retryDelayOnClusterDown: 100, maxRedirections: 32 });
    c.on('error', () => {});
    try {
      const out = await writeAcrossLeaderKill('io', (k, v) => c.set(k, v));
      expect(out.ackedAfterKill).toBeGreaterThanOrEqual(150);
      await expectAllReadable(out.acked);
      await cluster.restart(out.killed);
    } finally {
      c.disconnect();
    }
  }, 90_000);

  it('node-redis createCluster loses no acknowledged write', async () => {
    await cluster.waitLeader();
    const rootNodes = cluster.running().map((h) => ({ url: `redis://127.0.0.1:${h.port}` }));
    const c = createCluster({
      rootNodes,
      defaults: { disableOfflineQueue: true, socket: { reconnectStrategy: (retries: number) => Math.min(50 * retries, 500) } },
    });
    // node-redis refreshes its slot map only on MOVED/ASK (redis/node-redis#2806): a client
    // whose master died never hears a MOVED. The usual wiring refreshes it on node errors,
    // asking each root node in turn: the first one may be the node that was killed.
    let next = 0;
    const rediscover = () => {
      const root = rootNodes[next++ % rootNodes.length];
      void c._slots.rediscover({ options: root } as never).catch(() => {});
    };
    c.on('node-error', rediscover);
    c.on('error', () => {});
    await c.connect();
    try {
      const out = await writeAcrossLeaderKill('nr', (k, v) => c.set(k, v));
      expect(out.ackedAfterKill).toBeGreaterThanOrEqual(150);
      await expectAllReadable(out.acked);
    } finally {
      c.off('node-error', rediscover);
      c.destroy();
    }
  }, 90_000);

  it('answers CLUSTERDOWN once no quorum is left, and recovers when one returns', async () => {
    // One node is already down (killed above); kill a second: one of three is left.
    const down = cluster.nodes.find((h) => !cluster.running().includes(h))!;
    const [victim, survivor] = cluster.running();
    const lastLeader = await cluster.waitLeader();
    await cluster.kill9(victim);
    const conn = await RawConn.open(survivor.port);
    try {
      await waitFor(async () => (await conn.call('set', 'k', 'v')).toString() === '-CLUSTERDOWN No leader elected\r\n', 10_000, 'CLUSTERDOWN');
      expect((await conn.call('get', 'k')).toString()).toBe('-CLUSTERDOWN No leader elected\r\n');
      expect((await conn.call('readonly')).toString()).toBe('+OK\r\n');
      expect((await conn.call('get', 'k')).toString()).toBe('-CLUSTERDOWN No leader elected\r\n');
      // Like Redis Cluster with a failed master, the slots stay with the last leader: a client
      // refreshing its map now still gets a node to fail on and retry, not an empty map.
      const slots = (await conn.call('cluster', 'slots')).toString();
      expect(slots).toMatch(new RegExp(`^\\*1\r\n\\*\\d\r\n:0\r\n:16383\r\n\\*4\r\n\\$9\r\n127\\.0\\.0\\.1\r\n:${lastLeader.port}\r\n`));
      expect((await conn.call('cluster', 'info')).toString()).toContain('cluster_state:fail\r\n');
      expect((await conn.call('ping')).toString()).toBe('+PONG\r\n');
      await cluster.restart(down);
      await waitFor(async () => (await conn.call('cluster', 'info')).toString().includes('cluster_state:ok'), 20_000, 'a leader');
      const leader = await cluster.waitLeader(15_000, [survivor, down]);
      const l = await RawConn.open(leader.port);
      try {
        expect((await l.call('set', 'k', 'back')).toString()).toBe('+OK\r\n');
        expect((await l.call('get', 'k')).toString()).toBe('$4\r\nback\r\n');
      } finally {
        l.close();
      }
    } finally {
      conn.close();
    }
  }, 60_000);
});
