/**
 * A write that is in the log when its node shuts down may still commit under another leader, so
 * its caller must hear "outcome unknown" (HTTP 504), not "shutting down" (503, which promises
 * nothing happened and invites a blind retry). Issue 11, hole 5: real processes, a leader that
 * has appended a write it cannot commit (both followers killed), then SIGTERM.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness } from '../support/cluster-harness.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('a write proposed before its node shuts down', () => {
  it('answers 504 outcome_unknown, not 503 shutting_down', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    for (const h of cluster.nodes) if (h !== leader) await cluster.kill9(h);
    // The leader appends this write but cannot commit it: no follower is left to ack.
    const pending = cluster.put(leader, 'in-flight', 'v');
    await new Promise((r) => setTimeout(r, 200));
    const stopping = cluster.signal(leader, 'SIGTERM');
    const r = await pending;
    expect(r.status).toBe(504);
    expect(await r.json()).toMatchObject({ error: 'outcome_unknown' });
    await stopping;
    expect(leader.exitCode).toBe(0);
  }, 60_000);
});
