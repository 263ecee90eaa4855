/**
 * Real node processes on loopback: election, replication, failover, restart, snapshot catch-up,
 * membership changes and graceful handover.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function putFollowingRedirects(c: ClusterHarness, via: NodeHandle, key: string, value: string): Promise<number> {
  let r = await c.put(via, key, value);
  for (let hops = 0; r.status === 307 && hops < 3; hops++) {
    const loc = r.headers.get('location')!;
    r = await fetch(loc, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }), redirect: 'manual' });
  }
  return r.status;
}

describe('a 3-node cluster of real processes', () => {
  it('elects one leader and replicates a write made through any node to every node', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h.id !== leader.id)!;

    const redirected = await cluster.put(follower, 'greeting', 'hello');
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get('location')).toBe(cluster.url(leader, '/v1/kv/greeting'));

    expect(await putFollowingRedirects(cluster, follower, 'greeting', 'hello')).toBe(200);
    for (const h of cluster.nodes) {
      expect(await cluster.get(h, 'greeting')).toMatchObject({ status: 200, value: 'hello', ttl_ms: null });
    }
  });

  it('survives kill -9 of the leader: a new leader writes within 2 s and no acknowledged write is lost', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const acked: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await cluster.put(leader, `k${i}`, `v${i}`);
      expect(r.status).toBe(200);
      acked.push(`k${i}`);
    }
    await cluster.kill9(leader);
    const killedAt = Date.now();
    const rest = cluster.running();
    let firstWriteAt = 0;
    await waitFor(
      async () => {
        for (const h of rest) {
          const r = await cluster!.put(h, 'after-failover', 'yes').catch(() => undefined);
          if (r?.status === 200) {
            firstWriteAt = Date.now();
            return true;
          }
        }
        return false;
      },
      5000,
      'a write on the new leader',
      20,
    );
    expect(firstWriteAt - killedAt).toBeLessThan(2000);

    for (const h of rest) for (const k of acked) expect((await cluster.get(h, k)).value).toBe(`v${k.slice(1)}`);

    await cluster.restart(leader);
    await waitFor(async () => (await cluster!.get(leader, 'after-failover')).value === 'yes', 10_000, 'the restarted node to catch up');
    for (const k of acked) expect((await cluster.get(leader, k)).value).toBe(`v${k.slice(1)}`);
  });

  it('catches up a node that was down while the log was compacted, through a snapshot', async () => {
    cluster = new ClusterHarness({ extraArgs: ['--snapshot-entries', '100', '--snapshot-keep-entries', '10'] });
    await cluster.start();
    const leader = await cluster.waitLeader();
    const lagger = cluster.nodes.find((h) => h.id !== leader.id)!;
    await cluster.kill9(lagger);
    for (let i = 0; i < 400; i++) expect((await cluster.put(leader, `s${i}`, `v${i}`)).status).toBe(200);
    const st = await cluster.status(leader);
    expect(st!.snapshot_index).toBeGreaterThan(0);

    await cluster.restart(lagger);
    await waitFor(async () => ((await cluster!.status(lagger))?.applied ?? 0) >= st!.commit, 15_000, 'the lagging node to catch up');
    const lst = await cluster.status(lagger);
    expect(lst!.snapshot_index).toBeGreaterThan(0);
    for (const i of [0, 199, 399]) expect((await cluster.get(lagger, `s${i}`)).value).toBe(`v${i}`);
  });

  it('adds a fourth node and removes one while writes continue', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    let leader = await cluster.waitLeader();
    let stop = false;
    let written = 0;
    const failures: string[] = [];
    const c = cluster;
    const writer = (async () => {
      while (!stop) {
        const l = leader;
        const r = await c.put(l, `w${written}`, 'x').catch((e: Error) => ({ status: 0, statusText: e.message }) as Response);
        if (r.status === 200) written++;
        else if (r.status !== 307) failures.push(`${r.status}`);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();

    const n4 = await cluster.allocate('n4');
    cluster.nodes.push(n4);
    cluster.spawn(n4, { join: true });
    await cluster.waitHttp(n4);
    const add = await fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: n4.port, http_port: n4.httpPort }),
    });
    expect(add.status).toBe(202);
    await waitFor(async () => (await cluster!.status(leader))?.voters.includes('n4') ?? false, 15_000, 'n4 to be promoted to voter');

    const victim = cluster.nodes.find((h) => h.id !== leader.id && h.id !== 'n4')!;
    const del = await fetch(cluster.url(leader, `/v1/cluster/members/${victim.id}`), { method: 'DELETE' });
    expect(del.status).toBe(200);
    await waitFor(async () => !(await cluster!.status(leader))?.voters.includes(victim.id), 10_000, 'removal to apply');
    await cluster.kill9(victim);

    const before = written;
    await waitFor(() => written > before + 20, 10_000, 'writes to continue after the changes');
    stop = true;
    await writer;
    expect(failures).toEqual([]);
    leader = await cluster.waitLeader();
    await waitFor(async () => (await cluster!.get(n4, `w${written - 1}`)).status === 200, 10_000, 'n4 to hold the last write');
    const st = await cluster.status(n4);
    expect(st!.voters.sort()).toEqual(
      cluster.nodes
        .filter((h) => h.id !== victim.id)
        .map((h) => h.id)
        .sort(),
    );
  });

  it('promotes a learner even when the leader that added it dies first', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const n4 = await cluster.allocate('n4');
    cluster.nodes.push(n4);
    // Added while it is not running, so it cannot catch up before the leader dies.
    const add = await fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: n4.port, http_port: n4.httpPort }),
    });
    expect(add.status).toBe(202);
    expect((await cluster.status(leader))?.learners).toEqual(['n4']);
    await cluster.kill9(leader);
    const rest = cluster.nodes.filter((h) => h.id !== leader.id && h.id !== 'n4');
    const next = await cluster.waitLeader(10_000, rest);
    cluster.spawn(n4, { join: true });
    await cluster.waitHttp(n4);
    await waitFor(async () => (await cluster!.status(next))?.voters.includes('n4') ?? false, 15_000, 'the new leader to promote n4');
  });

  it('hands leadership over on SIGTERM with no failed client write', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    // Several writers, so some request lands in the turn where the old leader steps down.
    const writeLoop = async (w: number) => {
      let i = 0;
      while (!stop) {
        // fetch follows 307 redirects to the new leader, as any HTTP client would.
        const r = await fetch(cluster!.url(leader, `/v1/kv/t${w}-${i}`), {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value: 'v' }),
        }).catch((e: Error) => e);
        if (r instanceof Error) {
          // The old leader's HTTP port closes once it has handed over; later writes go elsewhere.
          break;
        }
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${await r.text()}`);
        i++;
      }
    };
    const writer = Promise.all([0, 1, 2, 3].map(writeLoop));
    await waitFor(() => ok > 20, 5000, 'some writes');
    await cluster.signal(leader, 'SIGTERM');
    expect(leader.exitCode).toBe(0);
    stop = true;
    await writer;
    expect(failures.join('\n')).toBe('');
    const next = await cluster.waitLeader(5000);
    expect(next.id).not.toBe(leader.id);
  });
});
