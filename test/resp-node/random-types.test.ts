/**
 * Randomised differential of the collection types (issue 14): seeded command scripts
 * (test/support/type-scripts.ts) against a one-node RaftKV and a real redis-server 7.0. A
 * difference is shrunk to a minimal script, printed with its seed, and fails the test.
 * RAFTKV_TYPE_SEEDS=n runs more seeds (default 12, 250 commands each).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness } from '../support/cluster-harness.ts';
import { RedisServer } from '../support/redis-server.ts';
import { firstDifference, formatScript, hashScript, listScript, type ScriptCommand, setScript, shrinkScript } from '../support/type-scripts.ts';

let redis: RedisServer;
const cluster = new ClusterHarness({ nodes: 1 });
let port = 0;

beforeAll(async () => {
  const [r, started] = await Promise.allSettled([RedisServer.start(['--databases', '1']), cluster.start()]);
  if (r.status === 'fulfilled') redis = r.value;
  for (const s of [r, started]) if (s.status === 'rejected') throw s.reason;
  await cluster.waitLeader();
  port = cluster.nodes[0].port;
}, 60_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster.stop()]);
});

const SEEDS = Number(process.env.RAFTKV_TYPE_SEEDS ?? 12);

async function check(kind: string, make: (seed: number) => ScriptCommand[]): Promise<void> {
  const failures: string[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const script = make(seed);
    const diff = await firstDifference(port, redis.port, script);
    if (diff === null) continue;
    const minimal = await shrinkScript(port, redis.port, script);
    const last = await firstDifference(port, redis.port, minimal);
    failures.push(
      `${kind} seed ${seed}: command ${diff.at} (${diff.command}) differs; minimal script (${minimal.length} commands):\n${formatScript(minimal)}\n` +
        `ours:   ${JSON.stringify(last?.ours)}\ntheirs: ${JSON.stringify(last?.theirs)}`,
    );
  }
  if (failures.length > 0) console.error(failures.join('\n\n'));
  expect(failures).toEqual([]);
}

describe('random command scripts answer like redis-server 7.0', () => {
  it('hashes', () => check('hash', (seed) => hashScript(seed, 250)), 120_000);
  it('sets', () => check('set', (seed) => setScript(seed, 250)), 120_000);
  it('lists', () => check('list', (seed) => listScript(seed, 250)), 120_000);
});
