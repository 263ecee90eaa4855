/**
 * The log's memory tail in real processes (issue 15: "the raft log held in memory duplicates
 * the keyspace"). With a tail of 64 entries, a follower killed (SIGKILL) while the leader
 * applies 600 more trails far past the leader's memory: restarted, it must catch up from the
 * entries the leader reads back from LevelDB (log-readback.ts), not from a snapshot, and hold
 * every acknowledged write. Meanwhile the leader's log in memory stays within the tail.
 *
 * Killed, not stopped: a stopped process's socket still takes the Apps the leader sends
 * meanwhile, so it would never need the old entries.
 */
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, waitFor } from '../support/cluster-harness.ts';

const TAIL = 64;
const WRITES = 600;

describe('a follower trailing past the leader memory tail', () => {
  const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--log-memory-entries', String(TAIL), '--log-memory-bytes', '65536'] });
  beforeAll(() => cluster.start(), 60_000);
  afterAll(() => cluster.stop());

  it('catches up from entries read back from disk, not a snapshot', async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h !== leader)!;
    const client = new Redis(leader.port);
    const snapshotBefore = (await cluster.status(follower))!.snapshot_index;
    let ls = (await cluster.status(leader))!;
    try {
      await cluster.kill9(follower);
      // One at a time, so each is its own entry; every 50th is 4 KiB, so bytes bound the tail too.
      for (let i = 0; i < WRITES; i++) expect(await client.set(`rb:${i}`, i % 50 === 0 ? 'x'.repeat(4096) : `v${i}`)).toBe('OK');
      // The leader holds what a follower it heard from lately lacks (up to 4x the tail), until
      // CheckQuorum marks the dead one inactive, within an election timeout; the next applies
      // then trim to the tail.
      await waitFor(
        async () => {
          expect(await client.set('rb:more', 'x')).toBe('OK');
          ls = (await cluster.status(leader))!;
          return (ls.log_memory_entries ?? Number.POSITIVE_INFINITY) <= TAIL;
        },
        10_000,
        'the leader to trim its log to the tail',
      );
    } finally {
      client.disconnect();
    }
    expect(ls.last_index - ls.snapshot_index).toBeGreaterThanOrEqual(WRITES);
    expect(ls.log_memory_entries).toBeLessThanOrEqual(TAIL);
    expect(ls.log_memory_bytes).toBeLessThanOrEqual(65536);

    await cluster.restart(follower);
    await waitFor(async () => ((await cluster.status(follower))?.applied ?? 0) >= ls.commit, 20_000, 'the follower to apply what the leader committed');
    const fs = (await cluster.status(follower))!;
    // No snapshot was needed: the follower's snapshot did not move, and the leader sent none.
    expect(fs.snapshot_index).toBe(snapshotBefore);
    const log = await readFile(leader.logFile, 'utf8');
    expect(log).not.toMatch(/sends snapshot/);
    // The core took "not loaded yet" in its stride: no message of the follower's was refused.
    expect(log).not.toMatch(/core refused/);
    expect(fs.log_memory_entries).toBeLessThanOrEqual(TAIL);

    const local = new Redis(follower.port);
    try {
      await local.readonly();
      for (let i = 0; i < WRITES; i++) expect(await local.get(`rb:${i}`), `rb:${i}`).toBe(i % 50 === 0 ? 'x'.repeat(4096) : `v${i}`);
    } finally {
      local.disconnect();
    }
  }, 90_000);
});
