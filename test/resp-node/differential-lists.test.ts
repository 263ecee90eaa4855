import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { RawConn } from './support/resp-bytes.ts';
import { c, scanPage } from './support/script.ts';
import { redisCli, sideBySide } from './support/side-by-side.ts';

const pair = sideBySide();
const run = pair.run;

const many = (n: number, prefix = 'e') => Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');

describe('list commands answer like redis-server 7.0', () => {
  it('pushes and pops, with counts, PUSHX, encodings and errors', async () => {
    await run([
      c('lpush l a b c'),
      c('rpush l d e'),
      c('lrange l 0 -1'),
      c('llen l'),
      c('object encoding l'),
      c('type l'),
      c('lpushx l x'),
      c('rpushx l y z'),
      c('lpushx nokey x'),
      c('rpushx nokey x'),
      c('exists nokey'),
      c('lpush'),
      c('lpush l'),
      c('rpushx l'),
      c('lpop l'),
      c('rpop l'),
      c('lpop l 2'),
      c('rpop l 2'),
      c('lpop l 0'),
      c('rpop l 0'),
      c('lpop l -1'),
      c('lpop l x'),
      c('lpop l 1.5'),
      c('lpop l 1 2'),
      c('rpop l 9223372036854775807'),
      c('exists l'),
      c('lpop nokey'),
      c('rpop nokey'),
      c('lpop nokey 0'),
      c('lpop nokey 3'),
      c('rpop nokey -1'),
      c('llen nokey'),
      c('lrange nokey 0 -1'),
      c('rpush one only'),
      c('lpop one'),
      c('exists one'),
      c('rpush bin a\\0b \\e 007 -1 9223372036854775808'),
      c('lrange bin 0 -1'),
      c(`rpush big ${many(300)}`),
      c('object encoding big'),
      c('llen big'),
      c('lpop big 5'),
      c('rpop big 5'),
      c('llen big'),
    ]);
  });

  it('LRANGE and LINDEX with every kind of index', async () => {
    await run([
      c(`rpush l ${many(100)}`),
      c('lrange l 0 0'),
      c('lrange l -3 -1'),
      c('lrange l 95 200'),
      c('lrange l -200 2'),
      c('lrange l 5 2'),
      c('lrange l 100 100'),
      c('lrange l -1 -2'),
      c('lrange l 40 70'),
      c('lrange l 0 9223372036854775807'),
      c('lrange l -9223372036854775808 1'),
      c('lrange l x 1'),
      c('lrange l 1 x'),
      c('lrange l 1'),
      c('lrange nokey x 1'),
      c('lindex l 0'),
      c('lindex l -1'),
      c('lindex l 50'),
      c('lindex l 100'),
      c('lindex l -101'),
      c('lindex l 9223372036854775807'),
      c('lindex l x'),
      c('lindex nokey x'),
      c('lindex nokey 0'),
      c('set str v'),
      c('lindex str x'),
      c('lindex str 0'),
    ]);
  });

  it('LMOVE, RPOPLPUSH and LMPOP', async () => {
    await run([
      c('rpush a 1 2 3'),
      c('lmove a b left right'),
      c('lmove a b RIGHT LEFT'),
      c('lrange b 0 -1'),
      c('lmove a a left right'),
      c('rpush a x y'),
      c('lmove a a left right'),
      c('lrange a 0 -1'),
      c('lmove a a right left'),
      c('lrange a 0 -1'),
      c('lmove a b up left'),
      c('lmove a b left down'),
      c('lmove nokey b left left'),
      c('set str v'),
      c('lmove nokey str left left'),
      c('lmove a str left left'),
      c('lmove str a left left'),
      c('lrange a 0 -1'),
      c('rpoplpush a b'),
      c('rpoplpush nokey b'),
      c('rpoplpush a str'),
      c('lrange b 0 -1'),
      c('rpush solo z'),
      c('rpoplpush solo solo'),
      c('rpoplpush solo fresh'),
      c('exists solo'),
      c('lrange fresh 0 -1'),
      c('lmpop 2 nokey b left'),
      c('lmpop 2 nokey b right count 2'),
      c('lmpop 1 b left count 100'),
      c('exists b'),
      c('lmpop 2 nokey b left'),
      c('lmpop 2 str a left'),
      c('lmpop 2 a str left'),
      c('lmpop 0 a left'),
      c('lmpop -1 a left'),
      c('lmpop x a left'),
      c('lmpop 3 a left'),
      c('lmpop 2 a left'),
      c('lmpop 1 a middle'),
      c('lmpop 1 a left count 0'),
      c('lmpop 1 a left count -1'),
      c('lmpop 1 a left count x'),
      c('lmpop 1 a left count'),
      c('lmpop 1 a left count 1 count 1'),
      c('lmpop 1 a left foo'),
      c('lmpop 1 a'),
      c('lmpop 9223372036854775807 a left'),
    ]);
  });

  it('LSET, LREM, LTRIM, LINSERT', async () => {
    await run([
      c('rpush l a b a c a d'),
      c('lset l 0 A'),
      c('lset l -1 D'),
      c('lset l 6 x'),
      c('lset l -7 x'),
      c('lset l x y'),
      c('lset nokey 0 x'),
      c('lset nokey x y'),
      c('set str v'),
      c('lset str x y'),
      c('lset str 0 y'),
      c('lrange l 0 -1'),
      c('lrem l 1 a'),
      c('lrem l -1 a'),
      c('lrange l 0 -1'),
      c('rpush l a a a'),
      c('lrem l 0 a'),
      c('lrem l 0 nope'),
      c('lrem l x a'),
      c('lrem nokey 1 a'),
      c('lrem nokey x a'),
      c('lrem str 1 a'),
      c('lrange l 0 -1'),
      c('linsert l before b B0'),
      c('linsert l after b B1'),
      c('linsert l after D end'),
      c('linsert l before A start'),
      c('linsert l before nope x'),
      c('linsert l middle b x'),
      c('linsert nokey before a x'),
      c('linsert nokey middle a x'),
      c('linsert str before a x'),
      c('lrange l 0 -1'),
      c('ltrim l 1 -2'),
      c('lrange l 0 -1'),
      c('ltrim l -100 100'),
      c('ltrim l x 1'),
      c('ltrim l 1 x'),
      c('ltrim nokey 0 1'),
      c('ltrim str 0 1'),
      c('ltrim l 5 2'),
      c('exists l'),
      c(`rpush t ${many(50)}`),
      c('ltrim t 10 19'),
      c('lrange t 0 -1'),
      c('ltrim t -3 -1'),
      c('lrange t 0 -1'),
      c('ltrim t 0 -100'),
      c('exists t'),
    ]);
  });

  it('LPOS with RANK, COUNT and MAXLEN', async () => {
    await run([
      c('rpush l a b c 1 2 3 c c'),
      c('lpos l c'),
      c('lpos l nope'),
      c('lpos l c rank 2'),
      c('lpos l c rank -1'),
      c('lpos l c rank -2'),
      c('lpos l c rank 9'),
      c('lpos l c count 2'),
      c('lpos l c count 0'),
      c('lpos l c count 0 rank -1'),
      c('lpos l c count 0 rank 2'),
      c('lpos l nope count 0'),
      c('lpos l c maxlen 3'),
      c('lpos l c maxlen 2'),
      c('lpos l c count 0 maxlen 7'),
      c('lpos l c count 0 maxlen 2 rank -1'),
      c('lpos l c rank 0'),
      c('lpos l c rank x'),
      c('lpos l c rank -9223372036854775808'),
      c('lpos l c rank 9223372036854775807'),
      c('lpos l c count -1'),
      c('lpos l c count x'),
      c('lpos l c maxlen -1'),
      c('lpos l c maxlen x'),
      c('lpos l c rank'),
      c('lpos l c foo 1'),
      c('lpos nokey c'),
      c('lpos nokey c count 1'),
      c('lpos nokey c rank 0'),
      c('set str v'),
      c('lpos str c'),
      c('lpos str c count 0'),
      c(`rpush big ${many(3000, '')}`),
      c('rpush big 7'),
      c('lpos big 7 count 0'),
      c('lpos big 7 rank -1 count 0'),
      c('lpos big 2999 maxlen 2999'),
      c('lpos big 2999 maxlen 3000'),
    ]);
  });

  it('WATCH aborts on a real change only: no-op LREM, LINSERT, LPOP 0 and PUSHX keep the version', async () => {
    /** WATCH l on connection 1, `line` on connection 0, then a transaction on 1. */
    const watched = (line: string) => [c('watch l', { on: 1 }), c(line), c('multi', { on: 1 }), c('llen l', { on: 1 }), c('exec', { on: 1 })];
    await run([
      c('rpush l a b c'),
      ...watched('lrem l 0 nope'),
      ...watched('linsert l before nope x'),
      ...watched('lpop l 0'),
      ...watched('rpushx nokey x'),
      ...watched('lrange l 0 -1'),
      ...watched('lpos l a'),
      ...watched('lset l 9 x'),
      ...watched('ltrim l 0 -1'),
      ...watched('lrem l 1 a'),
      ...watched('lmove l l left right'),
      ...watched('lset l 0 z'),
      ...watched('linsert l after z y'),
      ...watched('lpop l 1'),
      ...watched('lmpop 1 l right'),
      ...watched('rpushx l n'),
    ]);
  });

  it('WRONGTYPE both ways; TYPE, SCAN ... TYPE, COPY, RENAME; RESP3; MULTI', async () => {
    const listOnString = ['lpush str a', 'rpush str a', 'lpushx str a', 'rpushx str a', 'lpop str', 'rpop str', 'lpop str 0', 'rpop str 2', 'llen str'];
    const more = ['lrange str 0 -1', 'lindex str 0', 'lset str 0 x', 'lrem str 0 a', 'ltrim str 0 1', 'linsert str before a b', 'lpos str a'];
    await run([
      c('set str x'),
      c('hset h f v'),
      c('sadd s 1'),
      c('rpush l 1 2 3'),
      ...[...listOnString, ...more].map((line) => c(line)),
      c('lmove str l left left'),
      c('lmove l str left left'),
      c('rpoplpush l h'),
      c('lmpop 1 s left'),
      c('get l'),
      c('hget l f'),
      c('sadd l a'),
      c('smembers l'),
      c('append l x'),
      c('incr l'),
      c('type l'),
      c('scan 0 count 100 type list', { compare: scanPage }),
      c('scan 0 count 100 type string', { compare: scanPage }),
      c('rpush l2 a b'),
      c('expire l2 100'),
      c('copy l2 l3'),
      c('ttl l3'),
      c('lrange l3 0 -1'),
      c('rpush l3 c'),
      c('lrange l2 0 -1'),
      c('copy l2 l3'),
      c('copy l2 l3 replace'),
      c('lrange l3 0 -1'),
      c('rename l3 l4'),
      c('lrange l4 0 -1'),
      c('renamenx l4 l2'),
      c('rename l4 str'),
      c('type str'),
      c('object encoding str'),
      c('persist l2'),
      c('ttl l2'),
      c('hello 3', { compare: () => null }),
      c('lrange l 0 -1'),
      c('lrange nokey 0 -1'),
      c('lpop nokey'),
      c('lpop nokey 2'),
      c('lpop l 0'),
      c('lpop l 1'),
      c('lpos l 3 count 1'),
      c('lpos nokey 3'),
      c('lmpop 2 nokey l right count 5'),
      c('lmpop 1 nokey left'),
      c('lindex nokey 1'),
      c('hello 2', { compare: () => null }),
      c('multi'),
      c('rpush m 1 2 3'),
      c('lpop m'),
      c('lmove m m2 left left'),
      c('lrange m 0 -1'),
      c('lpop nokey 2'),
      c('lmpop 1 nokey left'),
      c('lset m 9 x'),
      c('lindex m x'),
      c('exec'),
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

  it('prints what redis-cli prints against redis-server, and every replica holds the same lists', async () => {
    const script = [
      'flushall',
      'rpush q j1 j2 j3',
      'lpush q j0',
      'lrange q 0 -1',
      'llen q',
      'lmove q done right left',
      'rpoplpush q done',
      'lrange done 0 -1',
      'lpop q 5',
      'lpop q 5',
      'lpop q',
      'rpush q a b c a',
      'lmpop 2 nokey q left count 2',
      'lindex q -1',
      'lset q 0 z',
      'lset q 5 z',
      'lrem q 0 a',
      'linsert q before c y',
      'lpos q c',
      'ltrim q 0 0',
      'lrange q 0 -1',
      'type q',
      'object encoding q',
      'get q',
      'lpush',
      'lpop q 1 2',
      `rpush big ${many(700)}`,
      'ltrim big 1 -2',
      'llen big',
      'lindex big 350',
    ];
    for (const line of script) {
      const args = line.split(' ');
      const [ours, theirs] = await Promise.all([redisCli(['-c', '-p', String(follower.port), ...args]), redisCli(['-p', String(pair.redis.port), ...args])]);
      expect(ours, line).toBe(theirs);
    }
    const read = async (h: NodeHandle) => {
      const conn = await RawConn.open(h.port);
      try {
        await conn.call('readonly');
        const out: string[] = [];
        for (const cmd of [
          ['lrange', 'q', '0', '-1'],
          ['lrange', 'done', '0', '-1'],
          ['lrange', 'big', '0', '-1'],
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
        return views.every((v) => v === views[0]) && views[0].includes('e698');
      },
      20_000,
      'every replica to hold the same lists',
    );
    expect(new Set(views).size).toBe(1);
  }, 120_000);
});
