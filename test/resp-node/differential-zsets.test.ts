/**
 * Differential test of the sorted-set commands (issue 14) against a real redis-server 7.0, as
 * differential-sets.test.ts does the sets: the same scripts on both, every reply compared as
 * bytes (sorted sets are ordered, so nearly everything compares exactly), errors, arity,
 * WRONGTYPE, encodings, RESP3 doubles and nesting, and MULTI included. Then through a follower
 * of a 3-node cluster with `redis-cli -c`, and every replica must hold the same sorted sets.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { RedisServer } from '../support/redis-server.ts';
import { RawConn } from './support/resp-bytes.ts';
import { c, runScript, type Step } from './support/script.ts';

let redis: RedisServer;
const single = new ClusterHarness({ nodes: 1 });
let port = 0;

beforeAll(async () => {
  const [r, started] = await Promise.allSettled([RedisServer.start(['--databases', '1']), single.start()]);
  if (r.status === 'fulfilled') redis = r.value;
  for (const s of [r, started]) if (s.status === 'rejected') throw s.reason;
  await single.waitLeader();
  port = single.nodes[0].port;
}, 60_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), single.stop()]);
});

async function run(steps: Step[]): Promise<void> {
  const mismatches = await runScript(port, redis.port, [c('flushall'), ...steps]);
  expect(mismatches).toEqual([]);
}

const many = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${i + from} m${i + from}`).join(' ');

/** The commands of step 1 against a string key and a missing key. */
const ON_STRING = [
  'zrange str 0 1',
  'zrangebyscore str 0 1',
  'zrangebylex str - +',
  'zrevrange str 0 1',
  'zlexcount str - +',
  'zremrangebyrank str 0 1',
  'zremrangebyscore str 0 1',
  'zremrangebylex str - +',
  'zrangestore d str 0 1',
  'zadd str 1 a',
  'zincrby str 1 a',
  'zscore str a',
  'zmscore str a b',
  'zcard str',
  'zcount str 0 1',
  'zrank str a',
  'zrevrank str a',
  'zrem str a',
  'zpopmin str',
  'zpopmax str 2',
  'zmpop 1 str min',
];

describe('sorted-set commands answer like redis-server 7.0', () => {
  it('ZADD and its options, ZINCRBY, their errors and replies', async () => {
    await run([
      c('zadd z 1 a 2 b 3 c'),
      c('zadd z 1 a'),
      c('zadd z ch 5 a 2 b 9 new'),
      c('zadd z nx 100 a 7 x'),
      c('zadd z xx 100 a 7 y'),
      c('zadd z xx ch 101 a'),
      c('zadd z gt 50 a 60 c'),
      c('zadd z gt ch 50 a 60 c'),
      c('zadd z lt ch 50 a 1 c'),
      c('zadd z xx gt 200 a'),
      c('zadd z incr 10 a'),
      c('zadd z incr nx 10 a'),
      c('zadd z incr xx 10 nosuch'),
      c('zadd z incr gt -1 a'),
      c('zadd z incr lt -1 a'),
      c('zadd z nx xx 1 a'),
      c('zadd z gt lt 1 a'),
      c('zadd z gt nx 1 a'),
      c('zadd z lt nx 1 a'),
      c('zadd z incr 1 a 2 b'),
      c('zadd z 1'),
      c('zadd z 1 a 2'),
      c('zadd z nx'),
      c('zadd z'),
      c('zadd'),
      c('zadd z x a'),
      c('zadd z 1 a x b'),
      c('zadd z nan a'),
      c('zadd z NaN a'),
      c('zadd z \\s1 a'),
      c('zadd z 1\\s a'),
      c('zadd z 1\\0 a'),
      c('zadd z \\e a'),
      c('zadd z 1e400 a'),
      c('zadd z 1e-400 a'),
      c('zadd z 4e-320 tiny'),
      c('zadd z 0x10 hex 0x1.8p1 hexf 0X.8 hexg +1.5 plus .5 dot 5. dot2 1e3 exp INF inf2 -Infinity ninf'),
      c('zadd z infinit a'),
      c('zadd z 0x a'),
      c('zscore z hex'),
      c('zscore z hexf'),
      c('zscore z hexg'),
      c('zscore z tiny'),
      c('zscore z inf2'),
      c('zscore z ninf'),
      c('zadd z incr +inf inf2'),
      c('zadd z incr -inf inf2'),
      c('zscore z inf2'),
      c('zincrby z 1.5 a'),
      c('zincrby z -inf ninf'),
      c('zincrby z inf ninf'),
      c('zincrby z x a'),
      c('zincrby z nx a'),
      c('zincrby z 1 newm'),
      c('zincrby z 0.1 newm'),
      c('zincrby z 0.2 newm'),
      c('zincrby newkey 3 m'),
      c('zincrby z 1'),
      c('zadd z 1.1 a 0.30000000000000004 b 1e17 c 1e16 d 123456789012345678 e 1e-5 f 0.0001 g 2.5e-5 h -0.0 i'),
      c('zmscore z a b c d e f g h i nosuch'),
      c('zmscore nokey a b'),
      c('zmscore z'),
      c('zadd neg -0 m'),
      c('zscore neg m'),
      c('zincrby neg -0 m'),
      c('zincrby neg -0 n'),
      c('zscore neg n'),
      c('zadd z 1 a 1 a 2 a'),
      c('zadd z ch 1 a 1 a 2 a'),
      c('zscore z a'),
      c('zadd z xx 5 missing'),
      c('zadd nokey xx 5 m'),
      c('exists nokey'),
      c('zadd nokey xx incr 5 m'),
      c('zadd bin 1 a\\0b 2 \\e'),
      c('zscore bin a\\0b'),
      c('zscore bin \\e'),
    ]);
  });

  it('ZSCORE, ZCARD, ZCOUNT, ZRANK, ZREM, encodings and their conversion', async () => {
    await run([
      c('zadd z 1 a 2 b 2 c 3 d -1 e inf f -inf g'),
      c('zscore z a'),
      c('zscore z nosuch'),
      c('zscore nokey a'),
      c('zcard z'),
      c('zcard nokey'),
      c('zcount z -inf +inf'),
      c('zcount z 2 2'),
      c('zcount z (2 3'),
      c('zcount z (1 (3'),
      c('zcount z 3 1'),
      c('zcount z (inf +inf'),
      c('zcount z inf inf'),
      c('zcount z \\s1 3'),
      c('zcount z \\e 3'),
      c('zcount z ( 3'),
      c('zcount z 1\\0junk 3'),
      c('zcount z 1e999 inf'),
      c('zcount z x 3'),
      c('zcount z 1 nan'),
      c('zcount z [1 3'),
      c('zcount nokey 1 3'),
      c('zcount nokey x 3'),
      c('zrank z a'),
      c('zrank z g'),
      c('zrank z f'),
      c('zrevrank z f'),
      c('zrevrank z c'),
      c('zrank z nosuch'),
      c('zrank nokey a'),
      c('zrank z a withscore'),
      c('zrem z a nosuch a'),
      c('zrem z nosuch'),
      c('zrem nokey a'),
      c('zrem z'),
      c('object encoding z'),
      c('type z'),
      c(`zadd big ${many(128)}`),
      c('object encoding big'),
      c('zadd big 128 m128'),
      c('object encoding big'),
      c('zrem big m0 m1 m2'),
      c('object encoding big'),
      c('zcard big'),
      c('zrank big m100'),
      c('zrevrank big m100'),
      c('zcount big (10 20'),
      c(`zadd long 1 ${'x'.repeat(64)}`),
      c('object encoding long'),
      c(`zadd long 1 ${'y'.repeat(65)}`),
      c('object encoding long'),
      c(`zadd big2 -0 first ${many(140, 1)}`),
      c('zscore big2 first'),
      c(`zadd big2 -0 second`),
      c('zscore big2 second'),
      c('zrem e1 x'),
      c('zadd one 1 a'),
      c('zrem one a'),
      c('exists one'),
    ]);
  });

  it('ZPOPMIN, ZPOPMAX, ZMPOP, RESP2 and RESP3', async () => {
    await run([
      c('zpopmin nokey'),
      c('zpopmin nokey 2'),
      c('zadd z 1 a 2 b 3 c 4 d 5 e'),
      c('zpopmin z'),
      c('zpopmax z'),
      c('zpopmin z 0'),
      c('zpopmin z -1'),
      c('zpopmin z x'),
      c('zpopmin z 1 2'),
      c('zpopmin z 2'),
      c('zpopmax z 10'),
      c('exists z'),
      c('zadd z 1 a 2 b 3 c 4 d 5 e'),
      c('zadd y 1 y'),
      c('zmpop 1 nokey min'),
      c('zmpop 2 nokey z min'),
      c('zmpop 2 nokey z max count 2'),
      c('zmpop 2 z y min count 10'),
      c('zmpop 2 z y min count 10'),
      c('zmpop 2 z y min count 10'),
      c('zmpop 0 z min'),
      c('zmpop -1 z min'),
      c('zmpop x z min'),
      c('zmpop 3 z min'),
      c('zmpop 1 z'),
      c('zmpop 1 z foo'),
      c('zmpop 1 z min count 0'),
      c('zmpop 1 z min count -1'),
      c('zmpop 1 z min count x'),
      c('zmpop 1 z min count'),
      c('zmpop 1 z min count 1 count 1'),
      c('zmpop 1 z min foo'),
      c('zmpop 1'),
      c('set str x'),
      c('zadd z2 1 a'),
      c('zmpop 2 str z2 min'),
      c('zmpop 2 z2 str min'),
      c('hello 3', { compare: () => null }),
      c('zadd r 1.5 a 2 b inf c -0.25 d'),
      c('zscore r a'),
      c('zscore r c'),
      c('zscore r nosuch'),
      c('zmscore r a nosuch c'),
      c('zincrby r 1 a'),
      c('zadd r incr 1 a'),
      c('zadd r incr nx 1 a'),
      c('zpopmin r'),
      c('zpopmin r 1'),
      c('zpopmax r 5'),
      c('zpopmin r 0'),
      c('zpopmin nokey'),
      c('zadd r 1 a 2 b'),
      c('zmpop 1 r max count 5'),
      c('zmpop 1 nokey max'),
      c('hello 2', { compare: () => null }),
    ]);
  });

  it('ZRANGE in every form, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGE, ZLEXCOUNT', async () => {
    const forms = (key: string) => [
      `zrange ${key} 0 -1`,
      `zrange ${key} 0 -1 withscores`,
      `zrange ${key} 1 3`,
      `zrange ${key} -3 -1 withscores`,
      `zrange ${key} -100 100`,
      `zrange ${key} 5 2`,
      `zrange ${key} 100 200`,
      `zrange ${key} 0 -1 rev withscores`,
      `zrange ${key} 1 2 rev`,
      `zrange ${key} -9223372036854775808 9223372036854775807`,
      `zrange ${key} (1 5 byscore withscores`,
      `zrange ${key} 5 (1 byscore rev`,
      `zrange ${key} -inf +inf byscore limit 1 2`,
      `zrange ${key} -inf +inf byscore limit 1 -1 withscores`,
      `zrange ${key} -inf +inf byscore limit -1 2`,
      `zrange ${key} -inf +inf byscore limit 0 0`,
      `zrange ${key} +inf -inf byscore rev limit 2 3 withscores`,
      `zrangebyscore ${key} 2 3`,
      `zrangebyscore ${key} (2 (4 withscores`,
      `zrangebyscore ${key} -inf inf limit 2 100`,
      `zrevrangebyscore ${key} +inf -inf withscores`,
      `zrevrangebyscore ${key} (4 2 limit 1 1`,
      `zrevrange ${key} 0 2`,
      `zrevrange ${key} 0 -1 withscores`,
      `zcount ${key} 2 4`,
    ];
    await run([
      c('zadd z 1 a 2 b 2 c 3 d 4 e 5 f'),
      c(`zadd zbig ${many(200)}`),
      ...forms('z').map((l) => c(l)),
      ...forms('zbig').map((l) => c(l)),
      ...forms('nokey').map((l) => c(l)),
      c('zadd lex 0 a 0 b 0 c 0 d 0 ee 0 f'),
      c(`zadd lexbig ${Array.from({ length: 150 }, (_, i) => `0 w${String(i).padStart(3, '0')}`).join(' ')}`),
      ...['lex', 'lexbig', 'nokey'].flatMap((k) => [
        c(`zrange ${k} - + bylex`),
        c(`zrange ${k} [b (e bylex`),
        c(`zrange ${k} + - bylex rev`),
        c(`zrange ${k} (ee [b bylex rev limit 1 2`),
        c(`zrange ${k} - + bylex limit 2 3`),
        c(`zrangebylex ${k} [c +`),
        c(`zrangebylex ${k} (w010 [w020 limit 2 3`),
        c(`zrevrangebylex ${k} + [c`),
        c(`zrevrangebylex ${k} [w020 (w010`),
        c(`zlexcount ${k} - +`),
        c(`zlexcount ${k} [b (d`),
        c(`zlexcount ${k} (w010 [w020`),
        c(`zlexcount ${k} + -`),
      ]),
      c('zrange lex a b bylex'),
      c('zrange lex [a b bylex'),
      c('zrange lex [a \\e bylex'),
      c('zrange lex -x + bylex'),
      c('zrange lex -\\0x + bylex'),
      c('zlexcount lex a b'),
      c('zlexcount nokey a b'),
      c('zrangebylex lex - + withscores'),
      c('zrange lex - + bylex withscores'),
      c('zrange z 0 1 limit 0 1'),
      c('zrange z 0 1 limit 0 -1'),
      c('zrange z 0 1 limit x 1'),
      c('zrange z 0 1 limit 0'),
      c('zrange z 0 1 withscores withscores'),
      c('zrange z 0 1 rev rev'),
      c('zrange z 0 1 byscore bylex'),
      c('zrange z 0 1 byscore byscore'),
      c('zrange z x 1'),
      c('zrange z 0 1.5'),
      c('zrange z x 1 byscore'),
      c('zrange z 0 1 foo'),
      c('zrange z 0'),
      c('zrangebyscore z 0 1 rev'),
      c('zrangebyscore z 0 1 bylex'),
      c('zrangebyscore z x 1'),
      c('zrangebyscore z 0 1 limit 1'),
      c('zrevrange z 0 1 byscore'),
      c('zrevrange z 0 1 limit 0 1'),
      c('zrevrangebyscore z 1 x'),
      c('zrangebylex z - + limit 0 1 withscores'),
      c('hello 3', { compare: () => null }),
      c('zrange z 0 -1 withscores'),
      c('zrange z 0 -1'),
      c('zrangebyscore z -inf +inf withscores limit 1 2'),
      c('zrevrange zbig 0 3 withscores'),
      c('hello 2', { compare: () => null }),
    ]);
  });

  it('ZREMRANGEBYRANK / BYSCORE / BYLEX and ZRANGESTORE', async () => {
    await run([
      c(`zadd z ${many(20)}`),
      c('zremrangebyrank z 0 1'),
      c('zremrangebyrank z -2 -1'),
      c('zremrangebyrank z 10 5'),
      c('zremrangebyrank z 100 200'),
      c('zremrangebyrank z x 1'),
      c('zremrangebyscore z (5 7'),
      c('zremrangebyscore z 100 +inf'),
      c('zremrangebyscore z x 1'),
      c('zremrangebyscore nokey x 1'),
      c('zremrangebyscore nokey 1 2'),
      c('zrange z 0 -1 withscores'),
      c('zadd lex 0 a 0 b 0 c 0 d'),
      c('zremrangebylex lex [b (d'),
      c('zremrangebylex lex a b'),
      c('zremrangebylex lex - +'),
      c('exists lex'),
      c(`zadd big ${many(300)}`),
      c('zremrangebyrank big 0 99'),
      c('zcard big'),
      c('object encoding big'),
      c('zremrangebyscore big -inf (250'),
      c('zrange big 0 3 withscores'),
      c('zrangestore dst big 0 -1'),
      c('object encoding dst'),
      c('zrangestore dst big 0 9'),
      c('object encoding dst'),
      c('zrange dst 0 -1 withscores'),
      c('zrangestore dst big 280 (290 byscore rev limit 1 3'),
      c('zrange dst 0 -1 withscores'),
      c('set str x ex 100'),
      c('zrangestore str big 0 0'),
      c('ttl str'),
      c('type str'),
      c('zrangestore dst nokey 0 -1'),
      c('exists dst'),
      c('zrangestore dst big 10 5'),
      c('zrangestore dst big 0 -1 withscores'),
      c('zrangestore dst big 0 1 limit 0 1'),
      c('zrangestore dst big - + bylex'),
      c('zrangestore dst big x 1'),
      c('zrangestore dst'),
      c('set s2 x'),
      c('zrangestore dst s2 0 -1'),
      c('zrangestore s2 big 0 0'),
      c('zrange s2 0 -1 withscores'),
      c('zadd neg 1 a'),
      c(`zadd neg ${many(140, 2)}`),
      c('zadd neg -0 z'),
      c('zrangestore n1 neg 0 -1'),
      c('zscore n1 z'),
      c('zrangestore n2 neg 0 1'),
      c('zrange n2 0 -1 withscores'),
    ]);
  });

  it('WRONGTYPE both ways; TYPE, SCAN ... TYPE, COPY, RENAME; MULTI', async () => {
    await run([
      c('set str x'),
      c('sadd s a'),
      c('zadd z 1 a 2 b'),
      ...ON_STRING.map((l) => c(l)),
      ...ON_STRING.map((l) => c(l.replace('str', 'nokey'))),
      c('get z'),
      c('sadd z a'),
      c('hget z a'),
      c('smembers z'),
      c('zadd s 1 a'),
      c('type z'),
      c('scan 0 type zset'),
      c('scan 0 type ZSET'),
      c('copy z z2'),
      c('zadd z2 3 c'),
      c('zcard z'),
      c('zpopmax z2 3'),
      c(`zadd big ${many(200)}`),
      c('copy big big2'),
      c('object encoding big2'),
      c('zrem big2 m5'),
      c('zcard big'),
      c('zrank big2 m6'),
      c('zrank big m6'),
      c('rename big big3'),
      c('object encoding big3'),
      c('zscore big3 m199'),
      c('expire big3 100'),
      c('ttl big3'),
      c('renamenx big3 z'),
      c('multi'),
      c('zadd m 1 a 2 b'),
      c('zincrby m 1 a'),
      c('zscore m a'),
      c('zrank m a'),
      c('zpopmin m'),
      c('zadd m x a'),
      c('exec'),
      c('multi'),
      c('zadd m 1 a'),
      c('zcount m x y'),
      c('exec'),
    ]);
  });
});

/** Runs redis-cli and resolves with its stdout. */
function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
    });
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args.join(' ')} exited ${code}`))));
  });
}

describe('through a follower with redis-cli -c, on a 3-node cluster', () => {
  const cluster = new ClusterHarness({ nodes: 3 });
  let follower: NodeHandle;

  beforeAll(async () => {
    await cluster.start();
    const leader = await cluster.waitLeader();
    follower = cluster.nodes.find((h) => h !== leader)!;
  }, 60_000);

  afterAll(() => cluster.stop());

  it('prints what redis-cli prints against redis-server, and every replica holds the same sorted sets', async () => {
    const script = [
      'flushall',
      'zadd z 1 a 2 b 3.5 c',
      'zadd z xx ch incr 1 a',
      'zincrby z 0.1 b',
      'zscore z b',
      'zmscore z a nosuch',
      'zcard z',
      'zcount z (1 +inf',
      'zrank z c',
      'zrevrank z c',
      'zrem z nosuch c',
      'zpopmin z',
      'zpopmax z 3',
      'type z',
      'zadd z 1 a',
      'object encoding z',
      `zadd big ${many(300)}`,
      'object encoding big',
      'zrem big m0 m299',
      'zcard big',
      'zmpop 2 nokey big max count 2',
      'zrange big 0 4 withscores',
      'zrange big (5 10 byscore rev limit 1 2 withscores',
      'zrevrangebyscore big 20 (10',
      'zremrangebyrank big 0 4',
      'zremrangebyscore big 10 (12',
      'zrangestore dst big 0 9',
      'zrange dst 0 -1',
      'zrange z - + bylex',
      'zlexcount z - +',
      'zadd z nan a',
      'zadd z nx xx 1 a',
      'zcount z x 1',
      'get z',
    ];
    for (const line of script) {
      const args = line.split(' ');
      const [ours, theirs] = await Promise.all([cli(['-c', '-p', String(follower.port), ...args]), cli(['-p', String(redis.port), ...args])]);
      expect(ours, line).toBe(theirs);
    }
    await cli(['-c', '-p', String(follower.port), 'zincrby', 'big', '0.5', 'm7']);
    const read = async (h: NodeHandle) => {
      const conn = await RawConn.open(h.port);
      try {
        await conn.call('readonly');
        const out: string[] = [];
        for (const cmd of [
          ['zmscore', 'big', 'm1', 'm7', 'm298'],
          ['zcard', 'big'],
          ['zmscore', 'z', 'a', 'b'],
          ['zrank', 'big', 'm7'],
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
        return views.every((v) => v === views[0]) && views[0].includes('7.5');
      },
      20_000,
      'every replica to hold the same sorted sets',
    );
    expect(new Set(views).size).toBe(1);
  }, 120_000);
});
