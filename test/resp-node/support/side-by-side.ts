/**
 * The differential suites' pair: a one-node RaftKV cluster and a real redis-server 7.0, started
 * before a file's tests and stopped after them. `run` sends one script to both (after a
 * FLUSHALL) and expects the same bytes back.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { ClusterHarness } from '../../support/cluster-harness.ts';
import { RedisServer } from '../../support/redis-server.ts';
import { c, runScript, type Step } from './script.ts';

export interface SideBySide {
  /** The redis-server, once started. */
  readonly redis: RedisServer;
  /** The RaftKV node's RESP port, once started. */
  readonly port: number;
  run(steps: Step[]): Promise<void>;
}

/** Registers the pair's beforeAll/afterAll in the calling file. */
export function sideBySide(): SideBySide {
  let redis: RedisServer | undefined;
  const single = new ClusterHarness({ nodes: 1 });
  let port = 0;
  beforeAll(async () => {
    const [r, started] = await Promise.allSettled([RedisServer.start(['--databases', '1']), single.start()]);
    if (r.status === 'fulfilled') redis = r.value;
    for (const s of [r, started]) if (s.status === 'rejected') throw s.reason;
    await single.waitLeader();
    port = single.nodes[0].port;
  }, 60_000);
  afterAll(async () => {
    await Promise.all([redis?.stop(), single.stop()]);
  });
  const pair: SideBySide = {
    get redis() {
      if (!redis) throw new Error('redis-server is not started');
      return redis;
    },
    get port() {
      return port;
    },
    async run(steps) {
      const mismatches = await runScript(port, pair.redis.port, [c('flushall'), ...steps]);
      expect(mismatches).toEqual([]);
    },
  };
  return pair;
}
