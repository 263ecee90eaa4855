import { describe, it } from 'vitest';
import { type Comparator, c, elements, near, scanPage, unordered } from './support/script.ts';
import { sideBySide } from './support/side-by-side.ts';
import { throughFollower } from './support/through-follower.ts';

const pair = sideBySide();
const run = pair.run;

/** HRANDFIELD with a count below the size: as many elements, each one the hash holds. */
const sameCount: Comparator = (a, b) => (elements(a).length === elements(b).length ? null : 'counts differ');

/** HGETALL of a hashtable: the same field-value pairs in any order. */
const samePairs: Comparator = (a, b) => {
  const pairs = (r: string) => {
    const e = elements(r);
    const out: string[] = [];
    for (let i = 0; i < e.length; i += 2) out.push(e[i] + e[i + 1]);
    return JSON.stringify(out.sort());
  };
  return pairs(a) === pairs(b) ? null : 'pairs differ';
};

/** `hset key f0 v0 ... f{n-1} v{n-1}`. */
function bigHset(key: string, n: number): string {
  const words = ['hset', key];
  for (let i = 0; i < n; i++) words.push(`f${i}`, `v${i}`);
  return words.join(' ');
}

describe('hash commands answer like redis-server 7.0', () => {
  it('HSET family, reads, HDEL, counters, errors', async () => {
    await run(
      [
        'hset h f1 v1 f2 v2',
        'hset h f1 x',
        'hset h f3',
        'hmset h a 1 b 2',
        'hmset h a',
        'hsetnx h a 9',
        'hsetnx h new 9',
        'hget h a',
        'hget h nofield',
        'hget nokey a',
        'hmget h a nofield b',
        'hmget nokey a b',
        'hgetall h',
        'hgetall nokey',
        'hdel h a nofield a',
        'hdel nokey a',
        'hexists h b',
        'hexists h a',
        'hexists nokey a',
        'hlen h',
        'hlen nokey',
        'hkeys h',
        'hvals h',
        'hkeys nokey',
        'hvals nokey',
        'hstrlen h b',
        'hstrlen h nofield',
        'hstrlen nokey x',
        'hincrby h n 5',
        'hincrby h n -10',
        'hincrby h n x',
        'hincrby h n 99999999999999999999',
        'hincrby h b 1',
        'hset h s abc',
        'hincrby h s 1',
        'hincrby h big 9223372036854775807',
        'hincrby h big 1',
        'hincrby h n -9223372036854775808',
        'hincrbyfloat h fl 10.5',
        'hincrbyfloat h fl 0.1',
        'hincrbyfloat h fl x',
        'hincrbyfloat h fl inf',
        'hincrbyfloat h fl -inf',
        'hincrbyfloat h fl nan',
        'hincrbyfloat h fl 1e400',
        'hincrbyfloat h s 1',
        'hincrbyfloat h n 1.5',
        'hincrbyfloat h fl 5.0e3',
        'hincrbyfloat h fl 0x10',
        'hincrbyfloat nokey2 f 2',
        // A 401-byte value made it a hashtable, whose order is Redis's own.
        ['hgetall h', samePairs],
        'object encoding h',
        'hset e \\e \\e',
        'hget e \\e',
        'hset bin a\\0b c\\0d',
        'hget bin a\\0b',
        'hgetall bin',
        'hdel h f1 f2 f3 new b n s big fl',
        'exists h',
        'hdel h x',
        'type h',
      ].map((l) => (typeof l === 'string' ? c(l) : c(l[0] as string, { compare: l[1] as Comparator }))),
    );
  });

  it('HRANDFIELD and HSCAN', async () => {
    await run([
      c('hrandfield nokey'),
      c('hrandfield nokey 5'),
      c('hrandfield nokey 5 withvalues'),
      c('hset h a 1 b 2 c 3'),
      c('hrandfield h 0'),
      c('hrandfield h 100'),
      c('hrandfield h 3 withvalues'),
      c('hrandfield h 2', { compare: sameCount }),
      c('hrandfield h -5', { compare: sameCount }),
      c('hrandfield h x'),
      c('hrandfield h 1 foo'),
      c('hrandfield h 1 withvalues x'),
      c('hrandfield h 1 WITHVALUES'.replace('1', '3')),
      c('hrandfield h -9223372036854775808'),
      c('hrandfield h -9223372036854775807 withvalues'),
      c('hrandfield h 4611686018427387904 withvalues'),
      c('hset one f v'),
      c('hrandfield one'),
      c('hrandfield one -3'),
      c('hrandfield one -3 withvalues'),
      c('hscan h 0'),
      c('hscan h 0 match a*'),
      c('hscan h 0 match [ab] count 1'),
      c('hscan h 0 count 1'),
      c('hscan h x'),
      c('hscan h 0 count 0'),
      c('hscan h 0 count x'),
      c('hscan h 0 foo'),
      c('hscan h 0 match'),
      c('hscan h 0 type hash'),
      c('hscan nokey 0 foo'),
      c('hscan nokey 0'),
      c('hscan nokey x'),
      c('set s x'),
      c('hscan s 0 foo'),
      c('hscan s x'),
    ]);
  });

  it('WRONGTYPE both ways; TYPE, OBJECT ENCODING, SCAN ... TYPE, TTL on a hash', async () => {
    const hashOnString = ['hset s f v', 'hsetnx s f v', 'hmset s f v', 'hget s f', 'hmget s f', 'hgetall s', 'hdel s f', 'hexists s f'];
    const more = ['hlen s', 'hkeys s', 'hvals s', 'hstrlen s f', 'hincrby s f 1', 'hincrbyfloat s f 1', 'hrandfield s', 'hrandfield s 2', 'hscan s 0'];
    const stringOnHash = ['get h', 'strlen h', 'append h x', 'incr h', 'decrby h 2', 'incrbyfloat h 1', 'getdel h', 'getex h persist', 'getex h ex 10'];
    await run([
      c('set s str'),
      c('hset h f v'),
      ...[...hashOnString, ...more, ...stringOnHash].map((l) => c(l)),
      c('set h x get'),
      c('set h x nx'),
      c('setnx h x'),
      c('mget h s nokey'),
      c('msetnx h 1 z 2'),
      c('type h'),
      c('type s'),
      c('object encoding h'),
      c('object encoding s'),
      c('object encoding nokey'),
      c('set i 12345'),
      c('object encoding i'),
      c('set long xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
      c('object encoding long'),
      c('hset lv f xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
      c('object encoding lv'),
      c(bigHset('big', 512)),
      c('object encoding big'),
      c('hset big one more'),
      c('object encoding big'),
      c('hdel big one f1 f2'),
      c('object encoding big'),
      c('hlen big'),
      c('hget big f77'),
      c('hgetall big', { compare: samePairs }),
      c('hkeys big', { compare: unordered }),
      c('hrandfield big 1000', { compare: unordered }),
      c('scan 0 count 100 type hash', { compare: scanPage }),
      c('scan 0 count 100 type string', { compare: scanPage }),
      c('scan 0 count 100 type HASH match b*', { compare: scanPage }),
      c('scan 0 count 100 type list', { compare: scanPage }),
      c('expire h 100'),
      c('ttl h', { compare: near(1) }),
      c('persist h'),
      c('ttl h'),
      c('set h now-a-string'),
      c('type h'),
      c('del big lv'),
      c('exists big lv h'),
      c('unlink h'),
      c('type h'),
    ]);
  });

  it('RESP3: HGETALL is a map; MULTI with hash commands', async () => {
    await run([
      c('hset h a 1 b 2'),
      c('hello 3', { compare: () => null }),
      c('hgetall h'),
      c('hgetall nokey'),
      c('hmget h a x'),
      c('hget h x'),
      c('hrandfield nokey'),
      c('hrandfield h 5 withvalues'),
      c('hrandfield h 5'),
      c('hrandfield nokey 2 withvalues'),
      c('hset one f v'),
      c('hrandfield one -2 withvalues'),
      c('hscan h 0'),
      c('object encoding nokey'),
      c('hello 2', { compare: () => null }),
      c('multi'),
      c('hset m a 1'),
      c('hget m a'),
      c('hincrby m a 2'),
      c('hincrbyfloat m a 0.5'),
      c('hgetall m'),
      c('hset m'),
      c('exec'),
      c('multi'),
      c('set s x'),
      c('hset s f v'),
      c('hlen s'),
      c('exec'),
    ]);
  });
});

throughFollower(pair, {
  what: 'hashes',
  lines: [
    'flushall',
    'hset h a 1 b 2 c 3',
    'hset h a 10',
    'hsetnx h d 4',
    'hget h a',
    'hmget h a x d',
    'hgetall h',
    'hincrby h a 5',
    'hincrbyfloat h b 0.25',
    'hdel h c x',
    'hlen h',
    'hkeys h',
    'hvals h',
    'hstrlen h a',
    'hexists h c',
    'hrandfield h 10 withvalues',
    'hscan h 0',
    'type h',
    'object encoding h',
    'get h',
    'set s v',
    'hget s f',
    'hincrby h b 1',
    bigHset('big', 600),
    'object encoding big',
    'hdel big f0 f199',
    'hlen big',
  ],
  reads: [
    ['hgetall', 'h'],
    ['hgetall', 'big'],
    ['object', 'encoding', 'big'],
    ['hscan', 'big', '0', 'count', '1000'],
  ],
  settled: 'hashtable',
});
