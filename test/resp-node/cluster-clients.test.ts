/**
 * A live 3-node cluster of real processes, driven by real Redis clients over RESP: ioredis
 * (one connection and `Cluster`), node-redis (`createClient` and `createCluster`), and raw
 * sockets where the exact reply matters. Followers redirect with MOVED, READONLY serves stale
 * reads, CLUSTER SLOTS/SHARDS/NODES/INFO describe one shard led by the Raft leader, and pub/sub
 * messages published on the leader reach subscribers on every node in log order.
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { encodeCommand, RawConn } from './support/resp-bytes.ts';

const cluster = new ClusterHarness({ nodes: 3 });
let leader: NodeHandle;
let followers: NodeHandle[];
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  await cluster.start();
  leader = await cluster.waitLeader();
  followers = cluster.nodes.filter((h) => h !== leader);
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await cluster.stop();
});

function ioredis(h: NodeHandle): Redis {
  const r = new Redis({ port: h.port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1 });
  closers.push(() => r.disconnect());
  return r;
}

async function raw(h: NodeHandle): Promise<RawConn> {
  const c = await RawConn.open(h.port);
  closers.push(() => c.close());
  return c;
}

const str = (b: Buffer) => b.toString('latin1');
const nodeId = (id: string) => createHash('sha1').update(id).digest('hex');

describe('follower redirects, the Redis Cluster way', () => {
  it('answers writes and plain reads with MOVED <slot> to the leader, keyless ones with slot 0', async () => {
    const f = await raw(followers[0]);
    const target = `127.0.0.1:${leader.port}`;
    expect(str(await f.call('set', 'user:1', 'v'))).toBe(`-MOVED ${keyHashSlot('user:1')} ${target}\r\n`);
    expect(str(await f.call('set', '{tag}a', 'v'))).toBe(`-MOVED ${keyHashSlot('tag')} ${target}\r\n`);
    expect(str(await f.call('get', 'user:1'))).toBe(`-MOVED ${keyHashSlot('user:1')} ${target}\r\n`);
    expect(str(await f.call('flushall'))).toBe(`-MOVED 0 ${target}\r\n`);
    expect(str(await f.call('dbsize'))).toBe(`-MOVED 0 ${target}\r\n`);
    expect(str(await f.call('publish', 'ch', 'm'))).toBe(`-MOVED 0 ${target}\r\n`);
    expect(str(await f.call('watch', 'user:1'))).toBe(`-MOVED ${keyHashSlot('user:1')} ${target}\r\n`);
    // Commands that need no leader run anywhere.
    expect(str(await f.call('ping'))).toBe('+PONG\r\n');
    expect(str(await f.call('cluster', 'keyslot', 'user:1'))).toBe(`:${keyHashSlot('user:1')}\r\n`);
    // MULTI on a follower: the queued write is refused, so EXEC aborts.
    expect(str(await f.call('multi'))).toBe('+OK\r\n');
    expect(str(await f.call('incr', 'n'))).toBe(`-MOVED ${keyHashSlot('n')} ${target}\r\n`);
    expect(str(await f.call('exec'))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n');
  });

  it('serves stale reads after READONLY (writes still redirect) and linearizable reads on the leader', async () => {
    const l = await raw(leader);
    const f = await raw(followers[1]);
    expect(str(await l.call('set', 'ro:k', 'fresh'))).toBe('+OK\r\n');
    expect(str(await l.call('get', 'ro:k'))).toBe('$5\r\nfresh\r\n');
    expect(str(await f.call('readonly'))).toBe('+OK\r\n');
    await waitFor(async () => str(await f.call('get', 'ro:k')) === '$5\r\nfresh\r\n', 5000, 'the follower to apply the write');
    expect(str(await f.call('exists', 'ro:k'))).toBe(':1\r\n');
    expect(str(await f.call('set', 'ro:k', 'x'))).toBe(`-MOVED ${keyHashSlot('ro:k')} 127.0.0.1:${leader.port}\r\n`);
    // A read-only transaction runs on the follower too.
    expect(str(await f.call('multi'))).toBe('+OK\r\n');
    await f.call('get', 'ro:k');
    expect(str(await f.call('exec'))).toBe('*1\r\n$5\r\nfresh\r\n');
    expect(str(await f.call('readwrite'))).toBe('+OK\r\n');
    expect(str(await f.call('get', 'ro:k'))).toMatch(/^-MOVED /);
  });

  it('keeps a connection’s pipelined commands in order: each read sees the writes before it', async () => {
    const r = ioredis(leader);
    const p = r.pipeline();
    for (let i = 0; i < 50; i++) p.incr('order:n').get('order:n').set('order:s', String(i)).get('order:s');
    const out = (await p.exec()) ?? [];
    for (let i = 0; i < 50; i++) {
      expect(out[i * 4]).toEqual([null, i + 1]);
      expect(out[i * 4 + 1]).toEqual([null, String(i + 1)]);
      expect(out[i * 4 + 3]).toEqual([null, String(i)]);
    }
  });

  it('batched reads answer before a later write of their connection commits, on every connection', async () => {
    const conns = await Promise.all([raw(leader), raw(leader), raw(leader)]);
    for (const [i, c] of conns.entries()) expect(str(await c.call('set', `batch:${i}`, 'a'))).toBe('+OK\r\n');
    // Each connection's 30 GETs share barriers with the others'; its SET must wait for them.
    for (const [i, c] of conns.entries()) {
      const key = `batch:${i}`;
      const get = encodeCommand(['get', key]);
      c.send(Buffer.concat([...Array(30).fill(get), encodeCommand(['set', key, 'b']), ...Array(5).fill(get)]));
    }
    for (const c of conns) {
      expect((await c.read(36)).map(str)).toEqual([...Array(30).fill('$1\r\na\r\n'), '+OK\r\n', ...Array(5).fill('$1\r\nb\r\n')]);
    }
  });
});

describe('counters', () => {
  it('count commands and keyspace hits and misses, the same in INFO and /metrics', async () => {
    const c = await raw(leader);
    const stat = async (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(str(await c.call('info', 'stats')))?.[1]);
    const scrape = async () => (await fetch(cluster.url(leader, '/metrics'))).text();
    const metric = (text: string, line: string) => Number(new RegExp(`^${line} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(str(await c.call('set', 'count:k', 'v'))).toBe('+OK\r\n');
    const [hits, misses] = [await stat('keyspace_hits'), await stat('keyspace_misses')];
    expect([hits, misses].every(Number.isInteger)).toBe(true);
    const gets = metric(await scrape(), 'raftkv_commands_total\\{command="get"\\}') || 0;
    for (let i = 0; i < 3; i++) await c.call('get', 'count:k');
    for (let i = 0; i < 2; i++) await c.call('get', 'count:missing');
    expect(await stat('keyspace_hits')).toBe(hits + 3);
    expect(await stat('keyspace_misses')).toBe(misses + 2);
    const text = await scrape();
    expect(metric(text, 'raftkv_commands_total\\{command="get"\\}')).toBe(gets + 5);
    expect(metric(text, 'raftkv_keyspace_hits_total')).toBe(hits + 3);
    expect(metric(text, 'raftkv_keyspace_misses_total')).toBe(misses + 2);
  });
});

describe('CLUSTER and INFO describe one shard led by the Raft leader', () => {
  it('CLUSTER SLOTS, SHARDS, NODES, INFO and MYID agree on every node', async () => {
    for (const h of cluster.nodes) {
      const r = ioredis(h);
      const slots = await r.cluster('SLOTS');
      expect(slots).toHaveLength(1);
      const [start, end, master, ...replicas] = slots[0];
      expect([start, end]).toEqual([0, 16383]);
      expect(master.slice(0, 3)).toEqual(['127.0.0.1', leader.port, nodeId(leader.id)]);
      expect(replicas.map((x) => x[1]).sort()).toEqual(followers.map((x) => x.port).sort());
      expect(await r.cluster('MYID')).toBe(nodeId(h.id));
      const info = (await r.cluster('INFO')) as string;
      expect(info).toContain('cluster_state:ok\r\n');
      expect(info).toContain('cluster_known_nodes:3\r\n');
      const nodes = ((await r.cluster('NODES')) as string).trim().split('\n');
      expect(nodes).toHaveLength(3);
      const mine = nodes.find((l) => l.includes('myself'))!;
      expect(mine.startsWith(`${nodeId(h.id)} 127.0.0.1:${h.port}@${h.httpPort} myself,${h === leader ? 'master' : 'slave'}`)).toBe(true);
      expect(nodes.find((l) => l.startsWith(nodeId(leader.id)))).toMatch(/[ ,]master - .* connected 0-16383$/);
      const shards = (await r.cluster('SHARDS')) as unknown[][];
      expect(shards[0][0]).toBe('slots');
      expect(shards[0][1]).toEqual([0, 16383]);
    }
  });

  it('INFO replication and raft: master with two connected replicas; replicas name the master', async () => {
    const li = await ioredis(leader).info('replication');
    expect(li).toContain('role:master');
    expect(li).toContain('connected_slaves:2');
    const fi = await ioredis(followers[0]).info();
    expect(fi).toContain('role:slave');
    expect(fi).toContain(`master_port:${leader.port}`);
    expect(fi).toContain('master_link_status:up');
    expect(fi).toContain(`raft_leader:${leader.id}`);
    expect(fi).toMatch(/raft_term:\d+/);
    expect(fi).toContain('raft_voters:n1,n2,n3');
  });
});

describe('ioredis', () => {
  it('single connection: SET/GET/INCR/EXPIRE/TTL, MULTI/EXEC, WATCH aborts on a concurrent write', async () => {
    const r = ioredis(leader);
    expect(await r.set('io:k', 'v', 'EX', 100)).toBe('OK');
    expect(await r.get('io:k')).toBe('v');
    expect(await r.ttl('io:k')).toBeGreaterThan(98);
    expect(await r.incr('io:n')).toBe(1);
    expect(await r.incrby('io:n', 41)).toBe(42);
    expect(await r.expire('io:n', 50)).toBe(1);
    expect(await r.pttl('io:n')).toBeGreaterThan(49_000);
    expect(await r.multi().set('io:a', '1').incr('io:a').get('io:a').exec()).toEqual([
      [null, 'OK'],
      [null, 2],
      [null, '2'],
    ]);
    const other = ioredis(leader);
    await r.watch('io:w');
    await other.set('io:w', 'theirs');
    expect(await r.multi().set('io:w', 'mine').exec()).toBeNull();
    expect(await r.get('io:w')).toBe('theirs');
    await r.watch('io:w');
    expect(await r.multi().set('io:w', 'mine').exec()).toEqual([[null, 'OK']]);
    expect(await other.get('io:w')).toBe('mine');
  });

  it('Cluster: discovers the leader through a follower and follows MOVED; scaleReads reads replicas', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: followers[0].port }], { scaleReads: 'slave' });
    closers.push(() => c.disconnect());
    for (let i = 0; i < 50; i++) expect(await c.set(`ioc:${i}`, String(i))).toBe('OK');
    expect(await c.incr('ioc:n')).toBe(1);
    expect(await c.multi().set('{ioc}a', '1').incr('{ioc}a').exec()).toEqual([
      [null, 'OK'],
      [null, 2],
    ]);
    // Replica reads are stale by design: wait until the replicas caught up.
    await waitFor(async () => (await c.get('ioc:49')) === '49', 5000, 'replicas to apply');
    for (let i = 0; i < 50; i++) expect(await c.get(`ioc:${i}`)).toBe(String(i));
  });
});

describe('node-redis', () => {
  it('createClient: SET/GET/INCR/EXPIRE/TTL, MULTI/EXEC, WATCH', async () => {
    const r = createClient({ url: `redis://127.0.0.1:${leader.port}` });
    r.on('error', () => {});
    await r.connect();
    closers.push(() => r.destroy());
    expect(await r.set('nr:k', 'v', { EX: 100 })).toBe('OK');
    expect(await r.get('nr:k')).toBe('v');
    expect(await r.ttl('nr:k')).toBeGreaterThan(98);
    expect(await r.incr('nr:n')).toBe(1);
    expect(await r.expire('nr:n', 10)).toBe(1);
    expect(await r.multi().set('nr:a', '5').incrBy('nr:a', 5).get('nr:a').exec()).toEqual(['OK', 10, '10']);
    await r.watch('nr:a');
    const other = createClient({ url: `redis://127.0.0.1:${leader.port}` });
    await other.connect();
    closers.push(() => other.destroy());
    await other.set('nr:a', 'x');
    await expect(r.multi().set('nr:a', 'y').exec()).rejects.toThrow(/WATCH|aborted/i);
  });

  it('createCluster: discovers the leader, writes, follows MOVED and reads from replicas', async () => {
    const c = createCluster({
      rootNodes: [{ url: `redis://127.0.0.1:${followers[1].port}` }],
      useReplicas: true,
    });
    c.on('error', () => {});
    await c.connect();
    closers.push(() => c.destroy());
    for (let i = 0; i < 50; i++) expect(await c.set(`nrc:${i}`, String(i))).toBe('OK');
    expect(await c.incr('nrc:n')).toBe(1);
    expect(await c.multi().set('{nrc}a', '1').incr('{nrc}a').exec()).toEqual(['OK', 2]);
    await waitFor(async () => (await c.get('nrc:49')) === '49', 5000, 'replicas to apply');
    for (let i = 0; i < 50; i++) expect(await c.get(`nrc:${i}`)).toBe(String(i));
  });
});

describe('pub/sub through the log', () => {
  it('subscribers on followers get messages published on the leader, all of them, in order', async () => {
    const sub = ioredis(followers[0]);
    const got: string[] = [];
    sub.on('message', (ch: string, m: string) => got.push(`${ch}:${m}`));
    await sub.subscribe('news');
    const psub = createClient({ url: `redis://127.0.0.1:${followers[1].port}` });
    psub.on('error', () => {});
    await psub.connect();
    closers.push(() => psub.destroy());
    const pgot: string[] = [];
    await psub.pSubscribe('ne*', (m, ch) => pgot.push(`${ch}:${m}`));
    const onLeader = ioredis(leader);
    const lgot: string[] = [];
    onLeader.on('message', (ch: string, m: string) => lgot.push(`${ch}:${m}`));
    await onLeader.subscribe('news');

    const pub = ioredis(leader);
    const counts = await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publish('news', String(i))));
    // The reply counts receivers on the node that took the PUBLISH: the leader's one subscriber.
    expect(new Set(counts)).toEqual(new Set([1]));
    const want = Array.from({ length: 200 }, (_, i) => `news:${i}`);
    await waitFor(() => got.length >= 200 && pgot.length >= 200 && lgot.length >= 200, 10_000, 'all messages');
    expect(got).toEqual(want);
    expect(pgot).toEqual(want);
    expect(lgot).toEqual(want);
    expect(await ioredis(followers[0]).pubsub('NUMSUB', 'news')).toEqual(['news', 1]);
  });
});
