/**
 * The strict reconfiguration check (src/node/reconfig-check.ts) as an operator meets it, over
 * real processes and `raftkv member`: the leader refuses a removal that could not commit or
 * would leave too few active voters (exit 1, 409 unsafe_reconfig, the reason), allows one that
 * leaves a quorum of active voters, and `--force` makes the change anyway. Before, the
 * removal of the down voter of two went into the log, where it could never commit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { type CliRun, runRaftkv } from '../support/raftkv-cli.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const ep = (h: NodeHandle) => ['--endpoints', `http://127.0.0.1:${h.httpPort}`];
const firstLine = (r: CliRun) => r.stderr.split('\n')[0];
const voters = async (c: ClusterHarness, h: NodeHandle) => (await c.status(h))?.voters.slice().sort();

describe('raftkv member remove, strict reconfiguration check', () => {
  it('two voters, one down: removing it is refused (it could never commit) and the cluster is whole again once it is back', async () => {
    // A long election timeout: with one of two voters down the leader steps down (check-quorum)
    // after one to two of them, and only a leader could put the removal in the log, so that is
    // the window the check guards. The command must land in it: starting the CLI takes up to
    // 5 s on a loaded two-core machine.
    cluster = new ClusterHarness({ nodes: 2, extraArgs: ['--election-timeout', '8s'] });
    await cluster.start();
    const leader = await cluster.waitLeader(30_000);
    const down = cluster.nodes.find((h) => h.id !== leader.id)!;
    await cluster.kill9(down);
    const r = await runRaftkv(['member', 'remove', down.id, ...ep(leader)]);
    expect(r.code).toBe(1);
    expect(firstLine(r)).toMatch(
      new RegExp(
        `^raftkv member: .*: removing ${down.id} would leave 1 of 2 voters active to commit it, short of a quorum of 2 \\(not heard from within an election timeout: ${down.id}\\); ` +
          'a change that cannot commit would wedge the cluster; pass force .* \\(409 unsafe_reconfig\\)$',
      ),
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // Nothing went into the log: back up, the member is still a voter and the cluster takes writes.
    await cluster.restart(down);
    const now = await cluster.waitLeader(30_000);
    expect(await voters(cluster, now)).toEqual(['n1', 'n2']);
    await waitFor(async () => (await cluster!.put(now, 'after', 'refusal')).status === 200, 15_000, 'a write');
    expect(down.exitCode).toBeUndefined();
  }, 120_000);

  it('three voters, one down: removing a live one is refused, --force does it anyway, which wedges until the down one is back', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const [live, down] = cluster.nodes.filter((h) => h.id !== leader.id);
    await cluster.kill9(down);
    const refused = await runRaftkv(['member', 'remove', live.id, ...ep(live)]); // through a follower: redirected
    expect(refused.code).toBe(1);
    expect(firstLine(refused)).toMatch(
      new RegExp(
        `removing ${live.id} would leave 1 of 2 voters active, short of a quorum of 2 \\(not heard from within an election timeout: ${down.id}\\); .*pass force .*\\(409 unsafe_reconfig\\)$`,
      ),
    );
    expect(await voters(cluster, leader)).toEqual(['n1', 'n2', 'n3']);
    expect((await cluster.put(leader, 'k', 'still writable')).status).toBe(200);

    const forced = await runRaftkv(['member', 'remove', live.id, '--force', ...ep(leader)]);
    expect(forced.code).toBe(0);
    expect(forced.stdout.trim()).toBe(`removed member ${live.id}`);
    await waitFor(() => live.exitCode !== undefined, 15_000, `${live.id} to exit`);
    // The leader and the down node remain: one of two, no quorum until it is back.
    await cluster.restart(down);
    const now = await cluster.waitLeader(20_000);
    expect(await voters(cluster, now)).toEqual([leader.id, down.id].sort());
    await waitFor(async () => (await cluster!.put(now, 'after', 'force')).status === 200, 15_000, 'a write');
  });

  it('three voters, one down: removing the down one is allowed (two of two active remain)', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const down = cluster.nodes.find((h) => h.id !== leader.id)!;
    await cluster.kill9(down);
    const r = await runRaftkv(['member', 'remove', down.id, ...ep(leader)]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`removed member ${down.id}`);
    expect(await voters(cluster, leader)).toEqual(cluster.nodes.filter((h) => h !== down).map((h) => h.id));
    expect((await cluster.put(leader, 'k', 'v')).status).toBe(200);
  });
});
