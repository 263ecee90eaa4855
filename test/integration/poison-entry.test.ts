/**
 * Issue 10's poison entry, replayed through a real 3-node cluster. On 26d4c8e one request,
 * `POST /v1/cluster/members {"id":"x","host":"a b",...}`, put a conf change in the log whose
 * address made every replica's apply throw, at once and again at every restart.
 *
 * The API now refuses that request (400 naming `host`). To show that apply survives the entry
 * anyway (an older version could have written it), the test writes it into the log itself,
 * with the storage API, into every stopped node's LevelDB at the same index and term, as if the
 * last leader had replicated it just before the cluster stopped; an undecodable KV entry and an
 * undecodable conf change follow it. The next leader commits all three. Every node must stay
 * up, apply them (the learner `x` joins the configuration with no address), keep serving
 * writes, and do the same again when restarted replaying them.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMember } from '../../src/node/members.ts';
import { encodeConfChange } from '../../src/raft/index.ts';
import { ConfChangeType, type Entry, EntryType } from '../../src/raft/types.ts';
import { LevelStorage } from '../../src/storage/index.ts';
import { ClusterHarness, type ClusterStatus, waitFor } from '../support/cluster-harness.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const POISON = { id: 'x', host: 'a b', port: 1, http_port: 1 };

async function statuses(c: ClusterHarness): Promise<ClusterStatus[]> {
  const all = await Promise.all(c.nodes.map((h) => c.status(h)));
  return all.filter((s): s is ClusterStatus => s !== undefined);
}

/** Every node up, answering, and applied through the same index as the others. */
async function waitConverged(c: ClusterHarness, atLeast = 0): Promise<number> {
  let index = 0;
  await waitFor(
    async () => {
      const sts = await statuses(c);
      if (sts.length !== c.nodes.length) return false;
      index = sts[0].applied;
      return index >= atLeast && sts.every((s) => s.applied === index && s.last_index === index && s.commit === index);
    },
    15_000,
    'every node to apply the same index',
  );
  return index;
}

async function writeAndRead(c: ClusterHarness, key: string, value: string): Promise<void> {
  const leader = await c.waitLeader();
  expect((await c.put(leader, key, value)).status).toBe(200);
  for (const h of c.nodes) await waitFor(async () => (await c.get(h, key)).value === value, 5000, `${h.id} to serve ${key}`);
}

function logOf(h: { logFile: string }): string {
  return readFileSync(h.logFile, 'utf8');
}

describe('the poison membership entry of issue 10', () => {
  it('is refused by the API, and written into the log anyway it is applied as a learner without an address, on every node, across restarts', async () => {
    cluster = new ClusterHarness();
    const c = cluster;
    await c.start();
    const leader = await c.waitLeader();

    // The request is refused before anything is proposed, on the leader and on a follower.
    for (const h of c.nodes) {
      const r = await fetch(c.url(h, '/v1/cluster/members'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(POISON),
        redirect: 'manual',
      });
      expect(r.status, h.id).toBe(400);
      expect(await r.json()).toMatchObject({ error: 'bad_request', field: 'host' });
    }
    await writeAndRead(c, 'before', '1');
    const last = await waitConverged(c);
    expect((await c.status(leader))?.learners).toEqual([]);

    // Stop the cluster and append the entries to every node's log at the same index and term.
    await Promise.all(c.nodes.map((h) => c.kill9(h)));
    const poison: Omit<Entry, 'index' | 'term'>[] = [
      {
        type: EntryType.ConfChange,
        data: encodeConfChange({ type: ConfChangeType.AddLearner, node: 'x', context: encodeMember({ id: 'x', host: 'a b', port: 1, httpPort: 1 }) }),
      },
      { type: EntryType.Normal, data: Uint8Array.of(0xff, 0x01, 0x02) },
      { type: EntryType.ConfChange, data: Uint8Array.of(9, 9) },
    ];
    for (const h of c.nodes) {
      const s = await LevelStorage.open(h.dataDir);
      expect(s.lastIndex(), h.id).toBe(last);
      const term = s.term(last);
      await s.save({ entries: poison.map((e, i) => ({ ...e, index: last + 1 + i, term })) });
      await s.close();
    }

    // The next leader commits them; every node applies them and stays up.
    await Promise.all(c.nodes.map((h) => c.restart(h)));
    const applied = await waitConverged(c, last + poison.length + 1);
    for (const s of await statuses(c)) expect(s.learners, s.id).toEqual(['x']);
    await writeAndRead(c, 'after', '2');
    for (const h of c.nodes) {
      const log = logOf(h);
      expect(log, h.id).toContain(`conf change ${last + 1} carries an unusable address`);
      expect(log, h.id).toContain(`entry ${last + 2} cannot be applied`);
      expect(log, h.id).toContain(`conf change ${last + 3} cannot be decoded`);
      expect(log, h.id).toContain('"node":"x","msg":"member has no known address"');
    }

    // A restart replays the same entries from the log.
    await Promise.all(c.nodes.map((h) => c.kill9(h)));
    await Promise.all(c.nodes.map((h) => c.restart(h)));
    await waitConverged(c, applied + 1);
    await writeAndRead(c, 'again', '3');
    expect(c.running()).toHaveLength(3);
    for (const h of c.nodes) expect((await c.get(h, 'before')).value).toBe('1');

    // The learner that never connects can be removed as usual.
    const now = await c.waitLeader();
    const del = await fetch(c.url(now, '/v1/cluster/members/x'), { method: 'DELETE' });
    expect(del.status).toBe(200);
    await waitFor(async () => (await statuses(c)).every((s) => s.learners.length === 0), 5000, 'x to be gone everywhere');
  }, 120_000);
});
