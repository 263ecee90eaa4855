/**
 * A removed node over real processes (node/removal.ts): it stops campaigning, says so in one
 * line, reports `removed` on /readyz and INFO, and exits 0 unless --exit-when-removed no; a
 * node removed while it was down learns it from its peers when it comes back, and exits too.
 * Before, it stayed a pre-candidate forever, listing itself as a voter.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const lines = (h: NodeHandle, text: string) =>
  readFileSync(h.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(text));
const REMOVED = 'this node was removed from the cluster';

async function remove(c: ClusterHarness, leader: NodeHandle, id: string): Promise<void> {
  const r = await c.fetch(c.url(leader, `/v1/cluster/members/${id}`), { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
}

describe('a removed member', () => {
  it('exits 0 with one line saying so, by default', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const victim = cluster.nodes.find((h) => h.id !== leader.id)!;
    await remove(cluster, leader, victim.id);
    await waitFor(() => victim.exitCode !== undefined, 15_000, `${victim.id} to exit`);
    expect(victim.exitCode).toBe(0);
    expect(lines(victim, REMOVED)).toHaveLength(1);
    expect((await cluster.status(leader))!.voters).not.toContain(victim.id);
    expect((await cluster.put(leader, 'still', 'writable')).status).toBe(200);
  });

  it('with --exit-when-removed no: stays up, reports removed on /readyz and INFO, and stops campaigning', async () => {
    cluster = new ClusterHarness({ nodeArgs: { n3: ['--exit-when-removed', 'no'] } });
    await cluster.start();
    let leader = await cluster.waitLeader();
    if (leader.id === 'n3') {
      const r = await cluster.fetch(cluster.url(leader, '/v1/cluster/transfer-leadership'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'n1' }),
      });
      expect(r.status).toBe(200);
      leader = await cluster.waitLeader();
    }
    const n3 = cluster.node('n3');
    await remove(cluster, leader, 'n3');
    await waitFor(async () => (await cluster!.fetch(cluster!.url(n3, '/readyz'))).status === 503, 10_000, 'n3 to report removed');
    const ready = (await (await cluster.fetch(cluster.url(n3, '/readyz'))).json()) as { removed: boolean; reason: string };
    expect(ready.removed).toBe(true);
    expect(ready.reason).toMatch(/removed/);
    expect(execFileSync('redis-cli', ['-p', String(n3.port), 'INFO', 'raft'], { encoding: 'utf8' })).toContain('raft_member_state:removed\r\n');
    // No campaigns: its term stays put and it logs nothing more about elections.
    const term = (await cluster.status(n3))!.term;
    const logged = readFileSync(n3.logFile, 'utf8').split('\n').length;
    await new Promise((r) => setTimeout(r, 3000));
    expect((await cluster.status(n3))!.term).toBe(term);
    expect(readFileSync(n3.logFile, 'utf8').split('\n').length - logged).toBeLessThanOrEqual(2);
    expect(n3.exitCode).toBeUndefined();
    expect(lines(n3, REMOVED)).toHaveLength(1);
  });

  it('the leader removing itself answers the request, exits 0, and the others elect a leader and take writes', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    await remove(cluster, leader, leader.id);
    await waitFor(() => leader.exitCode !== undefined, 15_000, `${leader.id} to exit`);
    expect(leader.exitCode).toBe(0);
    expect(lines(leader, REMOVED)).toHaveLength(1);
    const rest = cluster.nodes.filter((h) => h !== leader);
    const next = await cluster.waitLeader(15_000, rest);
    // A new leader applies the removal (committed under the old one) only once it commits an
    // entry of its own term, so the configuration is read after a write it committed.
    expect((await cluster.put(next, 'after', 'self-removal')).status).toBe(200);
    expect((await cluster.status(next))!.voters.sort()).toEqual(rest.map((h) => h.id).sort());
  });

  it('removed while it was down: back up, it learns it from its peers and exits 0', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const victim = cluster.nodes.find((h) => h.id !== leader.id)!;
    await cluster.kill9(victim);
    await remove(cluster, leader, victim.id);
    cluster.spawn(victim);
    await waitFor(() => victim.exitCode !== undefined, 20_000, `${victim.id} to exit`);
    expect(victim.exitCode).toBe(0);
    const said = lines(victim, REMOVED);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/says this node was removed/);
  });
});
