/**
 * Lists through a snapshot on a real 3-node cluster (issue 14): a follower killed while the
 * leader applies list writes and compacts its log must catch up by installing a snapshot
 * (FORMAT 7 list records), and then every replica holds the same lists, answers the same, and
 * accounts the same bytes (INFO used_memory: the restored lists kept their chunk shape); later
 * writes apply alike on all three.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { type ReplicaView, replicasAgree } from './support/replicas-agree.ts';
import { RawConn } from './support/resp-bytes.ts';

const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--snapshot-entries', '40', '--snapshot-keep-entries', '0'] });
let leader: NodeHandle;
let lagging: NodeHandle;

beforeAll(async () => {
  await cluster.start();
  leader = await cluster.waitLeader();
  lagging = cluster.nodes.find((h) => h !== leader)!;
}, 60_000);

afterAll(() => cluster.stop());

/** What a replica holds: the lists, their encodings and lengths, and its accounted memory. */
const view: ReplicaView = async (conn) => {
  const out: string[] = [];
  for (const key of ['big', 'front', 'q', 'r', 'gone']) {
    out.push((await conn.call('lrange', key, '0', '-1')).toString('latin1'));
    out.push((await conn.call('object', 'encoding', key)).toString('latin1'));
  }
  const info = (await conn.call('info', 'memory')).toString('latin1');
  out.push(/used_memory:\d+/.exec(info)?.[0] ?? 'no used_memory');
  return out.join('|');
};

describe('lists in a snapshot installed by a lagging follower', () => {
  it('the follower restores them: same lists, same bytes, and later writes apply alike', async () => {
    const l = await RawConn.open(leader.port);
    try {
      // Killed, not paused: a paused process would still find the leader's appends in its
      // socket buffer when it resumes, and never need the snapshot.
      await cluster.signal(lagging, 'SIGKILL');
      const before = (await cluster.status(leader))?.snapshot_index ?? 0;
      for (let i = 0; i < 40; i++) {
        const elements = Array.from({ length: 50 }, (_, j) => `e${i}:${j}:${'x'.repeat(j % 13)}`);
        await l.call('rpush', 'big', ...elements);
        await l.call('lpush', 'front', ...elements.slice(0, 7));
      }
      await l.call('lpop', 'big', '17');
      await l.call('rpop', 'front', '5');
      await l.call('lset', 'front', '3', 'SET');
      await l.call('rpush', 'r', 'a', 'b', 'a');
      await l.call('lrem', 'r', '-1', 'a');
      await l.call('linsert', 'r', 'before', 'b', 'INSERTED');
      await l.call('ltrim', 'front', '2', '-3');
      await l.call('rpush', 'q', 'a', 'b', 'c');
      await l.call('lmove', 'q', 'front', 'left', 'right');
      await l.call('rpush', 'gone', 'x');
      await l.call('lmpop', '1', 'gone', 'left');
      await waitFor(async () => ((await cluster.status(leader))?.snapshot_index ?? 0) > before, 20_000, 'the leader to snapshot and compact');
      const snapAt = (await cluster.status(leader))?.snapshot_index ?? 0;
      await cluster.restart(lagging);
      await waitFor(async () => ((await cluster.status(lagging))?.snapshot_index ?? 0) >= snapAt, 30_000, 'the follower to install the snapshot');
      await l.call('rpush', 'q', 'after-snapshot');
      const agreed = await replicasAgree(cluster.nodes, view, 'lists', (v) => v.includes('after-snapshot'), 30_000);
      expect(agreed).toContain('INSERTED');
      expect(agreed).toContain('$9\r\nquicklist\r\n');
    } finally {
      l.close();
    }
  }, 120_000);
});
