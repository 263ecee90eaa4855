/**
 * DUMP and RESTORE (issue 14) on real nodes. Payloads differ from Redis's by design (RaftKV's
 * own format, docs/commands.md), so the differential part compares everything else against a
 * real redis-server 7.0: arity, option parsing, the order of errors (BUSYKEY before the TTL and
 * the payload), the checksum error, TTL and ABSTTL rules, MULTI; and what a key restored from
 * each server's own DUMP answers afterwards. Then on a 3-node cluster: every type round-trips on
 * the leader and through a follower with `redis-cli -c`, every replica holds byte-identical
 * values (their DUMPs are equal), and corrupted real payloads (tools/fuzz/payloads.ts) are
 * refused with the error and crash no node.
 */
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_PAYLOAD, restorePayload } from '../../tools/fuzz/payloads.ts';
import { Rng } from '../../tools/fuzz/rng.ts';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { redisCliBytes } from '../support/programs.ts';
import { replicasAgree } from './support/replicas-agree.ts';
import { RawConn } from './support/resp-bytes.ts';
import { c, near, runScript, type Step, unordered } from './support/script.ts';
import { sideBySide } from './support/side-by-side.ts';

const pair = sideBySide();
const run = pair.run;

/** A bulk reply's payload bytes. */
function bulkBody(reply: Buffer): Buffer {
  expect(reply[0]).toBe(0x24);
  return reply.subarray(reply.indexOf('\r\n') + 2, reply.length - 2);
}

/** The keys of every type and encoding the round trips use, and the commands that make them. */
const FILL = [
  'set str hello',
  'set int 12345',
  'hset lp a 1 b 2 c 3',
  `hset ht ${Array.from({ length: 600 }, (_, i) => `f${i} v${i}`).join(' ')}`,
  'sadd ints 3 -1 9223372036854775807',
  'sadd members a b c 1',
  `sadd bigset ${Array.from({ length: 700 }, (_, i) => `m${i}`).join(' ')}`,
  'rpush list a b a c',
  `rpush biglist ${Array.from({ length: 150 }, (_, i) => `e${i}`).join(' ')}`,
  `lpush biglist ${Array.from({ length: 45 }, (_, i) => `h${i}`).join(' ')}`,
  'lpop biglist 7',
  'zadd zl 1 a 2 b 1.5 c -0 d',
  `zadd zs ${Array.from({ length: 200 }, (_, i) => `${(i * 7) % 13}.25 m${i}`).join(' ')}`,
  'zrem zs m3 m150',
];
const KEYS = ['str', 'int', 'lp', 'ht', 'ints', 'members', 'bigset', 'list', 'biglist', 'zl', 'zs'];

describe('DUMP and RESTORE answer like redis-server 7.0', () => {
  it('arity, options, and the order of errors', async () => {
    await run([
      c('dump'),
      c('dump a b'),
      c('dump nokey'),
      c('restore a 0'),
      c('restore'),
      c('set s hello'),
      // BUSYKEY comes before the TTL and the payload are looked at.
      c('restore s 0 junk'),
      c('restore s x junk'),
      c('restore s -1 junk'),
      c('restore s 0 junk replace'),
      c('restore s x junk replace'),
      c('restore s -1 junk REPLACE'),
      c('restore n -1 junk'),
      c('restore n x junk'),
      c('restore n -0 junk'),
      c('restore n +5 junk'),
      c('restore n 9223372036854775808 junk'),
      c('restore n 0 junk'),
      c('restore n 0 \\e'),
      c('restore n 1000 junk absttl'),
      // Options are parsed first: their errors win over everything else.
      c('restore s 0 junk foo'),
      c('restore s x junk idletime'),
      c('restore s 0 junk idletime -1'),
      c('restore s 0 junk idletime x'),
      c('restore s 0 junk freq 256'),
      c('restore s 0 junk freq -1'),
      c('restore s 0 junk freq x'),
      c('restore s 0 junk idletime 1 freq 1'),
      c('restore s 0 junk freq 1 idletime 1'),
      c('restore s 0 junk idletime 1 idletime 2'),
      c('restore n 0 junk replace absttl idletime 5 freq'),
      c('restore n 0 junk REPLACE ABSTTL FREQ 0 FREQ 255'),
      c('exists n'),
      c('get s'),
      c('multi'),
      c('restore n -1 junk'),
      c('restore s 0 junk'),
      c('dump s', { compare: (a, b) => (a[0] === b[0] ? null : 'kinds differ') }),
      // The errors alike; DUMP's payload is RaftKV's own.
      c('exec', { compare: (a, b) => (a.split('\r\n').slice(0, 3).join() === b.split('\r\n').slice(0, 3).join() ? null : 'errors differ') }),
      c('hset h f v'),
      c('dump h', { compare: (a, b) => (a[0] === '$' && b[0] === '$' ? null : 'not bulk') }),
    ]);
  });

  it("a Redis payload is refused with Redis's own checksum error, the key left as it was", async () => {
    const conn = await RawConn.open(pair.port);
    try {
      expect((await conn.call('restore', 'rk', '0', REDIS_PAYLOAD)).toString()).toBe('-ERR DUMP payload version or checksum are wrong\r\n');
      expect((await conn.call('exists', 'rk')).toString()).toBe(':0\r\n');
    } finally {
      conn.close();
    }
  });

  it("each server's own payload restores a key that answers alike: values, encodings, TTLs", async () => {
    const [ours, theirs] = await Promise.all([RawConn.open(pair.port), RawConn.open(pair.redis.port)]);
    try {
      for (const conn of [ours, theirs]) {
        await conn.call('flushall');
        for (const line of FILL) await conn.call(...line.split(' '));
      }
      for (const key of KEYS) {
        for (const conn of [ours, theirs]) {
          const payload = bulkBody(await conn.call('dump', key));
          expect((await conn.call('restore', `c:${key}`, '0', payload)).toString(), key).toBe('+OK\r\n');
          expect((await conn.call('restore', `t:${key}`, '100000', payload)).toString()).toBe('+OK\r\n');
          expect((await conn.call('restore', `a:${key}`, String(Date.now() + 200_000), payload, 'ABSTTL')).toString()).toBe('+OK\r\n');
          expect((await conn.call('restore', `p:${key}`, '1', payload, 'ABSTTL')).toString()).toBe('+OK\r\n');
          // Redis's now + ttl wraps past int64: a time already past, so OK and no key.
          expect((await conn.call('restore', `o:${key}`, '9223372036854775807', payload)).toString()).toBe('+OK\r\n');
          expect((await conn.call('restore', key, '0', payload)).toString()).toBe('-BUSYKEY Target key name already exists.\r\n');
          expect((await conn.call('restore', key, '0', payload, 'REPLACE', 'IDLETIME', '100')).toString()).toBe('+OK\r\n');
        }
      }
    } finally {
      ours.close();
      theirs.close();
    }
    const u = { compare: unordered };
    const steps: Step[] = [];
    for (const key of KEYS) {
      const reads =
        key === 'str' || key === 'int'
          ? [`get c:${key}`]
          : key === 'lp' || key === 'ht'
            ? [`hgetall c:${key}`]
            : key.endsWith('list')
              ? [`lrange c:${key} 0 -1`, `lindex c:${key} -1`]
              : key.startsWith('z')
                ? [`zrange c:${key} 0 -1 withscores`, `zscore c:${key} m199`, `zrank c:${key} b`]
                : [`smembers c:${key}`];
      for (const r of reads) steps.push(c(r, key === 'ht' || key === 'members' || key === 'bigset' ? u : {}));
      steps.push(c(`type c:${key}`), c(`object encoding c:${key}`), c(`object encoding ${key}`));
      steps.push(
        c(`ttl c:${key}`),
        c(`pttl t:${key}`, { compare: near(1000) }),
        c(`ttl a:${key}`, { compare: near(2) }),
        c(`exists p:${key}`),
        c(`exists o:${key}`),
      );
    }
    steps.push(
      c('dbsize'),
      c('hlen c:ht'),
      c('scard c:bigset'),
      c('hget c:ht f599'),
      c('sismember c:ints 9223372036854775807'),
      c('llen c:biglist'),
      c('zcard c:zs'),
    );
    expect(await runScript(pair.port, pair.redis.port, steps)).toEqual([]);
  });
});

describe('on a 3-node cluster', () => {
  const cluster = new ClusterHarness({ nodes: 3 });
  let leader: NodeHandle;
  let follower: NodeHandle;

  beforeAll(async () => {
    await cluster.start();
    leader = await cluster.waitLeader();
    follower = cluster.nodes.find((h) => h !== leader)!;
  }, 60_000);

  afterAll(() => cluster.stop());

  /** Every node's DUMP of `keys`, read locally (READONLY), once they all agree. */
  const dumpsAgree = (keys: readonly string[]): Promise<string> =>
    replicasAgree(
      cluster.nodes,
      keys.map((k) => ['dump', k]),
      'values',
    );

  it('every type round-trips on the leader and through a follower with redis-cli -c; replicas byte-identical', async () => {
    await redisCliBytes(['-p', String(pair.redis.port), 'set', 'busy', 'x']);
    const conn = await RawConn.open(leader.port);
    try {
      await conn.call('flushall');
      for (const line of FILL) expect((await conn.call(...line.split(' '))).toString()[0]).not.toBe('-');
      for (const key of KEYS) {
        const payload = bulkBody(await conn.call('dump', key));
        expect((await conn.call('restore', `l:${key}`, '0', payload)).toString(), key).toBe('+OK\r\n');
        expect(bulkBody(await conn.call('dump', `l:${key}`)).equals(payload), key).toBe(true);
      }
    } finally {
      conn.close();
    }
    for (const key of KEYS) {
      // redis-cli prints a bulk reply raw, then a newline, when its output is not a terminal.
      const printed = await redisCliBytes(['-c', '-p', String(follower.port), 'dump', key]);
      const payload = printed.subarray(0, printed.length - 1);
      expect((await redisCliBytes(['-c', '-p', String(follower.port), '-x', 'restore', `f:${key}`, '0'], payload)).toString()).toBe('OK\n');
      expect((await redisCliBytes(['-c', '-p', String(follower.port), 'dump', `f:${key}`])).equals(printed), key).toBe(true);
      // An existing key: what redis-cli prints for Redis's BUSYKEY, byte for byte.
      const busy = await redisCliBytes(['-c', '-p', String(follower.port), '-x', 'restore', `f:${key}`, '0'], payload);
      expect(busy.toString()).toBe((await redisCliBytes(['-p', String(pair.redis.port), '-x', 'restore', 'busy', '0'], payload)).toString());
    }
    const all = KEYS.flatMap((k) => [k, `l:${k}`, `f:${k}`]);
    const agreed = await dumpsAgree(all);
    // Each restored key holds what its source holds, on every replica.
    const parts = agreed.split('|');
    for (let i = 0; i < KEYS.length; i++) {
      expect(parts[3 * i + 1]).toBe(parts[3 * i]);
      expect(parts[3 * i + 2]).toBe(parts[3 * i]);
    }
  }, 120_000);

  it('a refused payload proposes nothing: the applied index stays where it was', async () => {
    const conn = await RawConn.open(leader.port);
    try {
      await conn.call('set', 'busy', 'x');
      const good = bulkBody(await conn.call('dump', 'busy'));
      const flipped = Buffer.from(good);
      flipped[2] ^= 1;
      // A checksum that holds over a string with a byte too many: "Bad data format".
      const trailing = Buffer.concat([good.subarray(0, good.length - 4), Buffer.from([0]), Buffer.alloc(4)]);
      trailing.writeUInt32LE(crc32(trailing.subarray(0, trailing.length - 4)), trailing.length - 4);
      await waitFor(async () => (await cluster.status(leader))?.applied === (await cluster.status(leader))?.last_index, 10_000, 'the leader to apply its log');
      const before = (await cluster.status(leader))!.applied;
      const refused = [
        ['restore', 'n', '0', flipped],
        ['restore', 'n', '0', trailing, 'REPLACE'],
        ['restore', 'n', '0', REDIS_PAYLOAD],
        ['restore', 'n', '-1', good],
        ['restore', 'n', '0', good, 'IDLETIME', '1', 'FREQ', '1'],
      ];
      for (const cmd of refused) expect((await conn.call(...cmd)).toString()[0]).toBe('-');
      expect((await cluster.status(leader))!.applied).toBe(before);
      expect((await conn.call('restore', 'n', '0', good)).toString()).toBe('+OK\r\n');
      expect((await cluster.status(leader))!.applied).toBe(before + 1);
      // BUSYKEY depends on the state the entry meets, so a good payload is proposed to learn it.
      expect((await conn.call('restore', 'n', '0', good)).toString()).toBe('-BUSYKEY Target key name already exists.\r\n');
    } finally {
      conn.close();
    }
  });

  it('fuzz: corrupted real payloads are refused with the error, no node crashes, replicas agree', async () => {
    const rng = new Rng(14);
    const conn = await RawConn.open(leader.port);
    const replies = new Map<string, number>();
    try {
      for (let i = 0; i < 1500; i++) {
        const key = `fz:${i % 16}`;
        const reply = (await conn.call('restore', key, '0', restorePayload(rng), 'REPLACE')).toString();
        replies.set(reply, (replies.get(reply) ?? 0) + 1);
      }
    } finally {
      conn.close();
    }
    expect(new Set(replies.keys())).toEqual(new Set(['+OK\r\n', '-ERR DUMP payload version or checksum are wrong\r\n', '-ERR Bad data format\r\n']));
    expect(replies.get('-ERR Bad data format\r\n')).toBeGreaterThan(100);
    for (const h of cluster.nodes) {
      const c = await RawConn.open(h.port);
      expect((await c.call('ping')).toString()).toBe('+PONG\r\n');
      c.close();
      expect(h.proc?.exitCode ?? null).toBe(null);
    }
    await dumpsAgree(Array.from({ length: 16 }, (_, i) => `fz:${i}`));
  }, 120_000);
});
