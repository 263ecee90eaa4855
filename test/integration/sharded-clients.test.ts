/**
 * Three real node processes started with `--shards 3` (issue 13): three data groups and the
 * metadata group in one LevelDB and one transport per node, leaders moved to the map's hints.
 * Driven by ioredis `Cluster`, node-redis `createCluster`, the real `redis-cli -c` and raw
 * sockets, then by the operator's POST /v1/shards/:id/transfer-leader.
 *
 * Where a key lives is checked against the servers, never assumed: the slot from CLUSTER KEYSLOT,
 * its group from /v1/shards, and the count of keys in each group's own state machine from
 * DBSIZE, which a sharded node runs over the data group it leads (as Redis Cluster runs it over
 * its own slots).
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { redisCli } from '../support/programs.ts';
import { clusterShards, dataShards, type ShardList, shardList, shardOfSlot, waitShardLeaders, waitShardsCaughtUp } from '../support/shards.ts';

// A fixed layout: these tests place leaders with transfer-leader, which the rebalancer would even
// out again within seconds (its own test: shard-rebalance.test.ts).
const cluster = new ClusterHarness({ nodes: 3, shards: 3, extraArgs: ['--rebalance', 'no'] });
let list: ShardList;
const closers: (() => Promise<unknown> | unknown)[] = [];
/** Every key written through a client, with its value: DBSIZE must account for all of them. */
const written = new Map<string, string>();

beforeAll(async () => {
  await cluster.start();
  list = await waitShardLeaders(cluster);
}, 90_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await cluster.stop();
});

const str = (b: Buffer) => b.toString('latin1');
const byPort = (port: number) => cluster.nodes.find((h) => h.port === port)!;
const nodeId = (id: string) => createHash('sha1').update(id).digest('hex');

function plain(h: NodeHandle): Redis {
  const r = new Redis({ port: h.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  // The last test kills a node; its clients' reconnect attempts are expected, not news.
  r.on('error', () => {});
  closers.push(() => r.disconnect());
  return r;
}

async function raw(h: NodeHandle): Promise<RawConn> {
  const c = await RawConn.open(h.port);
  closers.push(() => c.close());
  return c;
}

/** The leader of the group owning `slot`, by /v1/shards. */
function leaderOf(slot: number): NodeHandle {
  return cluster.node(shardOfSlot(list, slot).leader!);
}

/** Slots of keys as the server hashes them (CLUSTER KEYSLOT), pipelined. */
async function keyslots(keys: string[]): Promise<number[]> {
  const r = plain(cluster.nodes[0]);
  const p = r.pipeline();
  for (const k of keys) p.call('CLUSTER', 'KEYSLOT', k);
  return (await p.exec())!.map(([err, v]) => {
    if (err) throw err;
    return Number(v);
  });
}

/** A key of group `g` (its first slot's owner), found through CLUSTER KEYSLOT. */
async function keyOfGroup(g: number, salt: string): Promise<string> {
  const candidates = Array.from({ length: 64 }, (_, i) => `${salt}:${i}`);
  const slots = await keyslots(candidates);
  const i = slots.findIndex((s) => shardOfSlot(list, s).id === g);
  if (i < 0) throw new Error(`no key of group ${g} among 64 candidates`);
  return candidates[i];
}

/**
 * Each node's DBSIZE is the key count of the data group it leads; each must equal the number of
 * written keys whose slot that group owns, and the three must add up to every written key.
 */
async function expectPlacedByGroup(): Promise<void> {
  const keys = [...written.keys()];
  const slots = await keyslots(keys);
  const expected = new Map<number, number>();
  for (const s of slots) expected.set(shardOfSlot(list, s).id, (expected.get(shardOfSlot(list, s).id) ?? 0) + 1);
  expect(expected.size, 'keys spread over every data group').toBe(3);
  for (const g of dataShards(list)) {
    expect(expected.get(g.id) ?? 0, `keys in group ${g.id}`).toBeGreaterThan(keys.length / 10);
    const dbsize = await plain(cluster.node(g.leader!)).dbsize();
    expect(dbsize, `DBSIZE on ${g.leader}, leader of group ${g.id}`).toBe(expected.get(g.id));
  }
}

/**
 * Every key reads back through a plain connection to its group's leader (served there, so by
 * that group's state machine), and, with READONLY, from every node's replica of the group.
 */
async function expectReadableEverywhere(keys: string[]): Promise<void> {
  await waitShardsCaughtUp(cluster);
  const slots = await keyslots(keys);
  for (const h of cluster.nodes) {
    const r = plain(h);
    await r.readonly();
    const p = r.pipeline();
    for (const k of keys) p.get(k);
    const values = (await p.exec())!.map(([err, v]) => (err ? `error: ${err.message}` : v));
    expect(values, `READONLY reads on ${h.id}`).toEqual(keys.map((k) => written.get(k)));
  }
  for (const [i, k] of keys.entries()) {
    if (i % 50 !== 0) continue;
    expect(await plain(leaderOf(slots[i])).get(k), `${k} on its group's leader`).toBe(written.get(k));
  }
}

describe('the layout', () => {
  it('spreads 3 data groups over the slots, with their leaders on 3 different nodes', async () => {
    const data = dataShards(list);
    expect(data.map((g) => g.slots)).toEqual([[[0, 5460]], [[5461, 10922]], [[10923, 16383]]]);
    expect(new Set(data.map((g) => g.leader)).size).toBe(3);
    for (const g of data) expect([...g.voters].sort()).toEqual(['n1', 'n2', 'n3']);
    // Every node reports the same masters in CLUSTER SHARDS as /v1/shards names leaders.
    for (const h of cluster.nodes) {
      const shards = (await plain(h).call('CLUSTER', 'SHARDS')) as unknown[][];
      expect(shards).toHaveLength(3);
      for (const entry of shards) {
        const [start] = (entry[1] as unknown[]).map(Number);
        const master = (entry[3] as unknown[][]).map((n) => Object.fromEntries(pairs(n))).find((n) => n.role === 'master');
        expect(byPort(Number(master?.port)).id, `master of slot ${start} as ${h.id} sees it`).toBe(shardOfSlot(list, start).leader);
      }
      // CLUSTER NODES: three masters, one per node.
      const lines = String(await plain(h).call('CLUSTER', 'NODES'))
        .trim()
        .split('\n');
      expect(lines.filter((l) => l.split(' ')[2].includes('master'))).toHaveLength(3);
    }
  });
});

describe('CLUSTER SHARDS', () => {
  it("replication-offset follows each replica's log, with no leader change in between", async () => {
    const g = dataShards(list)[0];
    const leader = cluster.node(g.leader!);
    const offsets = async () => {
      const out: Record<string, number> = {};
      for (const h of cluster.nodes) {
        // Each node's own entry for the group: its applied index.
        const shard = (await clusterShards(h.port)).find((s) => s.slots[0][0] === g.slots[0][0]);
        out[h.id] = shard?.nodes.find((n) => n.port === h.port)?.offset ?? -1;
      }
      return out;
    };
    await waitShardsCaughtUp(cluster);
    const before = await offsets();
    const c = plain(leader);
    for (let i = 0; i < 20; i++) {
      const key = await keyOfGroup(g.id, `offset${i}`);
      expect(await c.set(key, 'o')).toBe('OK');
      written.set(key, 'o');
    }
    let after: Record<string, number> = {};
    await waitFor(
      async () => {
        after = await offsets();
        return cluster.nodes.every((h) => after[h.id] >= before[h.id] + 20);
      },
      5000,
      "every replica's offset to advance by the 20 writes",
    ).catch((err: Error) => {
      throw new Error(`${err.message}: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
    });
    expect(list.epoch, 'no map change').toBe((await shardList(cluster, leader))?.epoch);
  });
});

function pairs(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}

describe('Redis Cluster clients, unchanged', () => {
  it('/readyz counts every group of the node', async () => {
    for (const h of cluster.nodes) {
      const res = await cluster.fetch(cluster.url(h, '/readyz'));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ready: true, groups: 4, groups_not_ready: [] });
    }
  });

  it('/metrics has a series per group for Raft figures, each family once, and one leader per group', async () => {
    const leaders = new Map<string, number>();
    for (const h of cluster.nodes) {
      const res = await cluster.fetch(cluster.url(h, '/metrics'));
      expect(res.status).toBe(200);
      const text = await res.text();
      const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).toBe(types.length);
      const isLeader = [...text.matchAll(/^raftkv_server_is_leader\{group="(\d+)"\} (\d)$/gm)];
      expect(isLeader.map((m) => m[1]).sort()).toEqual(['0', '1', '2', '3']);
      for (const [, g, v] of isLeader) leaders.set(g, (leaders.get(g) ?? 0) + Number(v));
      // What the groups share comes once, unlabelled.
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(text).toMatch(/^raftkv_build_info\{version="[^"]+",node_version="[^"]+"\} 1$/m);
    }
    expect(Object.fromEntries(leaders)).toEqual({ 0: 1, 1: 1, 2: 1, 3: 1 });
  });

  it('ioredis Cluster writes 1000 keys and reads each back from its own group', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[1].port }], { scaleReads: 'master' });
    closers.push(() => c.disconnect());
    const keys = Array.from({ length: 1000 }, (_, i) => `io:${i}`);
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      const replies = await Promise.all(batch.map((k) => c.set(k, `v-${k}`)));
      expect(replies.every((r) => r === 'OK')).toBe(true);
      for (const k of batch) written.set(k, `v-${k}`);
    }
    expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((k) => `v-${k}`));
    // The client parsed the slot map itself: each group's first and last slot go to its leader.
    for (const g of dataShards(list)) {
      for (const slot of g.slots.flat()) expect(c.slots[slot]?.[0], `slot ${slot}`).toBe(`127.0.0.1:${cluster.node(g.leader!).port}`);
    }
    await expectPlacedByGroup();
    await expectReadableEverywhere(keys);
  });

  it('node-redis createCluster writes 1000 keys and reads each back from its own group', async () => {
    const c = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.nodes[2].port}` }] });
    c.on('error', () => {});
    await c.connect();
    closers.push(() => c.destroy());
    const keys = Array.from({ length: 1000 }, (_, i) => `nr:${i}`);
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      expect(new Set(await Promise.all(batch.map((k) => c.set(k, `w-${k}`))))).toEqual(new Set(['OK']));
      for (const k of batch) written.set(k, `w-${k}`);
    }
    expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((k) => `w-${k}`));
    await expectPlacedByGroup();
    await expectReadableEverywhere(keys);
  });
});

describe('routing', () => {
  it('answers MOVED naming the leader of the owning group, from every other node', async () => {
    for (const g of dataShards(list)) {
      const key = await keyOfGroup(g.id, `moved${g.id}`);
      const [slot] = await keyslots([key]);
      const target = `127.0.0.1:${cluster.node(g.leader!).port}`;
      for (const h of cluster.nodes.filter((x) => x.id !== g.leader)) {
        const c = await raw(h);
        expect(str(await c.call('set', key, 'x')), `SET on ${h.id}`).toBe(`-MOVED ${slot} ${target}\r\n`);
        expect(str(await c.call('get', key)), `GET on ${h.id}`).toBe(`-MOVED ${slot} ${target}\r\n`);
      }
      expect(str(await (await raw(cluster.node(g.leader!))).call('set', key, 'here'))).toBe('+OK\r\n');
      written.set(key, 'here');
    }
  });

  it('redis-cli -c follows MOVED to the owning leader', async () => {
    for (const g of dataShards(list)) {
      const key = await keyOfGroup(g.id, `cli${g.id}`);
      // Start at a node that does not lead the group, so the first answer is MOVED.
      const from = cluster.nodes.find((h) => h.id !== g.leader)!;
      expect((await redisCli(['-c', '-p', String(from.port), 'SET', key, `cli-${g.id}`])).trim()).toBe('OK');
      written.set(key, `cli-${g.id}`);
      expect((await redisCli(['-c', '-p', String(from.port), 'GET', key])).trim()).toBe(`cli-${g.id}`);
      // Without -c, redis-cli prints the redirection.
      const [slot] = await keyslots([key]);
      expect((await redisCli(['-p', String(from.port), 'GET', key])).trim()).toBe(`MOVED ${slot} 127.0.0.1:${cluster.node(g.leader!).port}`);
    }
  });

  it('answers CROSSSLOT for MSET across groups; hash tags keep keys together', async () => {
    const a = await keyOfGroup(1, 'x');
    const b = await keyOfGroup(2, 'x');
    const [slotA] = await keyslots([a]);
    const c = await raw(leaderOf(slotA));
    expect(str(await c.call('mset', a, '1', b, '2'))).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    expect(str(await c.call('exists', a, b))).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    // Neither key was written by the refused MSET.
    expect(str(await c.call('get', a))).toBe('$-1\r\n');
    const [tagSlot, slotB] = await keyslots(['{user1}:a', '{user1}:b']);
    expect(tagSlot).toBe(slotB);
    const t = await raw(leaderOf(tagSlot));
    expect(str(await t.call('mset', '{user1}:a', '1', '{user1}:b', '2'))).toBe('+OK\r\n');
    expect(str(await t.call('mget', '{user1}:a', '{user1}:b'))).toBe('*2\r\n$1\r\n1\r\n$1\r\n2\r\n');
    written.set('{user1}:a', '1');
    written.set('{user1}:b', '2');
  });

  it('MULTI/EXEC across groups: MOVED then EXECABORT where another node leads, as Redis Cluster', async () => {
    const a = await keyOfGroup(1, 'tx');
    const b = await keyOfGroup(2, 'tx');
    const [slotA, slotB] = await keyslots([a, b]);
    expect(shardOfSlot(list, slotA).leader).not.toBe(shardOfSlot(list, slotB).leader);
    const c = await raw(leaderOf(slotA));
    expect(str(await c.call('multi'))).toBe('+OK\r\n');
    expect(str(await c.call('set', a, '1'))).toBe('+QUEUED\r\n');
    expect(str(await c.call('set', b, '2'))).toBe(`-MOVED ${slotB} 127.0.0.1:${leaderOf(slotB).port}\r\n`);
    expect(str(await c.call('exec'))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n');
    expect(str(await c.call('get', a))).toBe('$-1\r\n');
  });
});

describe('POST /v1/shards/:id/transfer-leader', () => {
  const post = (h: NodeHandle, id: number, body: unknown) =>
    cluster.fetch(cluster.url(h, `/v1/shards/${id}/transfer-leader`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });

  it('a follower of the metadata group answers 307 to its leader', async () => {
    const meta = list.shards.find((s) => s.role === 'metadata')!;
    const follower = cluster.nodes.find((h) => h.id !== meta.leader)!;
    const r = await post(follower, 1, { node: 'n2' });
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe(cluster.url(cluster.node(meta.leader!), '/v1/shards/1/transfer-leader'));
    // Nothing changed.
    expect((await shardList(cluster, follower))?.epoch).toBe(list.epoch);
  });

  it('a refused change answers 409 with the reason', async () => {
    const meta = cluster.node(list.shards.find((s) => s.role === 'metadata')!.leader!);
    const r = await post(meta, 1, { node: 'n9' });
    expect(r.status).toBe(409);
    expect(await r.json()).toEqual({ error: 'refused', message: 'node n9 is not a voter of group 1' });
    const unknown = await post(meta, 42, { node: 'n1' });
    expect(unknown.status).toBe(409);
    expect(await unknown.json()).toEqual({ error: 'refused', message: 'unknown group 42' });
    expect((await shardList(cluster, meta))?.epoch).toBe(list.epoch);
  });

  it('moves leadership: CLUSTER NODES shows the new master, and clients follow', async () => {
    const g = dataShards(list).find((s) => s.id === 3)!;
    const to = cluster.nodes.find((h) => h.id !== g.leader)!;
    const meta = cluster.node(list.shards.find((s) => s.role === 'metadata')!.leader!);
    const r = await post(meta, g.id, { node: to.id });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, epoch: list.epoch + 1, shard: g.id, leader_hint: to.id });
    // The node that answered shows the change at once (read your writes).
    const now = await shardList(cluster, meta);
    expect(now?.epoch).toBe(list.epoch + 1);
    expect(now?.shards.find((s) => s.id === g.id)?.leader_hint).toBe(to.id);
    list = await waitShardLeaders(cluster, { epoch: list.epoch + 1 });
    expect(shardOfSlot(list, g.slots[0][0]).leader).toBe(to.id);
    // Every node's CLUSTER NODES names `to` the master of group 3's slots.
    const range = `${g.slots[0][0]}-${g.slots[0][1]}`;
    for (const h of cluster.nodes) {
      await waitFor(
        async () => {
          const lines = String(await plain(h).call('CLUSTER', 'NODES'))
            .trim()
            .split('\n');
          const fields = lines.find((l) => l.startsWith(nodeId(to.id)))?.split(' ') ?? [];
          return fields[2]?.includes('master') === true && fields.slice(8).includes(range);
        },
        10_000,
        `${h.id}'s CLUSTER NODES to show ${to.id} as master of ${range}`,
      );
    }
    // The new leader serves the group's keys; the old one redirects to it.
    const key = await keyOfGroup(g.id, 'moved-leader');
    const [slot] = await keyslots([key]);
    expect(str(await (await raw(to)).call('set', key, 'after'))).toBe('+OK\r\n');
    written.set(key, 'after');
    expect(str(await (await raw(cluster.node(g.leader!))).call('get', key))).toBe(`-MOVED ${slot} 127.0.0.1:${to.port}\r\n`);
  });

  it('MULTI/EXEC across two groups one node leads answers CROSSSLOT at EXEC, as Redis Cluster', async () => {
    // After the transfer above, one node leads two data groups.
    const byLeader = new Map<string, number[]>();
    for (const g of dataShards(list)) byLeader.set(g.leader!, [...(byLeader.get(g.leader!) ?? []), g.id]);
    const [leader, groups] = [...byLeader].find(([, gs]) => gs.length === 2)!;
    const a = await keyOfGroup(groups[0], 'tx2');
    const b = await keyOfGroup(groups[1], 'tx2');
    const c = await raw(cluster.node(leader));
    expect(str(await c.call('multi'))).toBe('+OK\r\n');
    expect(str(await c.call('set', a, '1'))).toBe('+QUEUED\r\n');
    expect(str(await c.call('set', b, '2'))).toBe('+QUEUED\r\n');
    expect(str(await c.call('exec'))).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    expect(str(await c.call('mget', a))).toBe('*1\r\n$-1\r\n');
    expect(str(await c.call('get', b))).toBe('$-1\r\n');
  });

  it("DBSIZE, KEYS and SCAN on a node leading two groups cover the keys of both, as Redis Cluster covers all of a node's slots", async () => {
    const byLeader = new Map<string, number[]>();
    for (const g of dataShards(list)) byLeader.set(g.leader!, [...(byLeader.get(g.leader!) ?? []), g.id]);
    const [leader, groups] = [...byLeader].find(([, gs]) => gs.length === 2)!;
    const keys = [...written.keys()];
    const slots = await keyslots(keys);
    const expected = new Set(keys.filter((_, i) => groups.includes(shardOfSlot(list, slots[i]).id)));
    // Both groups hold keys written above, so a node counting one of them would fall short.
    for (const g of groups) expect(keys.some((_, i) => shardOfSlot(list, slots[i]).id === g)).toBe(true);
    const r = plain(cluster.node(leader));
    expect(new Set((await r.keys('*')) as string[])).toEqual(expected);
    expect(await r.dbsize()).toBe(expected.size);
    const scanned: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const [next, page] = (await r.scan(cursor, 'COUNT', 50)) as [string, string[]];
      scanned.push(...page);
      cursor = next;
      pages++;
    } while (cursor !== '0' && pages < 10_000);
    expect(cursor).toBe('0');
    // Every key once: a key present from the first call to the last is returned, none twice.
    expect(scanned.length).toBe(expected.size);
    expect(new Set(scanned)).toEqual(expected);
    // RANDOMKEY draws from both groups (each holds about half the keys: 64 draws from one alone
    // would happen with odds of 2^-63).
    const drawn = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const k = (await r.randomkey()) as string;
      expect(expected.has(k)).toBe(true);
      drawn.add(shardOfSlot(list, (await keyslots([k]))[0]).id);
    }
    expect([...drawn].sort()).toEqual([...groups].sort());
  });

  it('every key written above reads back through a new ioredis Cluster after the move', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }]);
    closers.push(() => c.disconnect());
    const keys = [...written.keys()];
    expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((k) => written.get(k)));
  });

  it("CLUSTER SHARDS health follows a replica's link, with no leader change in between", async () => {
    // After the transfer, one node leads no group at all (the metadata group included): its
    // death changes no leader, so no new view is built on the others.
    const idle = cluster.nodes.find((h) => list.shards.every((g) => g.leader !== h.id));
    expect(idle, `a node leading nothing in ${JSON.stringify(list.shards.map((g) => [g.id, g.leader]))}`).toBeDefined();
    const others = cluster.nodes.filter((h) => h !== idle);
    const health = async (h: NodeHandle) => (await clusterShards(h.port)).map((s) => s.nodes.find((n) => n.port === idle!.port)?.health);
    for (const h of others) expect(await health(h)).toEqual(['online', 'online', 'online']);
    await cluster.kill9(idle!);
    for (const h of others) await waitFor(async () => (await health(h)).every((x) => x === 'failed'), 5000, `${h.id} to report ${idle!.id} failed`);
    expect((await waitShardLeaders(cluster, { among: others, epoch: list.epoch })).shards.map((g) => g.leader)).toEqual(list.shards.map((g) => g.leader));
  });

  it('FLUSHALL on a node leading two groups empties both, and no other group', async () => {
    const byLeader = new Map<string, number[]>();
    for (const g of dataShards(list)) byLeader.set(g.leader!, [...(byLeader.get(g.leader!) ?? []), g.id]);
    const [twice] = [...byLeader].find(([, gs]) => gs.length === 2)!;
    const [once] = [...byLeader].find(([, gs]) => gs.length === 1)!;
    const both = plain(cluster.node(twice));
    const other = plain(cluster.node(once));
    const kept = await other.dbsize();
    expect(await both.dbsize()).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(0);
    expect(await both.flushall()).toBe('OK');
    expect(await both.dbsize()).toBe(0);
    expect(await both.keys('*')).toEqual([]);
    expect(await other.dbsize()).toBe(kept);
  });
});
