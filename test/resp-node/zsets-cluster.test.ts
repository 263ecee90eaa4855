/**
 * Sorted sets through snapshots on a real 3-node cluster (issue 14): a follower killed while
 * the leader writes sorted sets (listpacks, a 2000-member skiplist with -0 and infinities,
 * members removed so positions moved) and compacts its log past them catches up through the
 * leader's snapshot, and then every replica answers the same bytes: the order and scores
 * (ZRANGE WITHSCORES), the encodings, and the positions (a full ZSCAN walk, whose order is the
 * skiplist's positions, which ZRANDMEMBER's seeded picks index too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness } from '../support/cluster-harness.ts';
import { type ReplicaView, replicasAgree } from './support/replicas-agree.ts';
import { RawConn } from './support/resp-bytes.ts';

const cluster = new ClusterHarness({ extraArgs: ['--snapshot-entries', '100', '--snapshot-keep-entries', '10'] });

beforeAll(() => cluster.start(), 60_000);
afterAll(() => cluster.stop());

async function call(port: number, ...args: string[]): Promise<string> {
  const conn = await RawConn.open(port);
  try {
    return (await conn.call(...args)).toString('latin1');
  } finally {
    conn.close();
  }
}

/** Everything a replica answers about the sorted sets, as raw bytes. */
const view: ReplicaView = async (conn) => {
  const out: string[] = [];
  for (const key of ['small', 'big', 'neg', 'u']) {
    out.push((await conn.call('zrange', key, '0', '-1', 'withscores')).toString('latin1'));
    out.push((await conn.call('object', 'encoding', key)).toString('latin1'));
  }
  let cursor = '0';
  do {
    const page = (await conn.call('zscan', 'big', cursor, 'count', '97')).toString('latin1');
    out.push(page);
    cursor = /^\*2\r\n\$\d+\r\n(\d+)\r\n/.exec(page)![1];
  } while (cursor !== '0');
  return out.join('|');
};

describe('sorted sets in snapshots, on a real 3-node cluster', () => {
  it('a follower restored from the snapshot answers byte for byte as the others', async () => {
    const leader = await cluster.waitLeader();
    const lagger = cluster.nodes.find((h) => h.id !== leader.id)!;
    await cluster.kill9(lagger);
    expect(await call(leader.port, 'zadd', 'small', '1.5', 'a', '-inf', 'b', 'inf', 'c')).toBe(':3\r\n');
    for (let i = 0; i < 2000; i += 100) {
      const args: string[] = [];
      for (let j = i; j < i + 100; j++) args.push(String((j * 37) % 501), `m${j}`);
      expect(await call(leader.port, 'zadd', 'big', ...args)).toBe(':100\r\n');
    }
    expect(await call(leader.port, 'zadd', 'big', '-0', 'negzero', '0x1p-1074', 'tiny')).toBe(':2\r\n');
    for (let i = 0; i < 150; i++) await call(leader.port, 'zrem', 'big', `m${i * 13}`);
    await call(leader.port, 'zadd', 'neg', '-0', 'x');
    await call(leader.port, 'zunionstore', 'u', '2', 'small', 'big', 'weights', '2', '0.5');
    expect((await cluster.status(leader))!.snapshot_index).toBeGreaterThan(0);

    await cluster.restart(lagger);
    await cluster.waitApplied(leader, 30_000);
    expect((await cluster.status(lagger))!.snapshot_index).toBeGreaterThan(0);
    const agreed = await replicasAgree(cluster.nodes, view, 'sorted sets');
    expect(agreed).toContain('skiplist');
    expect(agreed).toContain('-0');
  }, 180_000);
});
