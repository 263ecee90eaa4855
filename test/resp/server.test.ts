/**
 * The RESP server on a real loopback socket, with toy dispatchers: ordering of asynchronous
 * replies, protocol errors, maxclients, inline commands, RESP3, pushes, QUIT, backpressure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientConn } from '../../src/resp/conn.ts';
import { CommandError } from '../../src/resp/errors.ts';
import { R, type Reply } from '../../src/resp/reply.ts';
import { type Answer, type Dispatcher, RespServer, type RespServerOptions } from '../../src/resp/server.ts';
import { RawClient } from './support/client.ts';
import { plain } from './support/reply-reader.ts';

const servers: RespServer[] = [];
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(dispatcher: Dispatcher, opts: Partial<RespServerOptions> = {}) {
  const server = new RespServer({ dispatcher, ...opts });
  servers.push(server);
  const { port } = await server.listen();
  const connect = async () => {
    const c = await RawClient.connect(port);
    clients.push(c);
    return c;
  };
  return { server, port, connect };
}

const NO_LIMIT = { hard: 0, soft: 0, softSeconds: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const str = (b: Buffer | undefined) => b?.toString('latin1') ?? '';

/**
 * `SLOW ms value` answers value after ms; `DEFER ms value` the same through `conn.defer()`
 * (`DEFER 0` settles before returning); `GROUP value` joins a group that one timer settles
 * together 20 ms after its first member; `FAST value` at once; `HELLO 3` switches to RESP3;
 * `NIL` answers null; `BOOM` throws; `DENY` throws a CommandError; `BIG n` answers n bytes.
 */
function toyDispatcher(log: string[] = []): Dispatcher {
  let group: (() => void)[] = [];
  return {
    dispatch(conn: ClientConn, argv: Buffer[]): Answer {
      const name = str(argv[0]).toUpperCase();
      log.push(argv.map(str).join(' '));
      switch (name) {
        case 'SLOW':
          return sleep(Number(str(argv[1]))).then(() => R.bulk(str(argv[2])));
        case 'DEFER': {
          const d = conn.defer();
          const ms = Number(str(argv[1]));
          const reply = R.bulk(str(argv[2]));
          if (ms === 0) d.settle(reply);
          else setTimeout(() => d.settle(reply), ms);
          return d;
        }
        case 'GROUP': {
          const d = conn.defer();
          const reply = R.bulk(str(argv[1]));
          if (group.length === 0) {
            setTimeout(() => {
              const members = group;
              group = [];
              for (const settle of members) settle();
            }, 20);
          }
          group.push(() => d.settle(reply));
          return d;
        }
        case 'FAST':
        case 'ECHO':
          return R.bulk(argv[1]);
        case 'PING':
          return R.PONG;
        case 'HELLO':
          conn.resp = Number(str(argv[1])) === 3 ? 3 : 2;
          return R.map([[R.bulk('proto'), R.int(conn.resp)]]);
        case 'NIL':
          return R.NULL;
        case 'BOOM':
          throw new Error('handler bug');
        case 'DENY':
          throw new CommandError('WRONGTYPE Operation against a key holding the wrong kind of value');
        case 'BIG':
          return R.bulk(Buffer.alloc(Number(str(argv[1])), 0x62));
        case 'QUIT':
          conn.closeAfterReply();
          return R.OK;
        default:
          return R.error(`ERR unknown command '${str(argv[0])}'`);
      }
    },
  };
}

describe('pipelining', () => {
  it('replies in request order even when handlers finish out of order', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    c.send('SLOW 60 a\r\nFAST b\r\nSLOW 5 c\r\nSLOW 30 d\r\nFAST e\r\n');
    expect((await c.read(5)).map(plain)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps order with deferred replies, settled late, early or before the handler returned', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    c.send('DEFER 50 a\r\nFAST b\r\nDEFER 0 c\r\nSLOW 10 d\r\nDEFER 5 e\r\nDEFER 30 f\r\nFAST g\r\n');
    expect((await c.read(7)).map(plain)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    c.send('DEFER 0 h\r\nFAST i\r\n');
    expect((await c.read(2)).map(plain)).toEqual(['h', 'i']);
  });

  it('writes deferred replies settled in one turn with one socket write', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    let req = '';
    for (let i = 0; i < 50; i++) req += `GROUP v${i}\r\n`;
    c.send(req);
    const replies = await c.read(50);
    expect(replies.map(plain)).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    expect(c.chunks).toBe(1);
  });

  it('dispatches later requests while an earlier one waits', async () => {
    const log: string[] = [];
    const { connect } = await start(toyDispatcher(log));
    const c = await connect();
    c.send('SLOW 80 a\r\nFAST b\r\n');
    await sleep(30);
    expect(log).toEqual(['SLOW 80 a', 'FAST b']);
    expect(c.unread).toBe(0);
    expect((await c.read(2)).map(plain)).toEqual(['a', 'b']);
  });

  it('keeps order across many interleaved async and sync replies', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    let req = '';
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      req += i % 3 === 0 ? `SLOW ${(i * 7) % 20} v${i}\r\n` : `FAST v${i}\r\n`;
      want.push(`v${i}`);
    }
    c.send(req);
    expect((await c.read(300, 5000)).map(plain)).toEqual(want);
  });

  it('turns handler exceptions into error replies and keeps the connection', async () => {
    const errors: unknown[] = [];
    const { connect } = await start(toyDispatcher(), { onError: (e) => errors.push(e) });
    const c = await connect();
    c.send('BOOM\r\nDENY\r\nPING\r\n');
    expect((await c.read(3)).map(plain)).toEqual([
      { error: 'ERR internal error' },
      { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
      'PONG',
    ]);
    expect(errors).toHaveLength(1);
  });
});

describe('protocol errors', () => {
  it('answer -ERR Protocol error and close only that connection', async () => {
    const { connect, server } = await start(toyDispatcher());
    const bad = await connect();
    const good = await connect();
    bad.send('*1\r\n$4\r\nPING\r\n*1\r\nX\r\n*1\r\n$4\r\nPING\r\n');
    expect((await bad.read(2)).map(plain)).toEqual(['PONG', { error: "ERR Protocol error: expected '$', got 'X'" }]);
    await bad.waitClosed();
    expect(plain(await good.call('PING'))).toBe('PONG');
    expect(server.clientCount).toBe(1);
  });

  it('deliver replies still owed before the error, then close', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    c.send('SLOW 50 committed\r\n*1\r\n$-1\r\n');
    expect((await c.read(2)).map(plain)).toEqual(['committed', { error: 'ERR Protocol error: invalid bulk length' }]);
    await c.waitClosed();
  });

  it('blank CR/LF in the reported byte, as Redis does', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    c.send('*1\r\n\r\nX');
    const [r] = await c.read(1);
    expect(plain(r)).toEqual({ error: "ERR Protocol error: expected '$', got ' '" });
  });

  it('a client over the query buffer limit is dropped without a reply', async () => {
    const { connect } = await start(toyDispatcher(), { limits: { queryBufferLimit: 1000 } });
    const c = await connect();
    c.send(`*2\r\n$4\r\nECHO\r\n$5000\r\n${'x'.repeat(2000)}`);
    await c.waitClosed();
    expect(c.unread).toBe(0);
  });
});

describe('connections', () => {
  it('refuses clients past maxclients with Redis text, and accepts again after one leaves', async () => {
    const { connect, server } = await start(toyDispatcher(), { maxClients: 2 });
    const a = await connect();
    await connect();
    const third = await connect();
    expect((await third.read(1)).map(plain)).toEqual([{ error: 'ERR max number of clients reached' }]);
    await third.waitClosed();
    expect(server.stats.rejectedConnections).toBe(1);
    a.close();
    await sleep(50);
    const fourth = await connect();
    expect(plain(await fourth.call('PING'))).toBe('PONG');
  });

  it('speaks inline commands, as telnet sends them', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    c.send("PING\r\nECHO \"hello world\"\nECHO 'it\\'s'\r\n\r\n");
    expect((await c.read(3)).map(plain)).toEqual(['PONG', 'hello world', "it's"]);
  });

  it('switches to RESP3 from the HELLO reply on, never before', async () => {
    const { connect } = await start(toyDispatcher());
    const c = await connect();
    c.send('SLOW 40 x\r\nNIL\r\nHELLO 3\r\nNIL\r\n');
    const replies = await c.read(4);
    expect(replies.map((r) => r.t)).toEqual(['bulk', 'null', 'map', 'null']);
    c.send('NIL\r\n');
    await c.read(1);
    // RESP2 null is $-1, RESP3 null is _: check the bytes the raw socket saw via a fresh pair.
    const c2 = await connect();
    const seen: Buffer[] = [];
    c2.socket.on('data', (d) => seen.push(d));
    c2.send('NIL\r\nHELLO 3\r\nNIL\r\n');
    await c2.read(3);
    expect(Buffer.concat(seen).toString()).toBe('$-1\r\n%1\r\n$5\r\nproto\r\n:3\r\n_\r\n');
  });

  it('QUIT answers OK, runs nothing after it, and closes', async () => {
    const log: string[] = [];
    const { connect } = await start(toyDispatcher(log));
    const c = await connect();
    c.send('FAST a\r\nQUIT\r\nFAST b\r\n');
    expect((await c.read(2)).map(plain)).toEqual(['a', 'OK']);
    await c.waitClosed();
    expect(log).toEqual(['FAST a', 'QUIT']);
  });

  it('pushes out of band after the replies already owed', async () => {
    let subscriber: ClientConn | null = null;
    const d = toyDispatcher();
    const { connect } = await start({
      dispatch: (conn, argv) => {
        if (str(argv[0]) === 'SUB') {
          subscriber = conn;
          conn.channels.add('ch');
          return R.push([R.bulk('subscribe'), R.bulk('ch'), R.int(1)]);
        }
        return d.dispatch(conn, argv);
      },
    });
    const c = await connect();
    c.send('SLOW 60 owed\r\nSUB\r\n');
    await sleep(20);
    subscriber!.push(R.push([R.bulk('message'), R.bulk('ch'), R.bulk('hi')]));
    expect((await c.read(3)).map(plain)).toEqual(['owed', ['subscribe', 'ch', 1], ['message', 'ch', 'hi']]);
    subscriber!.push(R.push([R.bulk('message'), R.bulk('ch'), R.bulk('again')]));
    expect((await c.read(1)).map(plain)).toEqual([['message', 'ch', 'again']]);
  });

  it('tells the dispatcher about connects and disconnects', async () => {
    const events: string[] = [];
    const d = toyDispatcher();
    const { connect } = await start({
      dispatch: d.dispatch,
      connected: (c) => events.push(`+${c.id}`),
      disconnected: (c) => events.push(`-${c.id}`),
    });
    const c = await connect();
    await c.call('PING');
    c.close();
    await sleep(50);
    expect(events).toEqual(['+1', '-1']);
  });

  it('describes a connection in CLIENT LIST format', async () => {
    const { connect } = await start({
      dispatch: (conn) => {
        conn.name = 'worker';
        return R.verbatim(`${conn.info(conn.lastInteraction)}\n`);
      },
    });
    const c = await connect();
    const line = String(plain(await c.call('CLIENT', 'INFO')));
    expect(line).toMatch(
      /^id=1 addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name=worker age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 .* cmd=NULL user=default redir=-1 resp=2\n$/,
    );
  });
});

describe('backpressure', () => {
  it('stops reading from a client that does not read its replies, and resumes when it does', async () => {
    const log: string[] = [];
    const { connect } = await start(toyDispatcher(log), { outputHighWater: 64 * 1024 });
    const c = await connect();
    c.socket.pause();
    c.send('BIG 100000\r\n'.repeat(400));
    await sleep(300);
    // 40MB were asked for; the server stopped once the kernel's socket buffers (a few MB on
    // loopback) and then ~64KB of its own were full.
    expect(log.length).toBeGreaterThan(0);
    expect(log.length).toBeLessThan(200);
    c.socket.resume();
    const replies = await c.read(400, 20_000);
    expect(replies.every((r) => r.t === 'bulk' && r.v.length === 100000)).toBe(true);
    expect(log).toHaveLength(400);
  });

  it('caps the requests in flight per connection', async () => {
    const release: (() => void)[] = [];
    let dispatched = 0;
    const { connect } = await start(
      {
        dispatch: (_conn, argv) => {
          dispatched++;
          return new Promise<Reply>((resolve) => release.push(() => resolve(R.bulk(argv[1]))));
        },
      },
      { maxInFlight: 4 },
    );
    const c = await connect();
    c.send(Array.from({ length: 10 }, (_, i) => `W ${i}\r\n`).join(''));
    await sleep(50);
    expect(dispatched).toBe(4);
    while (dispatched < 10 || release.length > 0) {
      release.shift()?.();
      await sleep(5);
    }
    expect((await c.read(10)).map(plain)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
  });

  it('closes a subscriber that lets its output pile up past the pub/sub limit', async () => {
    let sub: ClientConn | null = null;
    const { connect } = await start(
      {
        dispatch: (conn) => {
          sub = conn;
          conn.channels.add('ch');
          return R.OK;
        },
      },
      { outputLimits: { normal: NO_LIMIT, slave: NO_LIMIT, pubsub: { hard: 256 * 1024, soft: 0, softSeconds: 0 } } },
    );
    const c = await connect();
    await c.call('SUBSCRIBE', 'ch');
    c.socket.pause();
    const payload = Buffer.alloc(64 * 1024, 0x6d);
    for (let i = 0; i < 200 && !c.closed; i++) {
      sub!.push(R.push([R.bulk('message'), R.bulk('ch'), R.bulk(payload)]));
      await sleep(1);
    }
    c.socket.resume();
    await c.waitClosed(5000);
  });
});

describe('shutdown', () => {
  it('close() lets connections finish owed replies, then resolves', async () => {
    const { connect, server } = await start(toyDispatcher());
    const c = await connect();
    c.send('SLOW 50 last\r\n');
    await sleep(10);
    const closing = server.close();
    expect((await c.read(1)).map(plain)).toEqual(['last']);
    await closing;
    await c.waitClosed();
  });
});
