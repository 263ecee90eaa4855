/**
 * The bench's election count on real nodes: a quiet window counts none, and a window in which
 * the leader stops (SIGSTOP past the election timeout) counts the election it causes, read from
 * every node's /v1/cluster term as the bench reads it around each load.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterHarness } from '../support/cluster-harness.ts';
import { type ElectionWindow, electionsIn, watchElections } from './elections.ts';
import { cleanup, sleep } from './procs.ts';
import { electionTarget } from './report.ts';
import { startRaftKV } from './systems/raftkv.ts';

let h: ClusterHarness;
beforeAll(async () => {
  h = await startRaftKV();
}, 120_000);
afterAll(cleanup);

describe('elections counted per load', () => {
  it('counts none in a quiet window and the one a stopped leader causes', async () => {
    const windows: ElectionWindow[] = [];
    await watchElections(h, 'quiet', windows, () => sleep(1000));
    expect(electionsIn(windows[0]!)).toBe(0);
    expect(Object.keys(windows[0]!.before).sort()).toEqual(['n1', 'n2', 'n3']);

    const old = await h.waitLeader();
    await watchElections(h, 'leader stopped', windows, async () => {
      h.pause(old);
      try {
        await h.waitLeader(
          30_000,
          h.nodes.filter((n) => n !== old),
        );
      } finally {
        h.resume(old);
      }
      await sleep(500);
    });
    expect(electionsIn(windows[1]!)).toBeGreaterThanOrEqual(1);
    const t = electionTarget(windows);
    expect(t.pass).toBe(false);
    expect(t.measured).toMatch(/^[1-9]\d* in 2 loads \(leader stopped\)$/);
  }, 120_000);
});
