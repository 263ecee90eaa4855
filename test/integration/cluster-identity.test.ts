/**
 * Cluster identity over real processes (node/cluster-id.ts): nodes bootstrapped together share
 * one id, shown in INFO, CLUSTER INFO and /v1/cluster; a node joining with empty data adopts it
 * and keeps it across a restart; and nodes whose data belong to another cluster are refused at
 * the handshake with both ids named, once, without a retry storm (the scenario of issue 12:
 * 3 nodes, then 5 started over the old data).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { cpuShare } from '../support/proc-cpu.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

interface Cluster {
  cluster_id: string | null;
  voters: string[];
  learners: string[];
  leader: string | null;
}

async function view(c: ClusterHarness, h: NodeHandle): Promise<Cluster> {
  const r = await c.fetch(c.url(h, '/v1/cluster'), { signal: AbortSignal.timeout(3000) });
  return (await r.json()) as Cluster;
}

const redis = (h: NodeHandle, ...args: string[]) => execFileSync('redis-cli', ['-p', String(h.port), ...args], { encoding: 'utf8' });
const lines = (h: NodeHandle, text: string) =>
  readFileSync(h.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(text));

describe('cluster identity', () => {
  it('nodes bootstrapped together share one id, shown in /v1/cluster, INFO and CLUSTER INFO; a joining node adopts it and keeps it', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const ids = await Promise.all(cluster.nodes.map(async (h) => (await view(cluster!, h)).cluster_id));
    expect(ids[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(1);
    const id = ids[0]!;
    expect(redis(leader, 'INFO', 'raft')).toContain(`raft_cluster_id:${id}\r\n`);
    expect(redis(leader, 'INFO', 'server')).toContain(`raftkv_cluster_id:${id}\r\n`);
    expect(redis(leader, 'CLUSTER', 'INFO')).toContain(`raftkv_cluster_id:${id}\r\n`);

    const [n4] = await cluster.addNodes(1);
    cluster.spawn(n4, { join: true });
    await cluster.waitHttp(n4);
    expect((await view(cluster, n4)).cluster_id).toBeNull();
    const add = await cluster.fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: n4.port, http_port: n4.httpPort }),
    });
    expect(add.status).toBe(202);
    await waitFor(async () => (await view(cluster!, leader)).voters.includes('n4'), 15_000, 'n4 to be promoted');
    expect((await view(cluster, n4)).cluster_id).toBe(id);
    expect(lines(n4, 'adopted its id')).toHaveLength(1);
    // Stored: after a restart it presents the id itself (and still is in the cluster).
    await cluster.signal(n4, 'SIGTERM');
    await cluster.restart(n4);
    expect((await view(cluster, n4)).cluster_id).toBe(id);
    expect((await cluster.put(leader, 'after', 'restart')).status).toBe(200);
    await waitFor(async () => (await cluster!.get(n4, 'after')).status === 200, 10_000, 'n4 to replicate');
  });

  it('3 nodes, then 5 over the old data: the two new ones are refused with both ids named, once, and burn no CPU', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const first = await cluster.waitLeader();
    expect((await cluster.put(first, 'k', 'v')).status).toBe(200);
    const old = (await view(cluster, first)).cluster_id!;
    for (const h of [...cluster.nodes].reverse()) await cluster.signal(h, 'SIGTERM');

    // As `raftkv cluster --nodes 5` over the same folder: every node gets all five as --peers.
    const orphans = await cluster.addNodes(2);
    for (const h of cluster.nodes) cluster.spawn(h);
    await Promise.all(cluster.nodes.map((h) => cluster!.waitHttp(h)));
    const olds = cluster.nodes.filter((h) => !orphans.includes(h));
    const leader = await cluster.waitLeader(15_000, olds);
    const orphanId = (await view(cluster, orphans[0])).cluster_id!;
    expect(orphanId).toMatch(/^[0-9a-f]{16}$/);
    expect(orphanId).not.toBe(old);
    expect((await view(cluster, orphans[1])).cluster_id).toBe(orphanId);
    for (const h of olds) expect((await view(cluster, h)).cluster_id).toBe(old);

    // Both sides say why, naming both ids, as etcd's "cluster ID mismatch".
    await waitFor(() => orphans.every((h) => lines(h, 'cluster ID mismatch').length > 0), 10_000, 'the orphans to log the mismatch');
    for (const h of orphans) {
      const text = lines(h, 'cluster ID mismatch').join('\n');
      expect(text).toContain(old);
      expect(text).toContain(orphanId);
    }
    expect(lines(leader, 'cluster ID mismatch').join('\n')).toContain(orphanId);

    // Adding an orphan (the endless append/reject loop) gets it nothing: refused links.
    const add = await cluster.fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: orphans[0].port, http_port: orphans[0].httpPort }),
    });
    expect(add.status).toBe(202);
    const [leaderCpu, orphanCpu] = await cpuShare([leader.proc!.pid!, orphans[0].proc!.pid!], 5000);
    console.info(`refused orphan: leader ${(leaderCpu * 100).toFixed(1)} % CPU, orphan n4 ${(orphanCpu * 100).toFixed(1)} % CPU over 5 s`);
    // Rate-limited: a node warns once per other-cluster peer for each direction of the pair (the
    // link it dials, the link it refuses), however often the links are redialled (every <= 5 s).
    const counts = cluster.nodes.map((h) => lines(h, 'cluster ID mismatch').length);
    for (const [i, h] of cluster.nodes.entries()) {
      expect(counts[i]).toBeLessThanOrEqual(2 * (orphans.includes(h) ? olds.length : orphans.length));
    }
    // The issue measured 30 % and 44 %; idle nodes with their timers use a few percent.
    expect(leaderCpu).toBeLessThan(0.1);
    expect(orphanCpu).toBeLessThan(0.1);
    expect((await view(cluster, leader)).voters.sort()).toEqual(['n1', 'n2', 'n3']);
    expect((await cluster.get(leader, 'k')).value).toBe('v');
  });
});
