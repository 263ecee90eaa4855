/**
 * Differential test: a real redis-server 7 (Debian's, `--databases 1`, no persistence) and a
 * one-node RaftKV get the same command scripts over raw sockets, and every reply must be the
 * same bytes. Clock-dependent replies (TTL, PTTL, TIME) are compared within a tolerance,
 * unordered ones (KEYS, SCAN) as sets, and HELLO/INFO/CLIENT with ids and modes blanked.
 * Covers every command of issue 4 with its error cases, and every command's arity error.
 *
 * The deliberate differences (docs/commands.md) are asserted at the end, on RaftKV alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/resp/commands/table.ts';
import { ClusterHarness } from '../support/cluster-harness.ts';
import { RedisServer } from '../support/redis-server.ts';
import { RawConn } from './support/resp-bytes.ts';
import { type Comparator, c, elements, near, normalized, pause, pending, runScript, type Step, scanPage, unordered } from './support/script.ts';

let redis: RedisServer;
/** A small max-value-bytes, so the entry-size limits are cheap to reach. */
const MAX_VALUE = 1024 * 1024;
const cluster = new ClusterHarness({ nodes: 1, extraArgs: ['--max-value-bytes', String(MAX_VALUE)] });
let port = 0;

beforeAll(async () => {
  // allSettled: a cluster that fails to start must not leave the started redis-server unowned.
  const [r, started] = await Promise.allSettled([RedisServer.start(['--databases', '1']), cluster.start()]);
  if (r.status === 'fulfilled') redis = r.value;
  for (const s of [r, started]) if (s.status === 'rejected') throw s.reason;
  await cluster.waitLeader();
  port = cluster.nodes[0].port;
}, 60_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster.stop()]);
});

/** Both servers start each script empty and with default settings. */
async function run(steps: Step[]): Promise<void> {
  const reset = [c('flushall'), c('config set maxmemory 0 maxmemory-policy noeviction requirepass \\e')];
  const mismatches = await runScript(port, redis.port, [...reset, ...steps]);
  expect(mismatches).toEqual([]);
}

const hello = normalized((s) => s.replace(/(\$2\r\nid\r\n):\d+/, '$1ID').replace(/(\$4\r\nmode\r\n)\$\d+\r\n\w+/, '$1MODE'));
/** CLIENT INFO/LIST: the fields that describe the connection's state, not its buffers or fd. */
const clientFields = normalized((s) =>
  s
    .split(/[ \n]/)
    .filter((f) => /^(name|db|sub|psub|ssub|multi|flags|cmd|user|resp|redir)=/.test(f))
    .join(' '),
);
const time: Comparator = (a, b) => {
  const [sa] = elements(a);
  const [sb] = elements(b);
  return Math.abs(Number(sa.split('\r\n')[1]) - Number(sb.split('\r\n')[1])) <= 2 ? null : 'clocks differ';
};
/** INFO: the same sections and values for the fields both servers define the same way. */
function infoFields(...fields: string[]): Comparator {
  const pick = (s: string) =>
    s
      .split('\r\n')
      .filter((l) => l.startsWith('# ') || fields.some((f) => l.startsWith(`${f}:`)))
      .map((l) => l.replace(/^(db0:keys=\d+,expires=\d+).*/, '$1'))
      .join('|');
  return (a, b) => {
    const ours = pick(a);
    const theirs = pick(b);
    // RaftKV adds a Raft section; Redis has sections RaftKV does not (Persistence, CPU, ...).
    const strip = (x: string, keep: string) =>
      x
        .split('|')
        .filter((l) => !l.startsWith('# ') || keep.includes(l))
        .join('|');
    return strip(ours, theirs) === strip(theirs, ours) ? null : 'INFO fields differ';
  };
}

describe('RaftKV answers like redis-server 7', () => {
  it('strings: SET options, GET family, MSET, counters, APPEND', async () => {
    await run(
      [
        'set k v',
        'get k',
        'set k v nx',
        'set k v xx',
        'set k v nx xx',
        'set k v xx nx',
        'set k v get',
        'set k2 v get',
        'set k v ex 10 px 10',
        'set k v ex 10 ex 20',
        'set k v ex 0',
        'set k v ex -1',
        'set k v ex abc',
        'set k v px 9223372036854775807',
        'set k v ex 9223372036854775',
        'set k v exat 1',
        'get k',
        'set k v keepttl ex 10',
        'set k v ex 10 keepttl',
        'set k v ex',
        'set k v foo',
        'set k v nx get',
        'set k v xx get',
        'set k v NX\\0junk',
        'set k v pxat 1',
        'get k',
        'set k v px 100000 keepttl',
        'set k v keepttl',
        'get k',
        'setex k 0 v',
        'setex k x v',
        'setex k 10 v',
        'psetex k 0 v',
        'psetex k 100000 v',
        'setnx k v',
        'setnx k9 v',
        'getdel k9',
        'getdel k9',
        'getex k',
        'getex k persist',
        'getex k ex 100',
        'getex k ex 100 persist',
        'getex k persist ex 100',
        'getex k foo',
        'getex k ex 0',
        'getex nokey ex 0',
        'getex nokey px abc',
        'getex k exat 1',
        'get k',
        'mset a 1 b 2',
        'mset a 1 b',
        'msetnx a 1 c 3',
        'msetnx c 1 d 3',
        'mget a b c d nokey',
        'strlen a',
        'strlen nokey',
        'append a xyz',
        'append newk abc',
        'get a',
        'incr a',
        'incr n',
        'incr n',
        'decr n',
        'incrby n 10',
        'incrby n x',
        'incrby n 9223372036854775807',
        'decrby n -9223372036854775808',
        'decrby n 5',
        'decrby n x',
        'set n 9223372036854775806',
        'incr n',
        'incr n',
        'set n -9223372036854775807',
        'decr n',
        'decr n',
        'set f 10.5',
        'incrbyfloat f 0.1',
        'incrbyfloat f x',
        'incrbyfloat f 1e400',
        'incrbyfloat a 1',
        'incrbyfloat f 5.0e3',
        'incrbyfloat f -5000',
        'incrbyfloat f 0x10',
        'incrbyfloat f inf',
        'set s abc',
        'incr s',
        'incrby s 1',
        'decr s',
        'set e \\e',
        'get e',
        'strlen e',
        'append e \\e',
        'set bin a\\0b',
        'get bin',
        'strlen bin',
      ].map((l) => c(l)),
    );
  });

  it('expiry: EXPIRE family with NX/XX/GT/LT, TTL/PTTL/EXPIRETIME, PERSIST', async () => {
    await run([
      c('set k v'),
      c('expire k 100'),
      c('ttl k', { compare: near(1) }),
      c('pttl k', { compare: near(500) }),
      c('expire k 100 nx'),
      c('expire k 200 xx'),
      c('expire k 50 gt'),
      c('expire k 500 gt'),
      c('expire k 600 lt'),
      c('expire k 60 lt'),
      c('ttl k', { compare: near(1) }),
      c('expire k 10 nx xx'),
      c('expire k 10 gt lt'),
      c('expire k 10 nx gt'),
      c('expire k 10 foo'),
      c('expire k abc foo'),
      c('expire k abc'),
      c('expire k 9223372036854775807'),
      c('expire k -9223372036854775808'),
      c('pexpire k 9223372036854775807'),
      c('expire nokey 10'),
      c('persist k'),
      c('persist k'),
      c('persist nokey'),
      c('ttl k'),
      c('pttl k'),
      c('expiretime k'),
      c('pexpiretime k'),
      c('ttl nokey'),
      c('pttl nokey'),
      c('expiretime nokey'),
      c('pexpiretime nokey'),
      c('expireat k 4102444800'),
      c('expiretime k'),
      c('pexpiretime k'),
      c('pexpireat k 4102444800123'),
      c('pexpiretime k'),
      c('expiretime k'),
      c('expireat k 4102444800 xx'),
      c('expireat k 4102444800 nx'),
      c('pexpire k 100000'),
      c('pttl k', { compare: near(500) }),
      c('expire k -1'),
      c('exists k'),
      c('set k v'),
      c('expire k 0'),
      c('exists k'),
      c('set k v'),
      c('pexpireat k 1'),
      c('get k'),
      c('set k v'),
      c('expire k 100 gt'),
      c('expire k 100 lt'),
      c('ttl k', { compare: near(1) }),
      c('expire k 100 xx gt'),
      c('expire k 100 xx'),
      c('expire k 200 xx lt'),
      c('set k v px 1500'),
      c('ttl k', { compare: near(1) }),
      c('pexpire nokey 10'),
      c('pexpireat nokey 10'),
      c('expireat nokey 10'),
      c('expire k 10 GT'),
      c('expire k 10 Xx'),
    ]);
  });

  it('keyspace: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB', async () => {
    await run([
      c('dbsize'),
      c('randomkey'),
      c('scan 0'),
      c('keys *'),
      c('mset a 1 b 2 c 3 ab 4'),
      c('del a nokey a'),
      c('exists b b nokey'),
      c('unlink c'),
      c('type b'),
      c('type nokey'),
      c('keys *', { compare: unordered }),
      c('keys a*', { compare: unordered }),
      c('keys [ab]', { compare: unordered }),
      c('keys nomatch*'),
      c('keys ab'),
      c('dbsize'),
      c('scan 0 count 100', { compare: scanPage }),
      c('scan 0 match a* count 100', { compare: scanPage }),
      c('scan 0 count 100 type string', { compare: scanPage }),
      c('scan 0 count 100 type STRING', { compare: scanPage }),
      c('scan 0 count 100 type hash', { compare: scanPage }),
      c('scan x'),
      c('scan 0 count 0'),
      c('scan 0 count x'),
      c('scan 0 count -1'),
      c('scan 0 count 1 match'),
      c('scan 0 foo'),
      c('scan 0 match'),
      c('scan \\s1'),
      c('scan 1x'),
      c('scan 99999999999999999999'),
      c('del b ab'),
      c('set only 1'),
      c('randomkey'),
      c('flushall foo'),
      c('flushall async x'),
      c('flushdb foo'),
      c('flushall sync'),
      c('dbsize'),
      c('set x 1'),
      c('flushdb async'),
      c('dbsize'),
      c('set x 1'),
      c('flushall ASYNC'),
      c('exists x'),
      c('set x 1'),
      c('flushdb'),
      c('randomkey'),
    ]);
  });

  it('transactions: MULTI/EXEC/DISCARD, queue-time errors, WATCH across connections', async () => {
    await run([
      c('multi'),
      c('set a 1'),
      c('incr a'),
      c('get a'),
      c('incrby a x'),
      c('set a b ex 0'),
      c('exec'),
      c('exec'),
      c('discard'),
      c('multi'),
      c('multi'),
      c('set a'),
      c('exec'),
      c('multi'),
      c('nosuchcommand'),
      c('exec'),
      c('multi'),
      c('set a 1 foo'),
      c('get a'),
      c('exec'),
      c('multi'),
      c('discard'),
      c('exec'),
      c('watch a'),
      c('multi'),
      c('watch b'),
      c('set a 2'),
      c('exec'),
      c('unwatch'),
      c('multi'),
      c('ping'),
      c('echo hi'),
      c('unwatch'),
      c('exec'),
      c('multi'),
      c('exec'),
      // A write on another connection aborts a WATCHed transaction.
      c('watch w'),
      c('set w other', { on: 1 }),
      c('multi'),
      c('set w mine'),
      c('exec'),
      c('get w'),
      // An untouched WATCH lets it through, and EXEC unwatches.
      c('watch w'),
      c('multi'),
      c('set w mine'),
      c('exec'),
      c('set w later', { on: 1 }),
      c('multi'),
      c('get w'),
      c('exec'),
      // UNWATCH and DISCARD forget watches.
      c('watch w'),
      c('unwatch'),
      c('set w again', { on: 1 }),
      c('multi'),
      c('incr w'),
      c('exec'),
      c('watch w'),
      c('multi'),
      c('discard'),
      c('set w x', { on: 1 }),
      c('multi'),
      c('get w'),
      c('exec'),
      // A watched key that expires dooms the transaction; so does one deleted, or flushed.
      c('set t v px 150'),
      c('watch t'),
      pause(200),
      c('del w', { on: 1 }),
      c('multi'),
      c('get t'),
      c('exec'),
      c('set f 1'),
      c('watch f nokey'),
      c('flushall', { on: 1 }),
      c('multi'),
      c('get f'),
      c('exec'),
      c('watch nokey'),
      c('set nokey 1', { on: 1 }),
      c('multi'),
      c('get nokey'),
      c('exec'),
      c('watch a'),
      c('set a own'),
      c('multi'),
      c('get a'),
      c('exec'),
    ]);
  });

  it('connection: PING, ECHO, SELECT, CLIENT, HELLO, AUTH without a password, QUIT', async () => {
    await run([
      c('ping'),
      c('ping hello'),
      c('ping a b'),
      c('echo'),
      c('echo x'),
      c('echo \\e'),
      c('select 0'),
      c('select 1'),
      c('select x'),
      c('select 99999999999'),
      c('select -1'),
      c('client setname my-name'),
      c('client getname'),
      c('client setname bad\\sname'),
      c('client setname'),
      c('client setname \\e'),
      c('client getname'),
      c('client setname x\\ny'),
      c('client no-evict on'),
      c('client no-evict OFF'),
      c('client no-evict maybe'),
      c('client list type foo'),
      c('client list id x'),
      c('client list id 99999'),
      c('client list foo'),
      c('client list type master'),
      c('client list type replica'),
      c('client list type pubsub'),
      c('client info', { compare: clientFields }),
      c('client list', { compare: clientFields }),
      c('client list type normal', { compare: clientFields }),
      c('hello', { compare: hello }),
      c('hello 4'),
      c('hello x'),
      c('hello 2 foo'),
      c('hello 2 setname'),
      c('hello 2 setname a\\sb'),
      c('hello 2 auth a'),
      c('hello 2 setname nm', { compare: hello }),
      c('client getname'),
      c('hello 2 auth default anything', { compare: hello }),
      c('auth x'),
      c('auth default x'),
      c('auth someone x'),
      c('auth a b c'),
      c('client foo'),
      c('client'),
      c('reset'),
      c('client getname'),
      c('quit'),
    ]);
  });

  it('server: CONFIG GET/SET, COMMAND INFO/DOCS, TIME, INFO, DBSIZE', async () => {
    await run([
      c('config get maxmemory'),
      c('config get maxmemory-policy'),
      c('config get requirepass'),
      c('config get databases'),
      c('config get bind'),
      c('config get nosuch*'),
      c('config set maxmemory 1x'),
      c('config set maxmemory -1'),
      c('config set maxmemory 100mb'),
      c('config get maxmemory'),
      c('config set maxmemory 1GB'),
      c('config get maxmemory'),
      c('config set maxmemory 3k'),
      c('config get maxmemory'),
      c('config set maxmemory 0'),
      c('config set maxmemory-policy allkeys-lru'),
      c('config get maxmemory-policy'),
      c('config set maxmemory-policy VOLATILE-TTL'),
      c('config get maxmemory-policy'),
      c('config set maxmemory-policy noeviction'),
      c('config set foo bar'),
      c('config set maxmemory 1 maxmemory 2'),
      c('config set maxmemory 1 foo 2'),
      c('config set foo 1 maxmemory x'),
      c('config set maxmemory x maxmemory-policy allkeys-lru'),
      c('config get maxmemory-policy'),
      c('config set maxclients x'),
      c('config set maxclients 0'),
      c('config set maxclients 5000'),
      c('config get maxclients'),
      c('config set maxclients 10000'),
      c('config set maxmemory'),
      c('config set maxmemory 1 maxmemory-policy'),
      c('config get'),
      c('config foo'),
      c('config'),
      c('command info get set mset'),
      c('command info nosuch get'),
      c('command docs get'),
      c('command docs nosuch'),
      c('command foo'),
      c('command count x'),
      c('time', { compare: time }),
      c('time a'),
      c('dbsize x'),
      c('set a 1'),
      c('dbsize'),
      c('set infottl 1 ex 1000'),
      c('info keyspace', { compare: infoFields('db0:keys') }),
      c('del infottl'),
      c('info server clients', { compare: infoFields('redis_version') }),
      c('info', { compare: infoFields('redis_version', 'role', 'maxmemory', 'maxmemory_policy', 'pubsub_channels') }),
      c('info nosuchsection'),
    ]);
  });

  it('pub/sub: channels and patterns across connections, RESP2 and RESP3', async () => {
    await run([
      c('subscribe a b', { on: 1, replies: 2 }),
      c('psubscribe x* [ab]', { on: 2, replies: 2 }),
      c('pubsub channels', { compare: unordered }),
      c('pubsub channels a*'),
      c('pubsub numpat'),
      c('pubsub numsub a b c'),
      c('pubsub numsub'),
      c('pubsub channels a b'),
      c('publish a hello'),
      pending(1),
      pending(2),
      c('publish xy 1'),
      pending(2),
      c('publish none m'),
      c('ping', { on: 1 }),
      c('ping m', { on: 1 }),
      c('get a', { on: 1 }),
      c('unsubscribe a', { on: 1 }),
      c('publish b last'),
      pending(1),
      pending(2),
      c('unsubscribe', { on: 1 }),
      c('unsubscribe', { on: 1 }),
      c('punsubscribe x*', { on: 2 }),
      c('pubsub numpat'),
      c('punsubscribe', { on: 2 }),
      c('pubsub numpat'),
      c('punsubscribe', { on: 2 }),
      c('publish a gone'),
      c('subscribe', { on: 3 }),
      c('psubscribe', { on: 3 }),
      // RESP3: confirmations and messages are pushes, and other commands still run.
      c('hello 3', { on: 4, compare: hello }),
      c('subscribe r', { on: 4 }),
      c('set k v', { on: 4 }),
      c('get nokey', { on: 4 }),
      c('publish r m3'),
      pending(4),
      c('ping', { on: 4 }),
      c('unsubscribe', { on: 4 }),
      c('unsubscribe', { on: 4 }),
      // RESET leaves subscribe mode and drops subscriptions.
      c('subscribe z', { on: 5 }),
      c('reset', { on: 5 }),
      c('pubsub numsub z'),
      c('get nokey', { on: 5 }),
    ]);
  });

  it('AUTH and requirepass: NOAUTH, WRONGPASS, HELLO AUTH, RESET', async () => {
    await run([
      c('config set requirepass s3cret'),
      c('get k', { on: 1 }),
      c('ping', { on: 1 }),
      c('auth wrong', { on: 1 }),
      c('auth default wrong', { on: 1 }),
      c('hello 3', { on: 1 }),
      c('hello 2 auth default wrong', { on: 1 }),
      c('auth s3cret', { on: 1 }),
      c('get k', { on: 1 }),
      c('reset', { on: 1 }),
      c('get k', { on: 1 }),
      c('hello 2 auth default s3cret', { on: 1, compare: hello }),
      c('get k', { on: 1 }),
      c('auth default s3cret', { on: 2 }),
      c('multi', { on: 3 }),
      c('exec', { on: 3 }),
      c('config set requirepass \\e'),
      c('auth x'),
    ]);
  });

  it('OOM: denyoom commands are refused over maxmemory with noeviction', async () => {
    await run([
      c('set big 1'),
      c('config set maxmemory 1'),
      c('set a b'),
      c('incr n'),
      c('append big x'),
      c('mset a 1'),
      c('get big'),
      c('expire big 100'),
      c('multi'),
      c('set a b'),
      c('get big'),
      c('exec'),
      c('multi'),
      c('get big'),
      c('exec'),
      c('del big'),
      c('config set maxmemory 0'),
      c('set a b'),
    ]);
  });

  it('RESP3 reply types (HELLO 3): nulls, maps, doubles as Redis 7 sends them', async () => {
    await run([
      c('hello 3', { compare: hello }),
      c('set k v'),
      c('get nokey'),
      c('mget k nokey'),
      c('set k v get'),
      c('set k2 v nx get'),
      c('config get maxmemory'),
      c('incrbyfloat f 1.5'),
      c('multi'),
      c('get k'),
      c('exec'),
      c('watch k'),
      c('set k v2'),
      c('multi'),
      c('get k'),
      c('exec'),
      c('scan 0 count 100', { compare: scanPage }),
      c('pubsub numsub a'),
      c('client info', { compare: clientFields }),
      c('info keyspace', { compare: infoFields('db0:keys') }),
      c('command info get'),
      c('randomkey', { compare: () => null }),
      c('unsubscribe'),
      c('hello 2', { compare: hello }),
      c('get nokey'),
    ]);
  });

  it('arity errors for every command and subcommand, unknown commands and subcommands', async () => {
    const steps: Step[] = [];
    for (const [name, spec] of COMMANDS) {
      const words = name.split('|');
      if (spec.arity > 0) steps.push(c([...words, ...Array(spec.arity + 1 - words.length).fill('x')]));
      else if (spec.arity < -words.length) steps.push(c([...words, ...Array(-spec.arity - 1 - words.length).fill('x')]));
    }
    steps.push(c('foo'), c('foo bar baz'), c('CLIENT nosuch'), c('config nosuch x'), c('pubsub nosuch'), c('cluster'));
    expect(steps.length).toBeGreaterThan(60);
    await run(steps);
  });
});

describe('deliberate differences (docs/commands.md)', () => {
  it('times beyond 2^52 ms are invalid expire times; SCAN cursors are RaftKV’s own; fewer eviction policies', async () => {
    const conn = await RawConn.open(port);
    try {
      await conn.call('set', 'k', 'v');
      expect((await conn.call('expireat', 'k', '99999999999999')).toString()).toBe("-ERR invalid expire time in 'expireat' command\r\n");
      expect((await conn.call('pexpireat', 'k', String(2 ** 52))).toString()).toBe("-ERR invalid expire time in 'pexpireat' command\r\n");
      expect((await conn.call('pexpireat', 'k', String(2 ** 52 - 1))).toString()).toBe(':1\r\n');
      // Only the eviction policies RaftKV implements are accepted, and listed.
      expect((await conn.call('config', 'set', 'maxmemory-policy', 'allkeys-lfu')).toString()).toBe(
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: noeviction, allkeys-lru, volatile-lru, allkeys-random, volatile-ttl\r\n",
      );
      // A cursor RaftKV never handed out past its last key ends the iteration.
      expect((await conn.call('scan', '18446744073709551615')).toString()).toBe('*2\r\n$1\r\n0\r\n*0\r\n');
      const hi = (await conn.call('hello')).toString('latin1');
      expect(hi).toContain('$4\r\nmode\r\n$7\r\ncluster\r\n');
    } finally {
      conn.close();
    }
  });

  it('one value is at most max-value-bytes (proto-max-bulk-len); one request at most one log entry', async () => {
    const conn = await RawConn.open(port);
    try {
      expect((await conn.call('config', 'get', 'proto-max-bulk-len')).toString()).toBe(`*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n${MAX_VALUE}\r\n`);
      expect((await conn.call('set', 'max', Buffer.alloc(MAX_VALUE, 1))).toString()).toBe('+OK\r\n');
      expect((await conn.call('strlen', 'max')).toString()).toBe(`:${MAX_VALUE}\r\n`);
      const half = Buffer.alloc(MAX_VALUE / 2 + 64 * 1024, 2);
      expect((await conn.call('mset', 'h1', half, 'h2', half)).toString()).toMatch(/^-ERR request of \d+ bytes exceeds the size of one log entry/);
      expect((await conn.call('multi')).toString()).toBe('+OK\r\n');
      expect((await conn.call('set', 'h1', half)).toString()).toBe('+QUEUED\r\n');
      // The queue would pass one entry: refused as it arrives, and the transaction is doomed.
      expect((await conn.call('set', 'h2', half)).toString()).toMatch(/^-ERR request of \d+ bytes exceeds the size of one log entry/);
      expect((await conn.call('exec')).toString()).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n');
      expect((await conn.call('exists', 'h1', 'h2')).toString()).toBe(':0\r\n');
      expect((await conn.call('set', 'over', Buffer.alloc(MAX_VALUE + 1))).toString()).toBe('-ERR Protocol error: invalid bulk length\r\n');
    } finally {
      conn.close();
    }
  });
});
