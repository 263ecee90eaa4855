import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { RawConn } from './support/resp-bytes.ts';
import { type Comparator, c, elements, scanPage, unordered } from './support/script.ts';
import { redisCli, sideBySide } from './support/side-by-side.ts';

const pair = sideBySide();
const run = pair.run;

/** A random pick: as many elements (members differ). */
const sameCount: Comparator = (a, b) => (a[0] === b[0] && elements(a).length === elements(b).length ? null : 'counts differ');
/** A random single pick: a bulk string on both sides, or nil on both. */
const sameKind: Comparator = (a, b) => (a[0] === b[0] && (a[0] !== '$' || (a === '$-1\r\n') === (b === '$-1\r\n')) ? null : 'kinds differ');
const u = { compare: unordered };

describe('set commands answer like redis-server 7.0', () => {
  it('SADD, SREM, reads, SMOVE, errors, encodings', async () => {
    await run([
      c('sadd s 3 1 2 1'),
      c('smembers s'),
      c('object encoding s'),
      c('sadd s -5 9223372036854775807 007'),
      c('object encoding s'),
      c('smembers s', u),
      c('sadd ints 10 -1 0 5'),
      c('smembers ints'),
      c('sadd s'),
      c('srem s 1 nope 1'),
      c('srem nokey a'),
      c('sismember s 2'),
      c('sismember s 1'),
      c('sismember nokey 1'),
      c('smismember s 2 1 3'),
      c('smismember nokey a b'),
      c('scard s'),
      c('scard nokey'),
      c('smembers nokey'),
      c('sadd t a b c'),
      c('smove t s a'),
      c('smove t s a'),
      c('smove nokey s a'),
      c('smove t t b'),
      c('smove t t zz'),
      c('smove t newset c'),
      c('smembers newset'),
      c('exists t'),
      c('smove newset t c'),
      c('set str x'),
      c('smove str s a'),
      c('smove s str 2'),
      c('smove nokey str a'),
      c(`sadd big ${Array.from({ length: 512 }, (_, i) => String(i)).join(' ')}`),
      c('object encoding big'),
      c('sadd big 512'),
      c('object encoding big'),
      c('srem big 512 511'),
      c('object encoding big'),
      c('scard big'),
      c('sadd e \\e'),
      c('sismember e \\e'),
      c('sadd bin a\\0b'),
      c('smembers bin'),
    ]);
  });

  it('SPOP, SRANDMEMBER, SSCAN', async () => {
    await run([
      c('spop nokey'),
      c('spop nokey 3'),
      c('srandmember nokey'),
      c('srandmember nokey 3'),
      c('sadd s 1 2 3'),
      c('srandmember s 10'),
      c('srandmember s 0'),
      c('srandmember s 3'),
      c('srandmember s 2', { compare: sameCount }),
      c('srandmember s -5', { compare: sameCount }),
      c('srandmember s', { compare: sameKind }),
      c('srandmember s x'),
      c('srandmember s 1 2'),
      c('srandmember s -9223372036854775808'),
      c('spop s 0'),
      c('spop s -1'),
      c('spop s x'),
      c('spop s 1 2'),
      c('spop s', { compare: sameKind }),
      c('spop s 1', { compare: sameCount }),
      c('scard s'),
      c('spop s 10', { compare: sameCount }),
      c('exists s'),
      // A count past what an entry carries (2^52) pops everything, as Redis's does.
      c('sadd big 1 2 3'),
      c('spop big 9007199254740993', { compare: sameCount }),
      c('exists big'),
      c('sadd big 1 2 3'),
      c('srandmember big 9223372036854775807', { compare: sameCount }),
      c('sadd one only'),
      c('spop one'),
      c('exists one'),
      c('sadd s a b c'),
      c('sscan s 0', { compare: scanPage }),
      c('sscan s 0 match a*'),
      c('sscan s x'),
      c('sscan s 0 count 0'),
      c('sscan s 0 foo'),
      c('sscan nokey 0 foo'),
      c('sscan nokey 0'),
      c('set str x'),
      c('sscan str 0 foo'),
      c('sadd ints 3 1 2'),
      c('sscan ints 0'),
      // An intset is returned whole whatever COUNT says (a hashtable's cursor is RaftKV's own).
      c('sscan ints 0 count 1'),
    ]);
  });

  it('SINTER / SUNION / SDIFF, their stores and SINTERCARD', async () => {
    await run([
      c('sadd a 1 2 3 4'),
      c('sadd b 3 4 5'),
      c('sadd c x 3'),
      c('sinter a b'),
      c('sinter a b c', u),
      c('sinter a nokey'),
      c('sunion a b'),
      c('sunion a c', u),
      c('sunion nokey'),
      c('sdiff a b'),
      c('sdiff a b c'),
      c('sdiff nokey a'),
      c('sdiff c a', u),
      c('sinterstore d a b'),
      c('smembers d'),
      c('object encoding d'),
      c('sunionstore d a c'),
      c('smembers d', u),
      c('object encoding d'),
      c('set d x ex 100'),
      c('sdiffstore d a b'),
      c('ttl d'),
      c('smembers d'),
      c('sinterstore d a nokey'),
      c('exists d'),
      c('sdiffstore d nokey'),
      c('sunionstore a a b'),
      c('smembers a'),
      c('set str x'),
      c('sinter a str'),
      c('sinter nokey str'),
      c('sunion a str'),
      c('sdiff nokey str'),
      c('sinterstore d a str'),
      c('sunionstore str a'),
      c('type str'),
      c('sintercard 2 a b'),
      c('sintercard 2 a b limit 1'),
      c('sintercard 2 a b limit 0'),
      c('sintercard 1 a LIMIT 2'),
      c('sintercard 2 a nokey'),
      c('sintercard 0 a'),
      c('sintercard x a'),
      c('sintercard 3 a b'),
      c('sintercard 1 a limit -1'),
      c('sintercard 1 a limit x'),
      c('sintercard 1 a limit'),
      c('sintercard 1 a foo 1'),
      c('sintercard 2 a str'),
    ]);
  });

  it('WRONGTYPE both ways; TYPE, SCAN ... TYPE; RESP3 sets; MULTI', async () => {
    const setOnString = ['sadd str a', 'srem str a', 'smembers str', 'sismember str a', 'smismember str a', 'scard str', 'spop str', 'spop str 2'];
    const more = ['srandmember str', 'srandmember str 2', 'sscan str 0', 'sinter str', 'sunion str', 'sdiff str', 'sintercard 1 str'];
    await run([
      c('set str x'),
      c('hset h f v'),
      c('sadd s 1'),
      ...[...setOnString, ...more].map((l) => c(l)),
      c('sadd h a'),
      c('get s'),
      c('hget s f'),
      c('append s x'),
      c('type s'),
      c('scan 0 count 100 type set', { compare: scanPage }),
      c('scan 0 count 100 type hash', { compare: scanPage }),
      c('hello 3', { compare: () => null }),
      c('sadd r 3 1 2'),
      c('smembers r'),
      c('smembers nokey'),
      c('sinter r s'),
      c('sunion r s'),
      c('sdiff r s'),
      c('spop nokey 2'),
      c('spop r 0'),
      c('srandmember r 10'),
      c('srandmember nokey 2'),
      c('smismember r 1 9'),
      c('hello 2', { compare: () => null }),
      c('multi'),
      c('sadd m 1 2'),
      c('sadd m 3'),
      c('smembers m'),
      c('scard m'),
      c('sinterstore m2 m s'),
      c('exec'),
    ]);
  });
});

describe('RENAME, RENAMENX and COPY move and clone every type', () => {
  it('strings, hashes and sets, with their TTLs, encodings and errors', async () => {
    await run([
      c('set str v ex 100'),
      c('hset h a 1 b 2'),
      c('sadd s 3 1 2'),
      c('sadd t x y'),
      c('rename nokey x'),
      c('renamenx nokey x'),
      c('rename str str'),
      c('renamenx str str'),
      c('rename str str2'),
      c('ttl str2'),
      c('exists str'),
      c('rename h h2'),
      c('hgetall h2'),
      c('object encoding h2'),
      c('renamenx s h2'),
      c('renamenx s s2'),
      c('smembers s2'),
      c('rename t h2'),
      c('type h2'),
      c('smembers h2', u),
      c('copy s2 s3'),
      c('smembers s3'),
      c('sadd s3 9'),
      c('smembers s2'),
      c('copy s2 s3'),
      c('copy s2 s3 replace'),
      c('smembers s3'),
      c('copy s2 s2'),
      c('copy nokey x'),
      c('copy str2 str3'),
      c('ttl str3'),
      c('copy h2 c1 db 0'),
      c('copy h2 c2 db 1'),
      c('copy h2 c2 db x'),
      c('copy h2 c2 foo'),
      c('copy h2 c2 db'),
      c('copy h2 str3 REPLACE'),
      c('type str3'),
      c(`sadd big ${Array.from({ length: 600 }, (_, i) => `m${i}`).join(' ')}`),
      c('copy big big2'),
      c('object encoding big2'),
      c('scard big2'),
      c('srem big2 m1'),
      c('scard big'),
    ]);
  });
});

describe('through a follower with redis-cli -c, on a 3-node cluster', () => {
  const cluster = new ClusterHarness({ nodes: 3 });
  let follower: NodeHandle;

  beforeAll(async () => {
    await cluster.start();
    const leader = await cluster.waitLeader();
    follower = cluster.nodes.find((h) => h !== leader)!;
  }, 60_000);

  afterAll(() => cluster.stop());

  it('prints what redis-cli prints against redis-server, and every replica holds the same sets', async () => {
    const script = [
      'flushall',
      'sadd a 3 1 2',
      'sadd b 2 x',
      'smembers a',
      'sismember a 1',
      'smismember a 1 7',
      'scard b',
      'sinter a b',
      'sdiff a b',
      'sinterstore d a b',
      'smembers d',
      'smove a b 3',
      'srem a 1',
      'type a',
      'object encoding a',
      'object encoding b',
      'get a',
      'sintercard 2 a b limit 5',
      `sadd big ${Array.from({ length: 700 }, (_, i) => `m${i}`).join(' ')}`,
      'srem big m0 m699',
      'scard big',
      'spop big 0',
    ];
    for (const line of script) {
      const args = line.split(' ');
      const [ours, theirs] = await Promise.all([redisCli(['-c', '-p', String(follower.port), ...args]), redisCli(['-p', String(pair.redis.port), ...args])]);
      expect(ours, line).toBe(theirs);
    }
    // Random picks through the follower: proposed once, applied alike everywhere.
    await redisCli(['-c', '-p', String(follower.port), 'spop', 'big', '5']);
    await redisCli(['-c', '-p', String(follower.port), 'sunionstore', 'u', 'a', 'b', 'big']);
    const read = async (h: NodeHandle) => {
      const conn = await RawConn.open(h.port);
      try {
        await conn.call('readonly');
        const out: string[] = [];
        for (const cmd of [
          ['smembers', 'a'],
          ['smembers', 'b'],
          ['smembers', 'big'],
          ['smembers', 'u'],
          ['sscan', 'big', '0', 'count', '1000'],
        ]) {
          out.push((await conn.call(...cmd)).toString('latin1'));
        }
        return out.join('|');
      } finally {
        conn.close();
      }
    };
    let views: string[] = [];
    await waitFor(
      async () => {
        views = await Promise.all(cluster.nodes.map(read));
        return views.every((v) => v === views[0]) && views[0].includes('m1');
      },
      20_000,
      'every replica to hold the same sets',
    );
    expect(new Set(views).size).toBe(1);
  }, 120_000);
});
