/**
 * `--trace-writes` on three real node processes (issue 15): after SETs through a real client,
 * SIGUSR2 makes every node write its stamps, and together they hold every stage of each write,
 * in the order of the critical path (test/bench/trace-write.ts draws the waterfall from them).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TRACE_STAGES, type TraceStage } from '../../src/node/write-trace.ts';
import { ClusterHarness, waitFor } from '../support/cluster-harness.ts';

const h = new ClusterHarness({ nodes: 3 });
afterAll(() => h.stop());

type Stamp = { stage: TraceStage; index: number; ns: number };

describe('--trace-writes', () => {
  it('stamps every stage of a replicated write, on the leader and on its followers, in path order', async () => {
    const dir = join(h.root, 'trace');
    h.extraArgs.push('--trace-writes', dir);
    mkdirSync(dir);
    await h.start();
    const leader = await h.waitLeader();
    const client = new Redis({ port: leader.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    for (let i = 0; i < 20; i++) expect(await client.set(`k${i}`, 'v')).toBe('OK');
    client.disconnect();
    // The reply waited for one follower only: the other may still be saving the last write.
    await h.waitApplied(leader);
    for (const n of h.nodes) n.proc!.kill('SIGUSR2');
    const files = h.nodes.map((n) => join(dir, `${n.id}.trace.json`));
    await waitFor(() => files.every((f) => existsSync(f)), 5000, 'every node dumps its trace');
    const stamps = files.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { stamps: Stamp[] }).stamps);
    const mine = stamps[h.nodes.indexOf(leader)]!;
    const writes = [...new Set(mine.filter((s) => s.stage === 'replied').map((s) => s.index))];
    expect(writes.length).toBe(20);
    const leaderStages: TraceStage[] = [
      'received',
      'proposed',
      'batched',
      'sent',
      'saveStart',
      'saveEnd',
      'ackReceived',
      'committed',
      'applied',
      'settled',
      'replied',
    ];
    const followerStages: TraceStage[] = ['peerReceived', 'saveStart', 'saveEnd', 'ackSent'];
    for (const index of writes) {
      const first = (of: Stamp[], stage: TraceStage) => Math.min(...of.filter((s) => s.index === index && s.stage === stage).map((s) => s.ns));
      for (const stage of leaderStages) expect(first(mine, stage), `leader ${stage} of ${index}`).toBeLessThan(Infinity);
      // The path: received < proposed < batched < sent, and the reply after the apply.
      const order = ['received', 'proposed', 'batched', 'sent', 'committed', 'applied', 'settled', 'replied'] as TraceStage[];
      for (let i = 1; i < order.length; i++) expect(first(mine, order[i]!)).toBeGreaterThanOrEqual(first(mine, order[i - 1]!));
      for (const f of stamps.filter((s) => s !== mine)) {
        for (const stage of followerStages) expect(first(f, stage), `follower ${stage} of ${index}`).toBeLessThan(Infinity);
        // One clock for all processes: the follower gets the App after the leader sent it.
        expect(first(f, 'peerReceived')).toBeGreaterThan(first(mine, 'sent'));
        expect(first(f, 'ackSent')).toBeGreaterThanOrEqual(first(f, 'saveEnd'));
      }
    }
    // Every stage is checked above (saveStart and saveEnd on both sides).
    expect(TRACE_STAGES.length).toBe(leaderStages.length + followerStages.length - 2);
  });
});
