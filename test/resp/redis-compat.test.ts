/**
 * Differential tests against a real redis-server 7 (Debian's `redis-server`, started here on a
 * free loopback port without persistence, killed afterwards; skipped when not installed): the
 * same bytes go to both servers and the answers must be identical, byte for byte. Covers the
 * protocol layer only: framing errors, pre-execution errors, COMMAND INFO/DOCS and key slots.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDocsListReply, commandInfoListReply, commandListReply } from '../../src/resp/commands/introspection.ts';
import { CommandRouter } from '../../src/resp/commands/router.ts';
import { ERRORS, invalidExpireTime, unknownConfigOption } from '../../src/resp/commands/shared-errors.ts';
import { COMMANDS } from '../../src/resp/commands/table.ts';
import { encodeReplies, encodeReply } from '../../src/resp/encoder.ts';
import { R, type Reply } from '../../src/resp/reply.ts';
import { RespServer } from '../../src/resp/server.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { RedisServer } from '../support/redis-server.ts';
import { encodeRequest } from './support/client.ts';
import { handlerTable } from './support/handlers.ts';
import { prng } from './support/parse.ts';
import { plain, readReply } from './support/reply-reader.ts';

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends `data` on a fresh connection; collects the answer until close, until `replies` complete
 * replies have come when that many are expected, or else until a quiet spell.
 */
function exchange(port: number, data: Buffer, replies = 0, quietMs = 200): Promise<{ bytes: string; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(data);
      timer = setTimeout(finish, replies > 0 ? 5000 : quietMs);
    });
    let done = false;
    function finish(closed = false) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ bytes: Buffer.concat(chunks).toString('latin1'), closed });
    }
    sock.on('data', (d) => {
      chunks.push(d);
      if (replies > 0) {
        if (countReplies(Buffer.concat(chunks)) >= replies) finish();
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => {});
  });
}

function countReplies(buf: Buffer): number {
  let n = 0;
  for (let r = readReply(buf); r !== null; r = readReply(buf, r.end)) {
    n++;
    if (r.end >= buf.length) break;
  }
  return n;
}

/** Runs exchanges a few dozen at a time: our server shares this process with the clients. */
async function exchangeAll(
  port: number,
  inputs: readonly Buffer[],
  replies: (input: Buffer) => number = () => 0,
): Promise<{ bytes: string; closed: boolean }[]> {
  const out: { bytes: string; closed: boolean }[] = [];
  for (let i = 0; i < inputs.length; i += 40) {
    out.push(...(await Promise.all(inputs.slice(i, i + 40).map((d) => exchange(port, d, replies(d))))));
  }
  return out;
}

/** A probe starting with HELLO gets two replies, else one. */
const helloAware = (d: Buffer) => (d.subarray(0, 5).toString() === 'HELLO' ? 2 : 1);

/** Our server with just enough handlers to answer the probes as redis-server does. */
async function startOurs(authRequired: boolean): Promise<RespServer> {
  const router = new CommandRouter(
    handlerTable({
      ping: (conn, argv) => {
        if (conn.resp === 2 && conn.subscribed) return R.array([R.bulk('pong'), R.bulk(argv[1] ?? '')]);
        return argv.length > 1 ? R.bulk(argv[1]) : R.PONG;
      },
      echo: (_c, argv) => R.bulk(argv[1]),
      hello: (conn, argv) => {
        conn.resp = argv[1]?.toString() === '3' ? 3 : 2;
        return R.map([[R.bulk('proto'), R.int(conn.resp)]]);
      },
      subscribe: (conn, argv) =>
        R.many(
          argv.slice(1).map((ch) => {
            conn.channels.add(ch.toString('latin1'));
            return R.push([R.bulk('subscribe'), R.bulk(ch), R.int(conn.channels.size + conn.patterns.size)]);
          }),
        ),
      multi: (conn) => {
        if (conn.multi !== null) return R.error('ERR MULTI calls can not be nested');
        conn.multi = [];
        return R.OK;
      },
      exec: (conn) => {
        if (conn.multi === null) return R.error('ERR EXEC without MULTI');
        const dirty = conn.multiDirty;
        conn.multi = null;
        conn.multiDirty = false;
        return dirty ? R.error('EXECABORT Transaction discarded because of previous errors.') : R.EMPTY_ARRAY;
      },
      command: () => commandListReply(),
      'command|info': (_c, argv) => commandInfoListReply(argv.slice(2)),
      'command|docs': (_c, argv) => commandDocsListReply(argv.slice(2)),
    }),
  );
  const server = new RespServer({ dispatcher: router, authRequired: () => authRequired });
  await server.listen();
  return server;
}

const enabled = hasRedisServer();
if (!enabled) console.warn('redis-server not installed: skipping the redis-server comparison');

describe.skipIf(!enabled)('same bytes as redis-server 7', () => {
  let redis: RedisServer | undefined;
  let redisAuth: RedisServer | undefined;
  let redisCluster: RedisServer | undefined;
  let ours: RespServer;
  let oursAuth: RespServer;

  beforeAll(async () => {
    [redis, redisAuth, redisCluster, ours, oursAuth] = await Promise.all([
      RedisServer.start(),
      RedisServer.start(['--requirepass', 'sekret']),
      RedisServer.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']),
      startOurs(false),
      startOurs(true),
    ]);
  });

  afterAll(async () => {
    await Promise.all([redis?.stop(), redisAuth?.stop(), redisCluster?.stop(), ours?.close(), oursAuth?.close()]);
  });

  async function compare(inputs: readonly (string | Buffer)[], auth = false) {
    const theirs = auth ? redisAuth!.port : redis!.port;
    const mine = (auth ? oursAuth : ours).address().port;
    const data = inputs.map((s) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s));
    const [a, b] = await Promise.all([exchangeAll(theirs, data), exchangeAll(mine, data)]);
    // Guard against a vacuous pass: nearly every probe gets some answer from redis-server.
    expect(a.filter((r) => r.bytes.length > 0).length).toBeGreaterThanOrEqual(data.length / 2);
    for (let i = 0; i < data.length; i++) {
      expect(b[i], `input ${JSON.stringify(data[i].toString('latin1').slice(0, 300))}`).toEqual(a[i]);
    }
  }

  it('framing: valid, quirky and malformed requests', async () => {
    await compare([
      '*1\r\n$4\r\nPING\r\n',
      '*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n*1\r\n$4\r\nPING\r\n',
      '*0\r\n*-1\r\n*-5\r\nPING\r\n',
      '*1\rX$4\r\nPINGXX*1\r\n$4\r\nPING\r\n',
      '\r\n\n  \r\nPING\n',
      '$4\r\nPING\r\n',
      'ECHO "hello world"\r\nECHO \'it\\\'s\'\r\nECHO "\\x41\\n\\q\\"\\\\"\r\n',
      'ECHO a"b c"\r\nECHO a\x0bb\nECHO \x0ba\r\nECHO a\x0cb\r\nECHO a\rb\r\r\n',
      'ECHO a\tb\r\n',
      '*1\r\nX\r\n',
      '*1\r\n*4\r\n',
      '*1\r\n\r\nX',
      '*2\r\n$3\r\nGET\r\n\nX\r\n',
      '*2147483648\r\n',
      '*\r\n',
      '*-\r\n',
      '*01\r\n',
      '*1x\r\n',
      '*1\r\n$-1\r\n',
      '*1\r\n$+4\r\n',
      '*1\r\n$536870913\r\n',
      '*1\r\n$\r\n',
      'PING "a"b\r\n',
      'ECHO "a\r\n',
      "ECHO 'a\\'\r\n",
      '*1\r\n$4\r\nPING\r\n*1\r\n\xe9\r\n',
      `*${'1'.repeat(70_000)}`,
      `*1\r\n$${'1'.repeat(70_000)}`,
      `GET ${'k'.repeat(70_000)}`,
      'PI\0NG\r\n',
      '*1\r\n$4\r\nP\0NG\r\n',
    ]);
  });

  it('framing: mutated pipelines of PING and ECHO (seeded)', async () => {
    const rng = prng(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
    const specials = ['\r', '\n', '\0', '*', '$', ' ', '"', "'", '\\', '-', '0', '9', 'x'];
    const inputs: string[] = [];
    for (let i = 0; i < 120; i++) {
      let s = '';
      for (let j = 0; j < 1 + Math.floor(rng() * 4); j++) {
        const arg = Array.from({ length: Math.floor(rng() * 6) }, () => (rng() < 0.3 ? pick(specials) : 'a')).join('');
        s += rng() < 0.6 ? encodeRequest(['ECHO', Buffer.from(arg, 'latin1')]).toString('latin1') : `ECHO ${JSON.stringify(arg)}\r\n`;
      }
      const chars = [...s];
      for (let m = 0; m < 1 + Math.floor(rng() * 3); m++) {
        const at = Math.floor(rng() * chars.length);
        if (rng() < 0.5) chars[at] = pick(specials);
        else chars.splice(at, 1);
      }
      inputs.push(`${chars.join('')}\r\n*1\r\n$4\r\nPING\r\n`);
    }
    await compare(inputs);
  });

  it('unknown commands, unknown subcommands and arity errors, truncation included', async () => {
    const long = 'x'.repeat(150);
    const requests: (string | Buffer)[][] = [
      ['foo'],
      ['foo', 'a', 'b'],
      [long, long],
      ['foo', 'a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40), 'd'.repeat(40)],
      ['foo', 'a'.repeat(100), 'b'.repeat(100)],
      ['foo', 'a\r\nb', 'c\0d'],
      ['f\0oo', 'x'],
      ['client', 'nosuch'],
      ['CLIENT', 'Nosuch', 'x'],
      ['config', 'bogus'],
      ['client'],
      ['config'],
      ['cluster'],
      ['pubsub'],
    ];
    // Every table command with one argument too few or too many.
    for (const cmd of COMMANDS.values()) {
      if (cmd.arity === -1 || cmd.subcommandList.length > 0) continue;
      const words = cmd.name.split('|');
      const argc = cmd.arity > 0 ? cmd.arity + 1 : -cmd.arity - 1;
      if (argc < words.length) continue;
      requests.push([...words, ...Array.from({ length: argc - words.length }, (_, i) => `a${i}`)]);
    }
    await compare(requests.map((r) => encodeRequest(r)));
  });

  it('pre-AUTH limits and NOAUTH', async () => {
    await compare(['*11\r\n', '*10\r\n', '*1\r\n$16385\r\n', '*1\r\n$16384\r\n', 'GET a\r\n', 'PING\r\n'], true);
  });

  it('RESP2 subscribe mode and MULTI queueing errors', async () => {
    await compare([
      'SUBSCRIBE x y\r\nGET a\r\nCLIENT ID\r\nPING\r\nPING x\r\n',
      'MULTI\r\nFOO\r\nGET\r\nEXEC\r\n',
      'MULTI\r\nMULTI\r\nEXEC\r\nEXEC\r\n',
      'MULTI\r\nEXEC x\r\nEXEC\r\n',
      'SUBSCRIBE x\r\nEXEC\r\n',
    ]);
    await compare(['EXEC\r\n', 'MULTI\r\n'], true);
  });

  it('COMMAND INFO and COMMAND DOCS of every leaf command, in RESP2 and RESP3', async () => {
    const leaves = [...COMMANDS.values()].filter((c) => c.subcommandList.length === 0).map((c) => c.name);
    const requests: Buffer[] = [];
    for (const name of leaves) {
      for (const sub of ['INFO', 'DOCS']) {
        const req = encodeRequest(['COMMAND', sub, name]);
        requests.push(req, Buffer.concat([Buffer.from('HELLO 3\r\n'), req]));
      }
    }
    requests.push(encodeRequest(['COMMAND', 'INFO', 'nosuch', 'get']), encodeRequest(['COMMAND', 'DOCS', 'nosuch']));
    // The HELLO reply names the server version and connection id: compare what follows it.
    const strip = (r: { bytes: string; closed: boolean }) => {
      if (!r.bytes.startsWith('%')) return r;
      const first = readReply(Buffer.from(r.bytes, 'latin1'));
      return { ...r, bytes: r.bytes.slice(first?.end ?? 0) };
    };
    const [a, b] = await Promise.all([exchangeAll(redis!.port, requests, helloAware), exchangeAll(ours.address().port, requests, helloAware)]);
    for (let i = 0; i < requests.length; i++) {
      expect(strip(a[i]).bytes.length, requests[i].toString('latin1')).toBeGreaterThan(3);
      expect(strip(b[i]), requests[i].toString('latin1')).toEqual(strip(a[i]));
    }
  });

  it('COMMAND INFO and DOCS of containers: same entry, same subcommands (Redis orders them at random)', async () => {
    const containers = [...COMMANDS.values()].filter((c) => c.subcommandList.length > 0);
    const decode = (r: { bytes: string }): Reply => {
      const buf = Buffer.from(r.bytes, 'latin1');
      const hello = readReply(buf);
      return readReply(buf, hello?.end ?? 0)?.reply ?? R.NULL;
    };
    const items = (r: Reply): readonly Reply[] => (r.t === 'array' || r.t === 'set' ? r.v : []);
    const pairs = (r: Reply) => (r.t === 'map' ? r.v : []);
    for (const c of containers) {
      const reqs = ['INFO', 'DOCS'].map((s) => Buffer.concat([Buffer.from('HELLO 3\r\n'), encodeRequest(['COMMAND', s, c.name])]));
      const [theirInfo, theirDocs] = (await exchangeAll(redis!.port, reqs, helloAware)).map(decode);
      const [myInfo, myDocs] = (await exchangeAll(ours.address().port, reqs, helloAware)).map(decode);
      const [theirEntry, myEntry] = [items(theirInfo)[0], items(myInfo)[0]];
      expect(items(myEntry).slice(0, 9), c.name).toEqual(items(theirEntry).slice(0, 9));
      const theirSubs = new Map(items(items(theirEntry)[9]).map((s) => [plain(items(s)[0]), s]));
      for (const s of items(items(myEntry)[9])) expect(s, c.name).toEqual(theirSubs.get(plain(items(s)[0])));

      const [theirDoc, myDoc] = [pairs(theirDocs)[0][1], pairs(myDocs)[0][1]];
      const fields = (d: Reply) => pairs(d).filter(([k]) => plain(k) !== 'subcommands');
      expect(fields(myDoc), c.name).toEqual(fields(theirDoc));
      const subDocs = (d: Reply) => new Map(pairs(pairs(d).find(([k]) => plain(k) === 'subcommands')?.[1] ?? R.NULL).map(([k, v]) => [plain(k), v]));
      const theirSubDocs = subDocs(theirDoc);
      const mySubDocs = subDocs(myDoc);
      expect(mySubDocs.size).toBe(c.subcommandList.length);
      for (const [name, doc] of mySubDocs) expect(doc, String(name)).toEqual(theirSubDocs.get(name));
    }
  });

  it('shared error texts for handlers are the ones redis-server answers', async () => {
    const cases: [string[], Reply][] = [
      [['GET', 'lst'], ERRORS.WRONGTYPE],
      [['SET', 'a', 'b', 'XX', 'NX'], ERRORS.SYNTAX],
      [['INCRBY', 'a', 'x'], ERRORS.NOT_INTEGER],
      [['INCR', 'max'], ERRORS.OVERFLOW],
      [['DECRBY', 'max', '-9223372036854775808'], ERRORS.DECREMENT_OVERFLOW],
      [['INCRBYFLOAT', 'a', 'x'], ERRORS.NOT_FLOAT],
      [['SET', 'a', 'b', 'EX', '0'], invalidExpireTime('set')],
      [['SETEX', 'a', '0', 'b'], invalidExpireTime('setex')],
      [['SELECT', '16'], ERRORS.DB_INDEX],
      [['SCAN', 'x'], ERRORS.INVALID_CURSOR],
      [['EXPIRE', 'a', '10', 'NX', 'XX'], ERRORS.EXPIRE_NX_XX],
      [['EXPIRE', 'a', '10', 'GT', 'LT'], ERRORS.EXPIRE_GT_LT],
      [['HELLO', '4'], ERRORS.NOPROTO],
      [['HELLO', 'x'], ERRORS.PROTO_NOT_INTEGER],
      [['CLIENT', 'SETNAME', 'a b'], ERRORS.CLIENT_NAME],
      [['CONFIG', 'SET', 'nosuch', '1'], unknownConfigOption('nosuch')],
      [['AUTH', 'a'], ERRORS.AUTH_NOT_CONFIGURED],
      [['EXEC'], ERRORS.EXEC_WITHOUT_MULTI],
      [['DISCARD'], ERRORS.DISCARD_WITHOUT_MULTI],
    ];
    const setup = [encodeRequest(['LPUSH', 'lst', 'a']), encodeRequest(['SET', 'max', '9223372036854775807'])];
    const req = Buffer.concat([...setup, ...cases.map(([args]) => encodeRequest(args))]);
    const { bytes } = await exchange(redis!.port, req, cases.length + 2);
    const expected = [':1\r\n', '+OK\r\n', ...cases.map(([, reply]) => encodeReply(reply, 2).toString('latin1'))].join('');
    expect(bytes).toBe(expected);
    const multi = await exchange(redis!.port, Buffer.from('MULTI\r\nMULTI\r\nWATCH a\r\nFOO\r\nEXEC\r\n'), 5);
    expect(multi.bytes).toContain(encodeReply(ERRORS.MULTI_NESTED, 2).toString());
    expect(multi.bytes).toContain(encodeReply(ERRORS.WATCH_IN_MULTI, 2).toString());
    expect(multi.bytes).toContain(encodeReply(ERRORS.EXECABORT, 2).toString());
    const oom = await exchange(redis!.port, Buffer.from('CONFIG SET maxmemory 1\r\nSET x y\r\nCONFIG SET maxmemory 0\r\n'), 3);
    expect(oom.bytes).toBe(encodeReplies([R.OK, ERRORS.OOM, R.OK], 2).toString());
    const auth = await exchange(redisAuth!.port, Buffer.from('AUTH wrong\r\nGET a\r\n'), 2);
    expect(auth.bytes).toBe(encodeReplies([ERRORS.WRONGPASS, ERRORS.NOAUTH], 2).toString());
  });

  it('key slots equal CLUSTER KEYSLOT', async () => {
    const rng = prng(11);
    const keys = ['', 'foo', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}', '{', '}{'];
    for (let i = 0; i < 150; i++) {
      keys.push(Array.from({ length: Math.floor(rng() * 12) }, () => 'ab{}c\xff\x00'[Math.floor(rng() * 7)]).join(''));
    }
    const req = Buffer.concat(keys.map((k) => encodeRequest(['CLUSTER', 'KEYSLOT', Buffer.from(k, 'latin1')])));
    const { bytes } = await exchange(redisCluster!.port, req, keys.length);
    const slots = bytes
      .split('\r\n')
      .filter((l) => l.startsWith(':'))
      .map((l) => Number(l.slice(1)));
    expect(slots).toEqual(keys.map((k) => keyHashSlot(Buffer.from(k, 'latin1'))));
  });
});
