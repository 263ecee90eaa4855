/**
 * Three real Raft groups (one per in-process node, LevelDB on disk) behind three real RESP
 * servers whose slot maps agree (test/resp/support/sharded.ts), driven by ioredis `Cluster`,
 * node-redis `createCluster` and raw sockets. The clients' own parsing of CLUSTER SLOTS/SHARDS is
 * the check that the map is well formed: every key they write must land in the state machine of
 * the group owning its slot, and nowhere else. Raw sockets pin the exact MOVED, CROSSSLOT and
 * sharded pub/sub replies.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { waitFor } from '../support/cluster-harness.ts';
import { ShardedServers } from './support/sharded.ts';

let shards: ShardedServers;
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  shards = await ShardedServers.start(3);
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await shards?.stop();
});

const str = (b: Buffer) => b.toString('latin1');
const now = () => shards.nodes[0].node.now();

async function raw(i: number): Promise<RawConn> {
  const c = await RawConn.open(shards.nodes[i].member.port);
  closers.push(() => c.close());
  return c;
}

/** A key in group g (1-based), found by hashing, never assumed. */
function keyIn(g: number, salt: string): string {
  const { ranges } = shards.nodes[g - 1];
  for (let i = 0; ; i++) {
    const k = `${salt}:${i}`;
    const s = keyHashSlot(k);
    if (ranges.some((r) => s >= r.start && s <= r.end)) return k;
  }
}

/** Slots at every range edge, and the port of the group owning each. */
function edges(): [slot: number, port: number][] {
  return shards.nodes.flatMap((n) => n.ranges.flatMap((r) => [r.start, r.end].map((s): [number, number] => [s, n.member.port])));
}

/** Each key is in its owning group's state machine with `value`, and in no other group's. */
function expectPlaced(keys: string[], value: (k: string) => string): void {
  for (const k of keys) {
    const owner = shards.groupOf(keyHashSlot(k));
    for (const n of shards.nodes) {
      const v = n.node.kv.get(Buffer.from(k), now());
      expect(v?.toString() ?? null, `${k} on group ${n.group}`).toBe(n === owner ? value(k) : null);
    }
  }
}

describe('ioredis Cluster over 3 groups', () => {
  it('routes every key to the group owning its slot, and reads it back', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: shards.nodes[1].member.port }]);
    closers.push(() => c.disconnect());
    const keys = Array.from({ length: 60 }, (_, i) => `io:${i}`);
    for (const k of keys) expect(await c.set(k, `v-${k}`)).toBe('OK');
    expectPlaced(keys, (k) => `v-${k}`);
    for (const k of keys) expect(await c.get(k)).toBe(`v-${k}`);
    // The client's own parse of CLUSTER SLOTS: it sends each slot to the owner first time, so
    // the writes above did not merely succeed by following MOVED.
    for (const [slot, port] of edges()) expect(c.slots[slot], `slot ${slot}`).toEqual([`127.0.0.1:${port}`]);
    // Every group got some: the map really is spread.
    expect(new Set(keys.map((k) => shards.groupOf(keyHashSlot(k)).group)).size).toBe(3);
    // Hash tags keep a multi-key command and a transaction in one group.
    expect(await c.mset('{io}a', '1', '{io}b', '2')).toBe('OK');
    expect(await c.multi().incr('{io}a').get('{io}b').exec()).toEqual([
      [null, 2],
      [null, '2'],
    ]);
    expectPlaced(['{io}a', '{io}b'], () => '2');
    // Keys of two groups in one command: the server refuses, the client reports it.
    await expect(c.mget(keyIn(1, 'io'), keyIn(2, 'io'))).rejects.toThrow(/CROSSSLOT/);
  });

  it('SSUBSCRIBE and SPUBLISH meet in the group owning the channel', async () => {
    const channel = keyIn(3, 'ioch');
    const sub = new Cluster([{ host: '127.0.0.1', port: shards.nodes[0].member.port }], { shardedSubscribers: true });
    const pub = new Cluster([{ host: '127.0.0.1', port: shards.nodes[0].member.port }]);
    closers.push(
      () => sub.disconnect(),
      () => pub.disconnect(),
    );
    const got: string[] = [];
    sub.on('smessage', (ch: string, msg: string) => got.push(`${ch}=${msg}`));
    await sub.ssubscribe(channel);
    let n = 0;
    await waitFor(
      async () => {
        n += Number(await pub.spublish(channel, `m${n}`));
        return got.length > 0;
      },
      10_000,
      'a shard message to arrive',
      100,
    );
    expect(got[0]).toMatch(new RegExp(`^${channel}=m\\d+$`));
    expect(n).toBeGreaterThan(0);
  });
});

describe('node-redis createCluster over 3 groups', () => {
  it('routes every key to the group owning its slot, and sharded pub/sub works', async () => {
    const c = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${shards.nodes[2].member.port}` }] });
    c.on('error', () => {});
    await c.connect();
    closers.push(() => c.destroy());
    const keys = Array.from({ length: 60 }, (_, i) => `nr:${i}`);
    for (const k of keys) expect(await c.set(k, `w-${k}`)).toBe('OK');
    expectPlaced(keys, (k) => `w-${k}`);
    for (const k of keys) expect(await c.get(k)).toBe(`w-${k}`);
    expect(c.masters.map((m) => m.port).sort()).toEqual(shards.nodes.map((n) => n.member.port).sort());
    for (const [slot, port] of edges()) expect(c.slots[slot].master.port, `slot ${slot}`).toBe(port);

    const channel = keyIn(2, 'nrch');
    const got: string[] = [];
    await c.sSubscribe(channel, (msg, ch) => got.push(`${ch}=${msg}`));
    expect(await c.sPublish(channel, 'hello')).toBe(1);
    await waitFor(() => got.length === 1, 5000, 'the shard message');
    expect(got).toEqual([`${channel}=hello`]);
    await c.sUnsubscribe(channel);
  });
});

describe('redirections and refusals, byte for byte', () => {
  it('MOVED to the owning group for writes, reads and READONLY reads of a group this node does not host', async () => {
    const n1 = await raw(0);
    const k2 = keyIn(2, 'mv');
    const target = `127.0.0.1:${shards.nodes[1].member.port}`;
    expect(str(await n1.call('set', k2, 'v'))).toBe(`-MOVED ${keyHashSlot(k2)} ${target}\r\n`);
    expect(str(await n1.call('get', k2))).toBe(`-MOVED ${keyHashSlot(k2)} ${target}\r\n`);
    expect(str(await n1.call('readonly'))).toBe('+OK\r\n');
    expect(str(await n1.call('get', k2))).toBe(`-MOVED ${keyHashSlot(k2)} ${target}\r\n`);
    expect(str(await n1.call('ssubscribe', k2))).toBe(`-MOVED ${keyHashSlot(k2)} ${target}\r\n`);
    expect(str(await n1.call('spublish', k2, 'm'))).toBe(`-MOVED ${keyHashSlot(k2)} ${target}\r\n`);
    // Its own group's keys run here.
    const k1 = keyIn(1, 'mv');
    expect(str(await n1.call('set', k1, 'v'))).toBe('+OK\r\n');
    expect(str(await n1.call('get', k1))).toBe('$1\r\nv\r\n');
  });

  it('CROSSSLOT for keys of two groups, in one command or one transaction; one group is fine', async () => {
    const n1 = await raw(0);
    const [a, b, other] = [keyIn(1, 'xa'), keyIn(1, 'xb'), keyIn(2, 'xc')];
    expect(keyHashSlot(a)).not.toBe(keyHashSlot(b));
    const CROSSSLOT = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    expect(str(await n1.call('mset', a, '1', other, '2'))).toBe(CROSSSLOT);
    // Different slots of one group: one group applies them atomically, so they are served.
    expect(str(await n1.call('mset', a, '1', b, '2'))).toBe('+OK\r\n');
    expect(str(await n1.call('multi'))).toBe('+OK\r\n');
    expect(str(await n1.call('mget', a, other))).toBe(CROSSSLOT);
    expect(str(await n1.call('exec'))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n');
    // A queued command for another group is MOVED at once and dooms the transaction (Redis Cluster).
    expect(str(await n1.call('multi'))).toBe('+OK\r\n');
    expect(str(await n1.call('set', other, '1'))).toBe(`-MOVED ${keyHashSlot(other)} 127.0.0.1:${shards.nodes[1].member.port}\r\n`);
    expect(str(await n1.call('exec'))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n');
    expect(str(await n1.call('ssubscribe', a, b))).toBe(CROSSSLOT);
  });

  it('CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT read the keys of this node', async () => {
    const n3 = await raw(2);
    const tag = keyIn(3, 'cnt');
    const slot = keyHashSlot(tag);
    for (const s of ['a', 'b', 'c']) expect(str(await n3.call('set', `{${tag}}${s}`, '1'))).toBe('+OK\r\n');
    expect(str(await n3.call('cluster', 'countkeysinslot', String(slot)))).toBe(':3\r\n');
    const two = str(await n3.call('cluster', 'getkeysinslot', String(slot), '2'));
    expect(two.startsWith('*2\r\n')).toBe(true);
    expect(str(await n3.call('cluster', 'getkeysinslot', String(slot), '0'))).toBe('*0\r\n');
    // Another group's slot has no keys here.
    const elsewhere = String(keyHashSlot(keyIn(1, 'cnt')));
    expect(str(await n3.call('cluster', 'countkeysinslot', elsewhere))).toBe(':0\r\n');
  });
});

describe('redis-cli --cluster check', () => {
  it('finds every slot covered, the nodes agreeing, and each node answering DBSIZE for its own keys', async () => {
    const { stdout } = await promisify(execFile)('redis-cli', ['--cluster', 'check', `127.0.0.1:${shards.nodes[1].member.port}`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    // redis-cli colours its report with ANSI escapes (ESC [ ... m).
    const text = stdout.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
    expect(text).toContain('[OK] All nodes agree about slots configuration.');
    expect(text).toContain('[OK] All 16384 slots covered.');
    expect(text).not.toContain('replied with error');
    const now = shards.nodes[0].node.now();
    for (const n of shards.nodes) {
      const keys = n.node.kv.dbsize(now);
      const slots = n.ranges[0].end - n.ranges[0].start + 1;
      expect(text).toMatch(new RegExp(`127\\.0\\.0\\.1:${n.member.port} \\(\\w+\\.\\.\\.\\) -> ${keys} keys \\| ${slots} slots \\| 0 slaves\\.`));
    }
  });
});
