/**
 * The differential suites' follower step: a 3-node RaftKV cluster beside the suite's
 * redis-server (side-by-side.ts). Each line of a script goes through a follower with
 * `redis-cli -c` (the follower answers MOVED and redis-cli follows it to the leader) and to
 * redis-server with plain redis-cli, and both must print the same; then every replica, read
 * with READONLY, must come to hold the same data. A suite states only its lines and its reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle } from '../../support/cluster-harness.ts';
import { redisCli } from '../../support/programs.ts';
import { replicasAgree } from './replicas-agree.ts';
import type { SideBySide } from './side-by-side.ts';

export interface FollowerScript {
  /** What the replicas hold, as the test's name and its wait say it ("hashes", "sorted sets"). */
  what: string;
  /** redis-cli lines (split on spaces), each sent through the follower and to redis-server. */
  lines: string[];
  /** Writes sent through the follower after the lines, their output not compared. */
  writes?: string[];
  /** Commands each replica answers with READONLY: their replies, joined, must match on all. */
  reads: string[][];
  /** A text those replies hold once the writes reached every replica. */
  settled: string;
}

/** Registers the describe block, with its own cluster, in the calling file. */
export function throughFollower(pair: SideBySide, script: FollowerScript): void {
  describe('through a follower with redis-cli -c, on a 3-node cluster', () => {
    const cluster = new ClusterHarness({ nodes: 3 });
    let follower: NodeHandle;

    beforeAll(async () => {
      await cluster.start();
      const leader = await cluster.waitLeader();
      follower = cluster.nodes.find((h) => h !== leader)!;
    }, 60_000);

    afterAll(() => cluster.stop());

    it(`prints what redis-cli prints against redis-server, and every replica holds the same ${script.what}`, async () => {
      for (const line of script.lines) {
        const args = line.split(' ');
        const [ours, theirs] = await Promise.all([redisCli(['-c', '-p', String(follower.port), ...args]), redisCli(['-p', String(pair.redis.port), ...args])]);
        expect(ours, line).toBe(theirs);
      }
      for (const line of script.writes ?? []) await redisCli(['-c', '-p', String(follower.port), ...line.split(' ')]);
      // Every replica applied the same writes: the same replies to the same reads.
      await replicasAgree(cluster.nodes, script.reads, script.what, (v) => v.includes(script.settled));
    }, 120_000);
  });
}
