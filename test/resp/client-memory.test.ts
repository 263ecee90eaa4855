/**
 * Client memory accounting and limits of the RESP server on real loopback sockets, with toy
 * dispatchers: what CLIENT INFO reports while a client holds memory (argv-mem, qbuf, omem),
 * the output mark past which a client that does not read is no longer served,
 * client-output-buffer-limit's soft limit, maxmemory-clients and the idle `timeout`.
 * The same attacks against a real node process are in test/resp-node/client-memory.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientConn } from '../../src/resp/conn.ts';
import { ARG_OVERHEAD } from '../../src/resp/parser.ts';
import { R } from '../../src/resp/reply.ts';
import { type Answer, type Dispatcher, RespServer, type RespServerOptions } from '../../src/resp/server.ts';
import { RawClient } from './support/client.ts';
import { plain } from './support/reply-reader.ts';

const servers: RespServer[] = [];
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const NO_LIMIT = { hard: 0, soft: 0, softSeconds: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const str = (b: Buffer | undefined) => b?.toString('latin1') ?? '';

/** Field `name` of a CLIENT INFO line, as a number. */
function field(line: string, name: string): number {
  const m = new RegExp(`(?:^| )${name}=(-?\\d+)`).exec(line);
  if (!m) throw new Error(`no ${name} in ${line}`);
  return Number(m[1]);
}

/** One stored 100 KB value, as the keyspace holds it (a binary string). */
const STORED = 'v'.repeat(100_000);

/**
 * `GET` answers STORED later through a deferred reply, as the node's batched reads do;
 * `SLOW ms` answers after ms; `SUB` subscribes; `NOEVICT` sets CLIENT NO-EVICT; `PING`.
 */
function dispatcher(seen: ClientConn[]): Dispatcher {
  return {
    dispatch(conn: ClientConn, argv: Buffer[]): Answer {
      if (!seen.includes(conn)) seen.push(conn);
      switch (str(argv[0]).toUpperCase()) {
        case 'GET': {
          const d = conn.defer();
          queueMicrotask(() => d.settle(R.binary(STORED)));
          return d;
        }
        case 'SLOW':
          return sleep(Number(str(argv[1]))).then(() => R.OK);
        case 'SUB':
          conn.channels.add('ch');
          return R.OK;
        case 'NOEVICT':
          conn.noEvict = true;
          return R.OK;
        default:
          return R.PONG;
      }
    },
  };
}

async function start(opts: Partial<RespServerOptions> = {}) {
  const seen: ClientConn[] = [];
  const server = new RespServer({ dispatcher: dispatcher(seen), ...opts });
  servers.push(server);
  const { port } = await server.listen();
  const connect = async () => {
    const c = await RawClient.connect(port);
    clients.push(c);
    return c;
  };
  const infoOf = (i: number) => seen[i].info(Date.now());
  return { server, connect, seen, infoOf };
}

describe('a client that does not read', () => {
  it('is not served past the output mark: it owes at most the mark plus one reply, and gets every reply once it reads', async () => {
    const mark = 256 * 1024;
    const { connect, infoOf } = await start({ outputHighWater: mark });
    const c = await connect();
    c.socket.pause();
    c.send('GET\r\n'.repeat(1000));
    await sleep(300);
    // 100 MB were asked for: the kernel's socket buffers took a few MB, the server owes the
    // rest as waiting replies that share the stored string (no copies) and a mark's worth of bytes.
    const line = infoOf(0);
    expect(field(line, 'omem')).toBeLessThanOrEqual(mark + 100_100 + 1000 * 16);
    expect(field(line, 'oll')).toBeGreaterThan(500);
    expect(field(line, 'tot-mem')).toBe(field(line, 'qbuf') + field(line, 'argv-mem') + field(line, 'multi-mem') + field(line, 'omem'));
    c.socket.resume();
    const replies = await c.read(1000, 30_000);
    expect(replies.every((r) => r.t === 'bulk' && r.v.length === 100_000 && r.v.toString('latin1') === STORED)).toBe(true);
  });

  it('is closed once above the soft output limit for its seconds (client-output-buffer-limit normal)', async () => {
    const { connect, infoOf, server } = await start({
      // The mark lets it owe more than the soft limit.
      outputHighWater: 512 * 1024,
      outputLimits: { normal: { hard: 0, soft: 128 * 1024, softSeconds: 1 }, slave: NO_LIMIT, pubsub: NO_LIMIT },
    });
    const c = await connect();
    c.socket.pause();
    c.send('GET\r\n'.repeat(1000));
    await sleep(500);
    expect(field(infoOf(0), 'omem')).toBeGreaterThan(128 * 1024);
    expect(server.clientCount).toBe(1);
    await sleep(1000);
    expect(server.clientCount).toBe(0);
    c.socket.resume();
    await c.waitClosed(3000);
    expect(c.unread).toBeLessThan(1000);
  });
});

describe('query buffer and argv-mem', () => {
  it('counts a flood of empty arguments in argv-mem while the request is open, and closes at the limit', async () => {
    const { connect, infoOf, seen } = await start({ queryBufferLimit: 4 * 1024 * 1024 });
    const c = await connect();
    c.send('PING\r\n');
    await c.read(1);
    c.send(`*2147483647\r\n${'$0\r\n\r\n'.repeat(10_000)}`);
    await sleep(100);
    const line = infoOf(0);
    expect(field(line, 'argv-mem')).toBe(10_000 * ARG_OVERHEAD);
    expect(field(line, 'tot-mem')).toBeGreaterThanOrEqual(10_000 * ARG_OVERHEAD);
    expect(seen).toHaveLength(1);
    // 4 MiB / 128 bytes: about 33k arguments, then the connection is dropped.
    c.send('$0\r\n\r\n'.repeat(30_000));
    await c.waitClosed(3000);
  });

  it('refuses a count that cannot fit one request at once', async () => {
    const { connect } = await start({ limits: { maxRequestBytes: 8 * 1024 * 1024 } });
    const c = await connect();
    c.send('*2147483647\r\n');
    expect((await c.read(1)).map(plain)).toEqual([{ error: 'ERR Protocol error: invalid multibulk length' }]);
    await c.waitClosed();
  });
});

describe('maxmemory-clients', () => {
  it('closes the biggest clients until the total is under the limit, sparing CLIENT NO-EVICT ones', async () => {
    const { connect, server } = await start({ maxMemoryClients: 3 * 1024 * 1024 });
    const small = await connect();
    await small.call('PING');
    const exempt = await connect();
    await exempt.call('NOEVICT');
    const big = await connect();
    await big.call('PING');
    const partial = (mib: number) => `*2\r\n$3\r\nSET\r\n$${mib * 2 * 1024 * 1024}\r\n${'x'.repeat(mib * 1024 * 1024)}`;
    exempt.send(partial(3));
    big.send(partial(2));
    await big.waitClosed(2000);
    await sleep(300);
    expect(small.closed).toBe(false);
    expect(exempt.closed).toBe(false);
    expect(server.cron.evictedClients).toBe(1);
    expect(server.cron.totalMemory).toBeGreaterThanOrEqual(3 * 1024 * 1024);
  });
});

describe('timeout', () => {
  it('closes idle clients, but not subscribers nor clients waiting for a reply', async () => {
    const { connect } = await start({ timeout: 1 });
    const idle = await connect();
    await idle.call('PING');
    const sub = await connect();
    await sub.call('SUB');
    const waiting = await connect();
    waiting.send('SLOW 2500\r\n');
    await idle.waitClosed(2600);
    expect(sub.closed).toBe(false);
    expect(waiting.closed).toBe(false);
    expect((await waiting.read(1, 3000)).map(plain)).toEqual(['OK']);
  });

  it('never closes anyone with timeout 0', async () => {
    const { connect } = await start({ timeout: 0 });
    const c = await connect();
    await c.call('PING');
    await sleep(1500);
    expect(c.closed).toBe(false);
  });
});
